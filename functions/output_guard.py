"""Blob trigger: validate every output file; a file that keeps failing lands in the poison queue.

The trigger binds an SDK type (``BlobClient``): the host sends only a reference (container and name),
never the blob's content, so an output of any size reaches the guard, which streams it once through
the storage adapter. A plain ``func.InputStream`` would make the host load the whole blob into memory
and pass it over gRPC (Azure/azure-functions-python-worker #1449, #1486).
"""

from __future__ import annotations

import logging

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob_types

log = logging.getLogger(__name__)
bp = func.Blueprint()


@bp.function_name("output_guard")
@bp.blob_trigger(arg_name="blob", path="%OUTPUT_CONTAINER%/{name}", connection="DATA_STORAGE",
                 source=func.BlobSource.EVENT_GRID)
def output_guard(blob: blob_types.BlobClient) -> None:
    from shared import bootstrap
    from shared.services import output_guard as service

    deps = bootstrap.get_deps()
    # Only the reference is used: reads go through the app's storage adapter (its identity, retries).
    container, name = blob.container_name, blob.blob_name
    outcome = service.validate_blob(deps, container, name, deps.clock.now())
    fields = {"dataset": outcome.dataset, "batch": outcome.batch, "file": name, "status": outcome.status,
              "codes": ",".join(outcome.codes), "duplicate": outcome.duplicate, "reason": outcome.reason,
              "alerts": ",".join(outcome.alerts)}
    # Empty fields are left out: the console and customDimensions show only what says something. A
    # dataset's own report or marker file is skipped on purpose: that is debug, not news.
    log.log(logging.DEBUG if outcome.status == "skipped" and outcome.dataset else logging.INFO,
            "output validated", extra={k: v for k, v in fields.items() if v not in ("", False)})


@bp.function_name("output_guard_poison")
@bp.queue_trigger(arg_name="message", queue_name="webjobs-blobtrigger-poison", connection="AzureWebJobsStorage")
def output_guard_poison(message: func.QueueMessage) -> None:
    from shared import bootstrap
    from shared.services import output_guard as service

    deps = bootstrap.get_deps()
    service.report_poison(deps, message.get_body().decode("utf-8", "replace"), deps.clock.now())
