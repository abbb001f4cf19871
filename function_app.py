"""The Functions app: one Blueprint per module in functions/. No I/O and nothing heavy at import."""

import azure.functions as func

from functions import output_guard, upstream_watcher

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(upstream_watcher.bp)
app.register_functions(output_guard.bp)
