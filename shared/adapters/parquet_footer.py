"""What pyarrow cannot be asked safely about a Parquet footer, read from its Thrift bytes ourselves.

pyarrow aborts the whole process (C++ ``std::terminate``, SIGABRT) when Python touches the metadata of
a column encrypted with Parquet modular encryption in a file whose footer is plaintext
(``RowGroupMetaData.column(i)`` throws inside a ``noexcept`` path). The footer itself says which columns
are encrypted, so we read that first and never hand those columns to pyarrow.

The footer is Thrift compact protocol (parquet.thrift ``FileMetaData``). Only the fields needed here are
interpreted; everything else is skipped by type. Malformed bytes raise ``FooterError``: pyarrow then
judges the file as it always did.
"""

from __future__ import annotations

from dataclasses import dataclass

# Thrift compact protocol type ids
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
_MAX_DEPTH = 64


class FooterError(Exception):
    """The footer bytes are not the Thrift we expect."""


@dataclass(frozen=True)
class Encryption:
    """What the plaintext footer says about encryption."""

    algorithm: bool                    # FileMetaData.encryption_algorithm is set: some columns are encrypted
    columns: frozenset[int]            # leaf indices whose chunks carry crypto metadata (any row group)


class _Reader:
    """A cursor over the footer. ``skip`` is the hot path (every field of every column chunk goes
    through it), so it reads bytes inline rather than through the small helpers."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise FooterError("the footer ends inside a value")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise FooterError("a varint runs on")

    def field(self, last: int) -> tuple[int, int]:
        """(field id, type) of the next field of a struct; type 0 is the struct's end."""
        head = self.byte()
        kind = head & 0x0F
        if kind == 0:
            return 0, 0
        delta = head >> 4
        if delta:
            return last + delta, kind
        raw = self.varint()
        return (raw >> 1) ^ -(raw & 1), kind

    def list_header(self) -> tuple[int, int]:
        head = self.byte()
        size = head >> 4
        if size == 15:
            size = self.varint()
        return size, head & 0x0F

    def skip(self, kind: int) -> None:
        try:
            self.pos = _skip(self.data, self.pos, kind, 0)
        except IndexError as exc:
            raise FooterError("the footer ends inside a value") from exc
        if self.pos > len(self.data):
            raise FooterError("a value runs past the footer")


def _varint_end(data: bytes, pos: int) -> int:
    start = pos
    while data[pos] & 0x80:
        pos += 1
        if pos - start > 10:
            raise FooterError("a varint runs on")
    return pos + 1


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise FooterError("a varint runs on")


def _skip(data: bytes, pos: int, kind: int, depth: int) -> int:
    """The position after a value of Thrift compact type ``kind`` that starts at ``pos``."""
    if depth > _MAX_DEPTH:
        raise FooterError("the footer nests too deeply")
    if kind == _STRUCT:
        while True:
            head = data[pos]
            pos += 1
            inner = head & 0x0F
            if inner == 0:
                return pos
            if not head >> 4:                       # a long-form field id follows
                pos = _varint_end(data, pos)
            if inner in (_I16, _I32, _I64):
                pos = _varint_end(data, pos)
            elif inner == _BINARY:
                size, pos = _varint(data, pos)
                pos += size
            elif inner not in (_TRUE, _FALSE):
                pos = _skip(data, pos, inner, depth + 1)
            if pos > len(data):
                raise FooterError("a value runs past the footer")
    if kind in (_TRUE, _FALSE):
        return pos
    if kind == _BYTE:
        return pos + 1
    if kind in (_I16, _I32, _I64):
        return _varint_end(data, pos)
    if kind == _DOUBLE:
        return pos + 8
    if kind == _BINARY:
        size, pos = _varint(data, pos)
        return pos + size
    if kind in (_LIST, _SET):
        head = data[pos]
        pos += 1
        size, inner = head >> 4, head & 0x0F
        if size == 15:
            size, pos = _varint(data, pos)
        for _ in range(size):
            pos = pos + 1 if inner in (_TRUE, _FALSE) else _skip(data, pos, inner, depth + 1)
            if pos > len(data):
                raise FooterError("a list runs past the footer")
        return pos
    if kind == _MAP:
        size, pos = _varint(data, pos)
        if size:
            types = data[pos]
            pos += 1
            for _ in range(size):
                pos = _skip(data, _skip(data, pos, types >> 4, depth + 1), types & 0x0F, depth + 1)
                if pos > len(data):
                    raise FooterError("a map runs past the footer")
        return pos
    raise FooterError(f"unknown Thrift type {kind}")


def encryption(footer: bytes) -> Encryption:
    """Read ``FileMetaData`` (the footer's Thrift bytes) for encryption facts."""
    r = _Reader(footer)
    algorithm = False
    columns: set[int] = set()
    last = 0
    while True:
        last, kind = r.field(last)
        if kind == 0:
            break
        if last == 4 and kind == _LIST:                    # row_groups: list<RowGroup>
            size, inner = r.list_header()
            for _ in range(size):
                columns |= _row_group(r, inner)
        elif last == 8 and kind == _STRUCT:                # encryption_algorithm
            algorithm = True
            r.skip(kind)
        else:
            r.skip(kind)
    return Encryption(algorithm, frozenset(columns))


def _row_group(r: _Reader, kind: int) -> set[int]:
    if kind != _STRUCT:
        raise FooterError("a row group is not a struct")
    found: set[int] = set()
    last = 0
    while True:
        last, inner = r.field(last)
        if inner == 0:
            return found
        if last == 1 and inner == _LIST:                   # columns: list<ColumnChunk>
            size, item = r.list_header()
            for index in range(size):
                if _chunk_is_encrypted(r, item):
                    found.add(index)
        else:
            r.skip(inner)


def _chunk_is_encrypted(r: _Reader, kind: int) -> bool:
    if kind != _STRUCT:
        raise FooterError("a column chunk is not a struct")
    encrypted = False
    last = 0
    while True:
        last, inner = r.field(last)
        if inner == 0:
            return encrypted
        if last in (8, 9):                                 # crypto_metadata, encrypted_column_metadata
            encrypted = True
        r.skip(inner)
