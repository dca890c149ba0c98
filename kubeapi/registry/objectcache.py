"""Decoded objects kept for LIST, so listing does not re-decode stored bytes.

Decoding (orjson.loads of each stored value, plus its kind's from-storage hook) was most
of a LIST's cost: ~6× serialising the same list.  Upstream's watch cache holds decoded
objects for the same reason.  Entries are keyed by storage key and checked against the
stored bytes and mod revision they came from, so a write (or a value written behind our
back) is simply a miss.  Bounded by entry count and by the stored bytes they stand for.
The objects are shared: a caller must not change them (the HTTP LIST handler copies the
top level to drop kind/apiVersion and encodes the rest as it is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeapi.storage.interface import KeyValue

Obj = dict[str, Any]

MAX_ENTRIES = 20_000
MAX_BYTES = 32 * 1024 * 1024  # of stored values; decoded dicts take a few times this


class DecodedObjects:
    __slots__ = ("_decode", "_entries", "_bytes", "max_entries", "max_bytes", "hits", "misses")

    def __init__(self, decode: Callable[[KeyValue], Obj], max_entries: int = MAX_ENTRIES,
                 max_bytes: int = MAX_BYTES) -> None:
        self._decode = decode
        self._entries: dict[str, tuple[int, bytes, Obj]] = {}
        self._bytes = 0
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    def get(self, kv: KeyValue) -> Obj:
        """``decode(kv)`` (resourceVersion = its mod revision), shared and read-only."""
        entry = self._entries.get(kv.key)
        if entry is not None and entry[0] == kv.mod_revision and (entry[1] is kv.value or entry[1] == kv.value):
            self.hits += 1
            return entry[2]
        self.misses += 1
        obj = self._decode(kv)
        entries = self._entries
        if entry is not None:
            del entries[kv.key]
            self._bytes -= len(entry[1])
        size = len(kv.value)
        if size > self.max_bytes // 16:
            return obj  # one huge object should not push out the rest
        while entries and (len(entries) >= self.max_entries or self._bytes + size > self.max_bytes):
            oldest = next(iter(entries))
            self._bytes -= len(entries.pop(oldest)[1])
        entries[kv.key] = (kv.mod_revision, kv.value, obj)
        self._bytes += size
        return obj
