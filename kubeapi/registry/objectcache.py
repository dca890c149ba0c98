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


JOINED_MAX = 8 * 1024 * 1024  # a longer joined form is built per answer rather than kept


class EncodedItems(list):  # type: ignore[type-arg]
    """Each LIST item's JSON, in order.  ListMemo hands the same one to every LIST it
    answers, so the items' comma-joined form is built once for all of them (up to
    ``JOINED_MAX`` bytes): the answer is then its envelope around one kept ``bytes``.
    Complete once a LIST has gathered it; nothing appends to it after that."""

    __slots__ = ("_joined",)

    def __init__(self) -> None:
        super().__init__()
        self._joined: bytes | None = None

    def joined(self) -> bytes:
        got = self._joined
        if got is None:
            got = b",".join(self)
            if len(got) <= JOINED_MAX:
                self._joined = got
        return got


class ListItems(list):  # type: ignore[type-arg]
    """A LIST's items (plain dicts, for anyone who reads them) with, when every item had one,
    each item's JSON already encoded: the JSON writer splices those in (orjson.Fragment)
    instead of encoding the same objects again for every LIST."""

    __slots__ = ("json",)

    def __init__(self, items: list[Obj], encoded: EncodedItems | None) -> None:
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
        return self.entry(kv)[2]  # type: ignore[no-any-return]

    @staticmethod
    def list_item(entry: list[Any], want_json: bool) -> tuple[Obj, bytes | None]:
        """The entry's object as a LIST item (no kind/apiVersion: upstream's typed lists carry
        them only on the list), shared and read-only, and with ``want_json`` its JSON (None
        when it cannot be kept)."""
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

    def entry(self, kv: KeyValue) -> list[Any]:
        """The cache's entry for ``kv`` (decoded now if missing or stale): ``entry[2]`` is
        the object (as ``get``), and ``list_item(entry, ...)`` its LIST form."""
        entry = self._entries.get(kv.key)
        if entry is not None and entry[0] == kv.mod_revision:
            value = kv.value
            if entry[1] is value:
                self.hits += 1
                return entry
            if entry[1] == value:
                # Keep the reader's bytes: a store that serves the same values again (the
                # embedded store's LIST snapshots, the watch cache) then matches by identity.
                entry[1] = value
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


class ListMemo:
    """A store's last whole-prefix LIST results, by (prefix, selectors, JSON wanted).

    When a read answers the very items it answered before (the embedded store's snapshots and
    the watch cache hand out the same KeyValues until a write; equal keys, revisions and bytes
    from any read compare equal too), the LIST's items and their JSON are those of last time:
    one list comparison, at C speed, instead of the per-item work."""

    MAX_MEMOS = 4
    MAX_ITEMS = MAX_ENTRIES

    __slots__ = ("_memos",)

    def __init__(self) -> None:
        self._memos: dict[tuple[Any, ...], tuple[list[KeyValue], list[Obj], EncodedItems | None]] = {}

    def lookup(self, key: tuple[Any, ...], kvs: list[KeyValue]) -> tuple[list[Obj], EncodedItems | None] | None:
        got = self._memos.get(key)
        if got is None or (got[0] is not kvs and got[0] != kvs):
            return None
        return got[1], got[2]

    def remember(self, key: tuple[Any, ...], kvs: list[KeyValue], items: list[Obj],
                 encoded: EncodedItems | None) -> None:
        if len(kvs) > self.MAX_ITEMS:
            return
        memos = self._memos
        memos.pop(key, None)
        while len(memos) >= self.MAX_MEMOS:
            memos.pop(next(iter(memos)))
        memos[key] = (kvs, items, encoded)
