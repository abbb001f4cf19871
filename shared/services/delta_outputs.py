"""The breaker's view of a Delta output (``format: delta``): a run's outputs are the table versions
it committed, each judged by the Delta guard on its commit blob (its receipt says how)."""

from __future__ import annotations

from datetime import datetime

from shared.core import batch_outputs, delta_log
from shared.core.spec import DatasetSpec
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers


def outputs_seen(deps: Deps, ds: DatasetSpec, since: datetime) -> batch_outputs.OutputsSeen:
    """The breaker's view of a Delta output: the versions committed since the run started (the table's
    ``_delta_log/`` at the output prefix), and the status of those judged (a version that adds no data
    counts as passed)."""
    out = ds.output
    assert out is not None
    ledgers = Ledgers.of(deps)
    commits, judged, newest = [], {}, None
    for blob in deps.data.list_blobs(out.container, f"{out.base}_delta_log/"):
        if delta_log.commit_version(blob.name) is None or blob.last_modified < since:
            continue
        commits.append(blob.name)
        newest = blob.last_modified if newest is None or blob.last_modified > newest else newest
        receipt = ledgers.receipts.find(ds.name, blob.name)
        if receipt is not None and receipt.blob_etag == blob.etag:
            judged[blob.name] = receipt.status
    return batch_outputs.OutputsSeen(tuple(sorted(commits)), judged, None, False, newest)
