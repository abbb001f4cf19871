"""Profiler over blobs: the streaming profilers read the blob through ranged reads, never a download."""

from __future__ import annotations

import io
import threading
from typing import Any

from shared.adapters.storage import client_options, map_errors, sdk_client
from shared.connections import StorageTarget
from shared.core.profile import Profile
from shared.core.spec import Contract

CHUNK = 4 << 20   # bytes per ranged read: few round trips, bounded memory


class BlobReader(io.RawIOBase):
    """A seekable, read-only file over one blob; each read is a ranged GET."""

    def __init__(self, blob_client: Any, size: int, what: str) -> None:
        self._blob, self._size, self._pos, self._what = blob_client, size, 0, what
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data: bytes = map_errors(lambda: self._blob.download_blob(offset=self._pos, length=want).readall(),
                                 f"read {self._what}")
        n = len(data)
        buffer[:n] = data
        self._pos += n
        self.bytes_read += n
        return n


class BlobProfiler:
    """Implements the Profiler port."""

    def __init__(self, target: StorageTarget, **options: Any) -> None:
        self._target = target
        self._options = client_options(options)
        self._client: Any = None
        self._lock = threading.Lock()

    def _service(self) -> Any:
        with self._lock:
            if self._client is None:
                from azure.storage.blob import BlobServiceClient

                self._client = sdk_client(BlobServiceClient, self._target, "blob", **self._options)
            return self._client

    def profile(self, container: str, name: str, contract: Contract, size: int | None = None) -> Profile:
        from shared.adapters import profilers

        blob = self._service().get_blob_client(container, name)
        if size is None:
            size = int(map_errors(blob.get_blob_properties, f"blob {container}/{name}").size or 0)
        fmt = profilers.detect_format(name, contract)
        if fmt is None:
            return profilers.unreadable("unknown", size, f"cannot tell the format of {name}: name it .csv, "
                                        ".csv.gz, .jsonl or .parquet, or set format in the contract")
        reader = io.BufferedReader(BlobReader(blob, size, f"{container}/{name}"), buffer_size=CHUNK)
        return profilers.profile_file(reader, contract, fmt=fmt, size=size)
