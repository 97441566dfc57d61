"""How the server and its sandbox processes talk: length-prefixed pickles over a pipe.

The server trusts what it sends; what comes back was made by diagram code, so it is read with
an unpickler that can build only plain data (the types task data may hold), never call anything.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
from zoneinfo import ZoneInfo

_HEADER = struct.Struct("!Q")

# (module, name) pairs a reply may contain besides the builtin containers pickle handles itself.
_DATA_TYPES = {
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "bytearray"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"), ("datetime", "timedelta"),
    ("datetime", "timezone"), ("zoneinfo", "ZoneInfo"), ("zoneinfo._zoneinfo", "ZoneInfo"),
    ("decimal", "Decimal"), ("collections", "OrderedDict"),
}


class UnsafeReply(Exception):
    """A reply held something other than plain data."""


def _zoneinfo_getattr(owner, name):
    """Pickle refers to `ZoneInfo._unpickle` as getattr(ZoneInfo, "_unpickle"); that, and only that."""
    if owner is ZoneInfo and name == "_unpickle":
        return ZoneInfo._unpickle
    raise UnsafeReply(f"getattr({owner!r}, {name!r})")


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _DATA_TYPES:
            return super().find_class(module, name)
        if (module, name) == ("builtins", "getattr"):
            return _zoneinfo_getattr
        raise UnsafeReply(f"{module}.{name}")


def pack(message) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


def unpack_data(body: bytes):
    return _DataUnpickler(io.BytesIO(body)).load()


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_exactly(fd: int, count: int) -> bytes | None:
    """Blocking read of `count` bytes; None at end of file."""
    chunks, missing = [], count
    while missing:
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def header_size() -> int:
    return _HEADER.size


def body_length(header: bytes) -> int:
    return _HEADER.unpack(header)[0]
