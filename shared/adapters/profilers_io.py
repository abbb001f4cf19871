"""What the profilers share: limits against hostile input, sniffing, a guarded gunzip, quiet pyarrow.

Kept apart from ``profilers`` (the entry point) so the format modules can import it without a cycle.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from shared.core.findings import Finding
from shared.core.models import Severity
from shared.core.profile import Profile

Source = str | os.PathLike[str] | IO[bytes]
Progress = Callable[[int, int], None]      # (bytes read so far, total bytes)



@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile input from taking the worker's memory or time."""

    max_line_bytes: int = 1 << 20              # a longer CSV row / JSON line is `line_too_long`
    max_columns: int = 10_000                  # more is `too_many_columns` (per-column work would crawl)
    max_decompressed_bytes: int = 64 << 30     # gzip: stop past this much output…
    max_ratio: float = 200.0                   # …or past this output/input ratio (a zip bomb)
    ratio_floor: int = 64 << 20                # the ratio is judged only beyond this much output
    parquet_footer_bytes: int = 64 << 20       # larger Parquet metadata is refused unread
    parquet_buffer_bytes: int = 1 << 20
    threads: bool | None = None                # None: use threads when more than one core is ours


def unreadable(fmt: str, size: int, message: str, **extra: Any) -> Profile:
    return Profile(format=fmt, bytes=size, rows=0, readable=False, complete=False,
                   problems=(Finding("unreadable", Severity.FAIL, message),), **extra)


def use_threads(limits: Limits) -> bool:
    if limits.threads is not None:
        return limits.threads
    return len(os.sched_getaffinity(0)) > 1 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) > 1


@contextmanager
def capture_unraisable() -> Iterator[list[BaseException]]:
    """Collect exceptions Python would print as "Exception ignored in: … Traceback" while reading.

    pyarrow's CSV reader decodes a bad row's text for the ``invalid_row_handler``; when that text is
    not UTF-8 the decode fails inside pyarrow, which reports it through ``sys.unraisablehook`` — a
    traceback on stderr that a user must never see. The profiler turns what it collects here into an
    ``encoding`` finding instead.
    """
    seen: list[BaseException] = []
    previous = sys.unraisablehook

    def hook(info: Any) -> None:
        if info.exc_value is not None:
            seen.append(info.exc_value)

    sys.unraisablehook = hook
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


# --- sniffing ------------------------------------------------------------------------------------------

_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"), (b"\xfe\xff", "UTF-16"),
         (b"\xff\xfe", "UTF-16"))
_MAGIC = ((b"PAR1", "Parquet"), (b"\x1f\x8b", "gzip"), (b"PK\x03\x04", "zip"), (b"BZh", "bzip2"),
          (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))


def sniff_text(head: bytes, fmt: str, encoding: str) -> str | None:
    """Why ``head`` (the first bytes of a text format) cannot be what the contract says, or None."""
    for bom, name in _BOMS:
        if head.startswith(bom) and not encoding.lower().replace("_", "-").startswith(name.lower()):
            return f"encoding:the file starts with a {name} byte-order mark but the contract says {encoding}"
    for magic, name in _MAGIC:
        if head.startswith(magic) and not (name == "gzip" and fmt == "csv.gz"):
            return f"unreadable:the file is {name} data, not {fmt}" + (
                " (use format csv.gz)" if name == "gzip" else "")
    if b"\x00" in head and "16" not in encoding and "32" not in encoding:
        return f"unreadable:the file holds binary data (NUL bytes), not {fmt} text"
    return None


# --- gzip with a bomb guard ------------------------------------------------------------------------------


class DecompressionLimit(Exception):
    """The gzip stream inflated beyond the limits."""


class CorruptGzip(Exception):
    """The gzip stream is not valid or ends early."""


class GunzipReader(io.RawIOBase):
    """Decompress a gzip stream (several members allowed) as a readable file, within ``Limits``.

    Each call inflates at most what was asked for, so a bomb cannot take memory; the output/input
    ratio and total are checked as it goes, so it cannot take hours either.
    """

    _CHUNK = 1 << 20

    def __init__(self, raw: IO[bytes], limits: Limits) -> None:
        super().__init__()
        self._raw = raw
        self._limits = limits
        self._inflater = zlib.decompressobj(wbits=31)
        self._input = b""
        self._done = False
        self.consumed = 0
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        want = self._CHUNK * 16 if size is None or size < 0 else size
        parts: list[bytes] = []
        got = 0
        while got < want and not self._done:
            piece = self._inflate(want - got)
            parts.append(piece)
            got += len(piece)
        return b"".join(parts)

    def _inflate(self, want: int) -> bytes:
        if not self._input:
            self._input = self._raw.read(self._CHUNK)
            self.consumed += len(self._input)
            if not self._input:
                if not self._inflater.eof:
                    raise CorruptGzip("the gzip stream ends early (truncated file)")
                self._done = True
                return b""
            if self._inflater.eof:                   # the next gzip member starts here
                self._inflater = zlib.decompressobj(wbits=31)
        try:
            out = self._inflater.decompress(self._input, want)
        except zlib.error as exc:
            raise CorruptGzip(f"the gzip stream is corrupt ({exc})") from exc
        self._input = self._inflater.unconsumed_tail
        if self._inflater.eof:                       # the rest of the input is past this member
            self._input = self._inflater.unused_data.lstrip(b"\x00")   # padding between members is allowed
            if self._input:
                self._inflater = zlib.decompressobj(wbits=31)   # the next gzip member
        self.produced += len(out)
        self._check()
        return out

    def _check(self) -> None:
        limits = self._limits
        if self.produced > limits.max_decompressed_bytes:
            raise DecompressionLimit(f"decompressed data passed {limits.max_decompressed_bytes:,} bytes; "
                                     "reading stopped")
        used = max(self.consumed - len(self._input), 1)
        if self.produced > limits.ratio_floor and self.produced > limits.max_ratio * used:
            raise DecompressionLimit(f"{used:,} compressed bytes inflated to {self.produced:,} "
                                     f"(ratio over {limits.max_ratio:g}: a zip bomb?); reading stopped")


class PassView(io.RawIOBase):
    """One reading pass over a seekable source, at its own position. pyarrow's CSV reader reads ahead
    on its I/O threads and may still read after the pass has stopped (a conversion error restarts the
    read from byte 0); a detached view answers those late reads with nothing, so they cannot move the
    next pass's position (which made a restart read its header from the middle of the file)."""

    def __init__(self, source: IO[bytes], lock: threading.Lock) -> None:
        super().__init__()
        self._source, self._lock, self._pos, self._detached = source, lock, 0, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with self._lock:
            if self._detached:
                return 0
            self._source.seek(self._pos)
            data = self._source.read(len(buffer))
            buffer[:len(data)] = data
            self._pos += len(data)
            return len(data)

    def tell(self) -> int:
        return self._pos

    def detach_pass(self) -> None:
        with self._lock:
            self._detached = True
