"""The newest value of recently used keys, kept beside the embedded store.

A GET otherwise costs a trip to the database thread and back (a queue, a thread wake-up,
a reactor wake-up, the GIL handed over twice) for a query that takes microseconds.  Only this
process writes the file, and every committed change passes through `committed` on the
reactor thread before its writer is answered, so an entry is never older than an
acknowledged write.  A read that raced a commit is not remembered (its answer may predate
the commit)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from kubeapi.storage.interface import Event, KeyValue

MISSING = object()
_ENTRY_OVERHEAD = 200  # bytes per entry beside the value: key, KeyValue, dict slot


class LatestValues:
    def __init__(self, max_bytes: int = 32 << 20) -> None:
        self.max_bytes = max_bytes
        self.generation = 0  # commits seen; a read remembers its answer only if none came between
        self._entries: OrderedDict[str, KeyValue | None] = OrderedDict()
        self._bytes = 0

    def lookup(self, key: str) -> KeyValue | None | object:
        """The key's newest KeyValue, None if it is known not to exist, or MISSING."""
        entries = self._entries
        if key not in entries:
            return MISSING
        entries.move_to_end(key)
        return entries[key]

    def remember(self, key: str, kv: KeyValue | None, generation: int) -> None:
        """A read's answer, as of `generation` (taken when the read was sent)."""
        if generation == self.generation:
            self._put(key, kv)

    def committed(self, events: Iterable[Event]) -> None:
        self.generation += 1
        for ev in events:
            self._put(ev.kv.key, None if ev.type == "DELETE" else ev.kv)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._bytes = 0

    def _put(self, key: str, kv: KeyValue | None) -> None:
        entries = self._entries
        old = entries.pop(key, MISSING)
        if old is not MISSING:
            self._bytes -= _size(key, old)  # type: ignore[arg-type]
        entries[key] = kv
        self._bytes += _size(key, kv)
        while self._bytes > self.max_bytes and entries:
            gone_key, gone = entries.popitem(last=False)
            self._bytes -= _size(gone_key, gone)


def _size(key: str, kv: KeyValue | None) -> int:
    return len(key) + _ENTRY_OVERHEAD + (len(kv.value) if kv is not None else 0)
