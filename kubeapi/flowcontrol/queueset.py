"""One priority level's seats and queues: shuffle-sharded fair queuing.

A request of flow F is dealt a hand of ``handSize`` queues out of ``queues`` (from F's hash),
joins the shortest of them (or is rejected when that one holds ``queueLengthLimit``), and
waits.  When a seat frees, the next request comes from the non-empty queue whose requests
hold the fewest seats, round-robin among equals — so a noisy flow fills its own queues and
its seats while other flows' requests still get their turn.  Every request takes one seat
(upstream's width estimation of big LISTs is not modelled).
"""

from __future__ import annotations

import functools
import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer


class Rejected(Exception):
    """The level cannot take the request; ``reason`` is the metrics label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Queue:
    waiting: deque[tuple[defer.Deferred[None], Any]] = field(default_factory=deque)
    executing: int = 0


@functools.lru_cache(maxsize=4096)
def deal_hand(flow: str, queues: int, hand_size: int) -> tuple[int, ...]:
    """``hand_size`` distinct queue indices chosen by the flow's hash (shuffle sharding)."""
    digest = int.from_bytes(hashlib.sha256(flow.encode()).digest()[:8], "big")
    remaining = list(range(queues))
    hand = []
    for _ in range(min(hand_size, queues)):
        digest, pick = divmod(digest, len(remaining)) if remaining else (digest, 0)
        hand.append(remaining.pop(pick))
    return tuple(hand)


class QueueSet:
    def __init__(self, name: str, concurrency: int, queues: int = 0, hand_size: int = 0,
                 queue_length_limit: int = 0) -> None:
        self.name = name
        self.concurrency = max(concurrency, 1)
        self.executing = 0
        self.reconfigure(concurrency, queues, hand_size, queue_length_limit)

    def reconfigure(self, concurrency: int, queues: int, hand_size: int, queue_length_limit: int) -> None:
        """New limits; queued requests stay queued (queues are only ever added, never dropped)."""
        self.concurrency = max(concurrency, 1)
        self.hand_size = max(hand_size, 1)
        self.queue_length_limit = queue_length_limit
        old = getattr(self, "queues", [])
        self.queues: list[_Queue] = old[:queues] + [_Queue() for _ in range(max(0, queues - len(old)))]
        for q in old[queues:]:
            self.queues.append(q)  # still draining; dealt no new requests
        self.dealt = queues
        self._next = 0
        self.dispatch()

    @property
    def waiting(self) -> int:
        return sum(len(q.waiting) for q in self.queues)

    def enqueue(self, flow: str, tag: Any = None) -> tuple[defer.Deferred[None], int]:
        """(fires when the request may run, queue index).  Raises Rejected at once when the
        level is full and does not queue, or the chosen queue is at its length limit."""
        if self.executing < self.concurrency and self.waiting == 0:
            index = self._choose(flow)
            self.executing += 1
            if index >= 0:
                self.queues[index].executing += 1
            d: defer.Deferred[None] = defer.Deferred()
            d.callback(None)
            return d, index
        if self.dealt == 0:
            raise Rejected("concurrency-limit")
        index = self._choose(flow)
        q = self.queues[index]
        if len(q.waiting) >= self.queue_length_limit:
            raise Rejected("queue-full")
        d = defer.Deferred(lambda _d: self._forget(index, _d))
        q.waiting.append((d, tag))
        return d, index

    def _choose(self, flow: str) -> int:
        if self.dealt == 0:
            return -1
        hand = deal_hand(flow, self.dealt, self.hand_size)
        return min(hand, key=lambda i: (len(self.queues[i].waiting) + self.queues[i].executing, i))

    def _forget(self, index: int, d: defer.Deferred[None]) -> None:
        q = self.queues[index]
        for item in list(q.waiting):
            if item[0] is d:
                q.waiting.remove(item)

    def finish(self, index: int) -> None:
        """A request that ran ends: free its seat and start the next fair choice."""
        self.executing -= 1
        if 0 <= index < len(self.queues):
            self.queues[index].executing -= 1
        self.dispatch()

    def dispatch(self) -> None:
        while self.executing < self.concurrency:
            candidates = [i for i, q in enumerate(self.queues) if q.waiting]
            if not candidates:
                return
            n = len(self.queues)
            start = self._next
            best = min(candidates, key=lambda i: (self.queues[i].executing, (i - start) % n))
            self._next = (best + 1) % n
            q = self.queues[best]
            d, _tag = q.waiting.popleft()
            self.executing += 1
            q.executing += 1
            d.callback(None)
