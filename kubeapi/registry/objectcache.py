"""Decoded objects kept for LIST, so listing does not re-decode stored bytes.

Decoding (orjson.loads of each stored value, plus its kind's from-storage hook) was most
of a LIST's cost: ~6× serialising the same list.  Upstream's watch cache holds decoded
objects for the same reason.  Entries are keyed by storage key and checked against the
stored bytes and mod revision they came from, so a write (or a value written behind our
back) is simply a miss.  Bounded by entry count and by the stored bytes they stand for.
The objects are shared: a caller must not change them.  So are their LIST items (the object
without kind/apiVersion) and, for JSON LISTs, each item's encoded JSON: a LIST of unchanged
objects is spliced together from bytes encoded once (`ListItems`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from kubeapi.storage.interface import KeyValue

Obj = dict[str, Any]

MAX_ENTRIES = 20_000
MAX_BYTES = 32 * 1024 * 1024  # of stored values; decoded dicts take a few times this


class ListItems(list):  # type: ignore[type-arg]
    """A LIST's items (plain dicts, for anyone who reads them) with, when every item had one,
    each item's JSON already encoded: the JSON writer splices those in (orjson.Fragment)
    instead of encoding the same objects again for every LIST."""

    __slots__ = ("json",)

    def __init__(self, items: list[Obj], encoded: list[bytes] | None) -> None:
        super().__init__(items)
        self.json = encoded


class DecodedObjects:
    __slots__ = ("_decode", "_entries", "_bytes", "max_entries", "max_bytes", "hits", "misses")

    def __init__(self, decode: Callable[[KeyValue], Obj], max_entries: int = MAX_ENTRIES,
                 max_bytes: int = MAX_BYTES) -> None:
        self._decode = decode
        # key -> [mod revision, stored bytes, object, list item or None, item JSON or None]
        self._entries: dict[str, list[Any]] = {}
        self._bytes = 0
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    def get(self, kv: KeyValue) -> Obj:
        """``decode(kv)`` (resourceVersion = its mod revision), shared and read-only."""
        return self._entry(kv)[2]  # type: ignore[no-any-return]

    def list_item(self, kv: KeyValue, want_json: bool) -> tuple[Obj, bytes | None]:
        """The object as a LIST item (no kind/apiVersion: upstream's typed lists carry them
        only on the list), shared and read-only, and with ``want_json`` its JSON (None when
        it cannot be kept)."""
        entry = self._entry(kv)
        item = entry[3]
        if item is None:
            item = dict(entry[2])
            item.pop("kind", None)
            item.pop("apiVersion", None)
            entry[3] = item
        if not want_json:
            return item, None
        encoded = entry[4]
        if encoded is None:
            try:
                encoded = entry[4] = orjson.dumps(item, option=orjson.OPT_NON_STR_KEYS)
            except TypeError:  # a lone surrogate: the writer's own fallback handles it
                return item, None
        return item, encoded

    def _entry(self, kv: KeyValue) -> list[Any]:
        entry = self._entries.get(kv.key)
        if entry is not None and entry[0] == kv.mod_revision and (entry[1] is kv.value or entry[1] == kv.value):
            self.hits += 1
            return entry
        self.misses += 1
        fresh = [kv.mod_revision, kv.value, self._decode(kv), None, None]
        entries = self._entries
        if entry is not None:
            del entries[kv.key]
            self._bytes -= len(entry[1])
        size = len(kv.value)
        if size > self.max_bytes // 16:
            return fresh  # one huge object should not push out the rest
        while entries and (len(entries) >= self.max_entries or self._bytes + size > self.max_bytes):
            oldest = next(iter(entries))
            self._bytes -= len(entries.pop(oldest)[1])
        entries[kv.key] = fresh
        self._bytes += size
        return fresh
