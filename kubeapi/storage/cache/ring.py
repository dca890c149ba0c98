"""A fixed-size ring of the newest events of one resource.

Events are addressed by a sequence number that only grows (``start`` is the oldest one
still held, ``end`` the next one to be written), so a watcher can remember where it is
with one integer and learn that it fell off the ring by comparing it with ``start``.
"""

from __future__ import annotations

from kubeapi.storage.interface import Event


class EventRing:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the watch cache needs room for at least one event")
        self.capacity = capacity
        self._slots: list[Event | None] = [None] * capacity
        self.start = 0
        self.end = 0

    def __len__(self) -> int:
        return self.end - self.start

    def clear(self) -> None:
        """Forget every event; sequence numbers keep growing so old cursors stay invalid."""
        self._slots = [None] * self.capacity
        self.start = self.end

    def append(self, event: Event) -> Event | None:
        """Add the newest event; returns the one pushed out when the ring was full."""
        evicted = None
        if self.end - self.start == self.capacity:
            evicted = self._slots[self.start % self.capacity]
            self.start += 1
        self._slots[self.end % self.capacity] = event
        self.end += 1
        return evicted

    def _at(self, seq: int) -> Event:
        ev = self._slots[seq % self.capacity]
        assert ev is not None
        return ev

    def oldest_revision(self) -> int | None:
        return self._at(self.start).revision if self.end > self.start else None

    def since_seq(self, seq: int) -> list[Event]:
        """Events from sequence number ``seq`` (clamped to what is held) to the newest."""
        return [self._at(i) for i in range(max(seq, self.start), self.end)]

    def first_seq_at(self, revision: int) -> int:
        """The sequence number of the first held event with revision >= ``revision``."""
        lo, hi = self.start, self.end
        while lo < hi:
            mid = (lo + hi) // 2
            if self._at(mid).revision < revision:
                lo = mid + 1
            else:
                hi = mid
        return lo
