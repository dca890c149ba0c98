"""Recent whole-prefix LIST results of the embedded store, kept until a write touches them.

A LIST at the current revision otherwise reads every row of its prefix on the database
thread (~2.5 ms for 1,000 keys) even when nothing under the prefix changed since the last
one.  Like `latest.LatestValues`, this relies on every committed change passing through
`committed` on the reactor thread before its writer is answered: a snapshot is dropped by
the first committed event under its prefix, so a served snapshot is the prefix's state at
the store's current revision.  A read that raced a commit is not remembered.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from kubeapi.storage.interface import Event, KeyValue

MAX_SNAPSHOTS = 32
MAX_BYTES = 64 << 20  # of stored values held by all snapshots together


class ListSnapshots:
    def __init__(self, max_snapshots: int = MAX_SNAPSHOTS, max_bytes: int = MAX_BYTES) -> None:
        self.max_snapshots = max_snapshots
        self.max_bytes = max_bytes
        self.generation = 0  # commits seen; a read remembers its answer only if none came between
        self._snapshots: OrderedDict[str, tuple[list[KeyValue], int]] = OrderedDict()
        self._bytes = 0
        self.hits = 0

    def lookup(self, prefix: str) -> list[KeyValue] | None:
        """Every live key under ``prefix`` now (a new list), or None when not known."""
        found = self._snapshots.get(prefix)
        if found is None:
            return None
        self._snapshots.move_to_end(prefix)
        self.hits += 1
        return list(found[0])

    def remember(self, prefix: str, items: list[KeyValue], generation: int) -> None:
        """A whole-prefix read at the current revision, sent when ``generation`` was current."""
        if generation != self.generation:
            return
        size = sum(len(kv.value) for kv in items)
        if size > self.max_bytes // 4:
            return  # one huge prefix should not push out the rest
        self._drop(prefix)
        snapshots = self._snapshots
        snapshots[prefix] = (list(items), size)
        self._bytes += size
        while snapshots and (len(snapshots) > self.max_snapshots or self._bytes > self.max_bytes):
            _, (_, gone) = snapshots.popitem(last=False)
            self._bytes -= gone

    def committed(self, events: Iterable[Event]) -> None:
        self.generation += 1
        if not self._snapshots:
            return
        for ev in events:
            key = ev.kv.key
            for prefix in [p for p in self._snapshots if key.startswith(p)]:
                self._drop(prefix)

    def clear(self) -> None:
        self.generation += 1
        self._snapshots.clear()
        self._bytes = 0

    def _drop(self, prefix: str) -> None:
        found = self._snapshots.pop(prefix, None)
        if found is not None:
            self._bytes -= found[1]
