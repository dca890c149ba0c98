"""Decoding a stored value once per watch event, not once per watcher.

Every watcher of a resource is handed the same storage events; decoding each event's
value for each of them was most of fan-out's cost.  The memo keeps the last few decoded
objects, keyed by (key, mod revision, the resourceVersion stamped on it) and checked
against the stored bytes, and hands the same dict to every watcher that asks.  Callers
must treat the object as read-only (a watch stream encodes it, or converts it into a new
object); consumers that may change what they are given decode their own copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kubeapi.storage.interface import Event, KeyValue

Obj = dict[str, Any]
Decode = Callable[[KeyValue, int], Obj]
Pairs = tuple[tuple[str, Obj], ...]  # (watch event type, object) per storage event

DEFAULT_SIZE = 256  # events in flight at once across a store's watchers; more only misses


class DecodeMemo:
    """A small bounded memo in front of one store's decode."""

    __slots__ = ("_decode", "_size", "_entries", "hits", "misses", "_batch")

    def __init__(self, decode: Decode, size: int = DEFAULT_SIZE) -> None:
        self._decode = decode
        self._size = size
        self._entries: dict[tuple[str, int, int], tuple[bytes, Obj]] = {}
        self.hits = 0
        self.misses = 0
        # The last batch translated by ``plain``: (its events, their pairs, newest revision).
        self._batch: tuple[Sequence[Event], Pairs, int] | None = None

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

    def plain(self, events: Sequence[Event]) -> tuple[Pairs, int]:
        """``events`` as watch events for a watch without selectors, and their newest
        revision.  The store's hub hands every watcher of a prefix the same events object,
        so the pairs are built once per batch and shared (read-only) by every watcher."""
        last = self._batch
        if last is not None and last[0] is events:  # the entry holds ``events``: no id reuse
            return last[1], last[2]
        out = []
        newest = 0
        for ev in events:
            kv = ev.kv
            rev = kv.mod_revision
            if rev > newest:
                newest = rev
            if ev.type == "DELETE":
                out.append(("DELETED", self(ev.prev or kv, rev)))
            else:
                out.append(("ADDED" if ev.prev is None else "MODIFIED", self(kv, rev)))
        pairs = tuple(out)
        if isinstance(events, tuple):  # a list could change after; tuples are what is shared
            self._batch = (events, pairs, newest)
        return pairs, newest
