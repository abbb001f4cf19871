"""Streaming profilers: one pass over a data file (CSV, gzip CSV, JSON Lines, Parquet) → a ``Profile``.

Memory is bounded by the reader's block size, never by the file. The source is a path or any seekable
binary file-like object (``read``, ``seek``, ``tell``) — in Azure, a ranged-read blob stream. Anything
wrong with the data comes back as findings inside the profile; only a failing *source* (the storage
read itself) raises.
"""

from __future__ import annotations

import io
import os

from shared.adapters import profilers_csv
from shared.adapters.profilers_io import Limits, Progress, Source, capture_unraisable, unreadable
from shared.core.profile import Profile
from shared.core.spec import Contract

__all__ = ["FORMATS", "Limits", "Progress", "Source", "detect_format", "profile_file", "unreadable"]

FORMATS = ("csv", "csv.gz", "jsonl", "parquet")
_SUFFIXES = ((".csv.gz", "csv.gz"), (".csv.gzip", "csv.gz"), (".csv", "csv"), (".tsv", "csv"),
             (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"), (".parquet", "parquet"),
             (".pq", "parquet"))


def detect_format(name: str, contract: Contract) -> str | None:
    """The contract's ``format``, else the file name's suffix; None when neither says."""
    if contract.format:
        return contract.format
    lower = name.lower()
    for suffix, fmt in _SUFFIXES:
        if lower.endswith(suffix):
            return fmt
    return None


def profile_file(source: Source, contract: Contract, *, fmt: str, size: int | None = None,
                 limits: Limits | None = None, progress: Progress | None = None) -> Profile:
    """Profile one file of format ``fmt`` (see ``detect_format``). Never raises for bad data."""
    limits = limits or Limits()
    if isinstance(source, (str, os.PathLike)):
        import pyarrow as pa  # a native file: pyarrow reads it without going through Python per block

        # bytes: a name that is not valid UTF-8 (surrogate-escaped by Python) would not encode as text
        with pa.OSFile(os.fsencode(source)) as fh:
            return profile_file(fh, contract, fmt=fmt, size=fh.size(), limits=limits, progress=progress)
    if size is None:
        size = source.seek(0, io.SEEK_END)
        source.seek(0)
    if size == 0:
        return Profile(format=fmt, bytes=0, rows=0)
    with capture_unraisable() as unraisable:
        if fmt in ("csv", "csv.gz"):
            profile = profilers_csv.profile_csv(source, contract, fmt=fmt, size=size, limits=limits,
                                                progress=progress, unraisable=unraisable)
        elif fmt == "jsonl":
            from shared.adapters import profilers_jsonl  # only JSON Lines needs it

            profile = profilers_jsonl.profile_jsonl(source, contract, size=size, limits=limits,
                                                    progress=progress)
        elif fmt == "parquet":
            from shared.adapters import profilers_parquet  # pyarrow.parquet: only for Parquet

            profile = profilers_parquet.profile_parquet(source, contract, size=size, limits=limits)
        else:
            raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return profile
