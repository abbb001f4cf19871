"""The Functions app: one Blueprint per module in functions/. No I/O and nothing heavy at import."""

import azure.functions as func

from functions import alert_dispatcher, feedback, followups, output_guard, pipeline_events, status, upstream_watcher

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for module in (upstream_watcher, output_guard, pipeline_events, alert_dispatcher, followups, status, feedback):
    app.register_functions(module.bp)
