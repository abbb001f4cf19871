"""The output guard for a Delta table (contract ``format: delta``): one judgement per table version.

The trigger is the version's commit blob ``<table>/_delta_log/<20-digit version>.json``: a Delta writer
puts it last, atomically, after every data file of the version, so it marks a complete batch. The
version is profiled from that commit's ``add`` statistics (``core.delta_profile``); data files are read
(through the profiler port, as Parquet) only for the checks statistics cannot answer. Every other blob
of the table (data files, ``*.crc``, checkpoints, ``_last_checkpoint``) is skipped with a reason.

The batch key is the version, ``v00000000000000000003`` (prefixed by the table's folder under the
output prefix when the table is not at the prefix itself): the verdict, report and history record are
per version, like a partition folder's for files.
"""

from __future__ import annotations

import time
from datetime import datetime

from shared.core import delta_log, delta_profile
from shared.core.delta_log import AddedFile
from shared.core.profile import Profile
from shared.core.spec import Contract, DatasetSpec, OutputSpec
from shared.errors import NotFound
from shared.services import output_guard
from shared.services.deps import Deps
from shared.services.ledgers import Ledgers
from shared.services.ledgers.receipts import Receipt


def skip_reason(out: OutputSpec, name: str) -> str:
    """Why a blob of a Delta output is not judged on its own; "" for a commit file (a version)."""
    relative = name[len(out.base):]
    if relative.startswith(out.reports_prefix.strip("/") + "/"):
        return "a validation report"
    if delta_log.commit_version(name) is not None:
        return ""
    if "_delta_log/" in name:
        return "Delta log bookkeeping (checksum, checkpoint or _last_checkpoint), not a version"
    return "a data file of a Delta table: judged with the commit of its version"


def batch_key(out: OutputSpec, name: str) -> str:
    version = delta_log.commit_version(name)
    root = delta_log.table_root(name)[len(out.base):]
    return f"{root}v{version:020d}" if version is not None else ""


def validate_version(deps: Deps, ds: DatasetSpec, out: OutputSpec, container: str, name: str,
                     now: datetime) -> output_guard.GuardOutcome:
    """Gather (commit, receipt, version profile, history) → judge → apply, as ``validate_blob`` does."""
    outcome = output_guard.GuardOutcome(name, ds.name, batch=batch_key(out, name))
    if reason := skip_reason(out, name):
        outcome.reason = reason
        return outcome
    version = delta_log.commit_version(name)
    assert version is not None
    root = delta_log.table_root(name)
    ledgers = Ledgers.of(deps)
    info = deps.data.get_blob_info(container, name)
    receipt = ledgers.receipts.find(ds.name, name)
    if receipt is not None and receipt.blob_etag == info.etag:
        outcome.duplicate, outcome.status, outcome.report_blob = True, receipt.status, receipt.report
        return outcome
    profiler = deps.profiler
    assert profiler is not None, "the output guard needs a profiler"

    def profile_file(add: AddedFile, contract: Contract) -> Profile:
        if "://" in add.path:            # a shallow clone's absolute path: outside this container
            return delta_profile.unreadable_version(f"data file {add.path} is outside the table's container",
                                                    add.size)
        return profiler.profile(container, root + add.path, contract, size=add.size)

    started = time.perf_counter()
    def read(log_name: str) -> bytes | None:
        try:
            return deps.data.read_bytes(container, log_name)
        except NotFound:
            return None

    profile, commit, _ = delta_profile.read_version(read, root, version, out.contract, profile_file)
    if commit is not None and not commit.data_adds:
        outcome.reason = (f"version {version} adds no data ({commit.operation or 'no operation named'}, "
                          f"{len(commit.removes)} files removed)")
        # Receipted as nothing to judge, so the breaker does not wait for a verdict that never comes.
        ledgers.receipts.upsert(Receipt(ds.name, name, info.etag, "pass", "", now))
        return outcome
    return output_guard.apply_profile(deps, ds, out, outcome, info, profile, started, now, batched=False)

