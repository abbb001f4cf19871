"""The benchmark's baseline: the same output guard behind a plain ``func.InputStream`` blob binding.

This is how ``functions/output_guard.py`` bound the trigger before the SDK-type binding: the host
downloads the whole blob and sends its bytes to the worker, then the guard reads the blob again.
Never deployed; ``bench.guard_large_blob`` runs it side by side with ``function_app``.
"""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp()


@app.function_name("output_guard")
@app.blob_trigger(arg_name="blob", path="%OUTPUT_CONTAINER%/{name}", connection="DATA_STORAGE")
def output_guard(blob: func.InputStream) -> None:
    from shared import bootstrap
    from shared.services import output_guard

    deps = bootstrap.get_deps()
    container, _, name = (blob.name or "").partition("/")
    output_guard.validate_blob(deps, container, name, deps.clock.now())
