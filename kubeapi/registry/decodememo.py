"""Decoding a stored value once per watch event, not once per watcher.

Every watcher of a resource is handed the same storage events; decoding each event's
value for each of them was most of fan-out's cost.  The memo keeps the last few decoded
objects, keyed by (key, mod revision, the resourceVersion stamped on it) and checked
against the stored bytes, and hands the same dict to every watcher that asks.  Callers
must treat the object as read-only (a watch stream encodes it, or converts it into a new
object); consumers that may change what they are given decode their own copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeapi.storage.interface import KeyValue

Obj = dict[str, Any]
Decode = Callable[[KeyValue, int], Obj]

DEFAULT_SIZE = 256  # events in flight at once across a store's watchers; more only misses


class DecodeMemo:
    """A small bounded memo in front of one store's decode."""

    __slots__ = ("_decode", "_size", "_entries", "hits", "misses")

    def __init__(self, decode: Decode, size: int = DEFAULT_SIZE) -> None:
        self._decode = decode
        self._size = size
        self._entries: dict[tuple[str, int, int], tuple[bytes, Obj]] = {}
        self.hits = 0
        self.misses = 0

    def __call__(self, kv: KeyValue, revision: int) -> Obj:
        key = (kv.key, kv.mod_revision, revision)
        entry = self._entries.get(key)
        if entry is not None and (entry[0] is kv.value or entry[0] == kv.value):
            self.hits += 1
            return entry[1]
        self.misses += 1
        obj = self._decode(kv, revision)
        entries = self._entries
        if len(entries) >= self._size:
            del entries[next(iter(entries))]  # oldest first: events arrive in revision order
        entries[key] = (kv.value, obj)
        return obj
