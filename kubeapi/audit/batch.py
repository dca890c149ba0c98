"""Batching on the reactor (the webhook backend) and truncation of oversized events.

``BatchBuffer`` holds at most ``buffer_size`` events; a full buffer drops new events (and
counts them) rather than grow, so a dead webhook costs bounded memory and never delays a
request.  One batch is in flight at a time; batches are sent when ``max_batch_size`` events are
waiting or ``max_wait`` has passed, paced by an optional token bucket.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from twisted.internet import defer

from kubeapi.audit.event import Event

log = logging.getLogger(__name__)
TRUNCATED = "audit.k8s.io/truncated"


class Truncator:
    """Drops request/response objects from events over ``max_event_size`` bytes (marking them
    ``audit.k8s.io/truncated``), drops events still too large, and splits a batch so no part
    is over ``max_batch_size`` bytes."""

    def __init__(self, max_event_size: int, max_batch_size: int) -> None:
        self.max_event_size = max_event_size
        self.max_batch_size = max_batch_size

    def event(self, ev: Event) -> tuple[Event | None, int]:
        size = len(orjson.dumps(ev))
        if size <= self.max_event_size:
            return ev, size
        small = {k: v for k, v in ev.items() if k not in ("requestObject", "responseObject")}
        small["annotations"] = {**(ev.get("annotations") or {}), TRUNCATED: "true"}
        size = len(orjson.dumps(small))
        if size > self.max_event_size:
            return None, size
        return small, size

    def split(self, events: list[Event]) -> tuple[list[list[Event]], int]:
        """(batches, number dropped as too large even after truncation)."""
        out: list[list[Event]] = []
        batch: list[Event] = []
        total = dropped = 0
        for ev in events:
            small, size = self.event(ev)
            if small is None:
                dropped += 1
                continue
            if batch and total + size > self.max_batch_size:
                out.append(batch)
                batch, total = [], 0
            batch.append(small)
            total += size
        if batch:
            out.append(batch)
        return out, dropped


class BatchBuffer:
    def __init__(self, send: Callable[[list[Event]], defer.Deferred[Any]], clock: Any, *,
                 buffer_size: int = 10000, max_batch_size: int = 400, max_wait: float = 30.0,
                 throttle: bool = True, qps: float = 10.0, burst: int = 15,
                 on_drop: Callable[[int], None] | None = None) -> None:
        self.send = send
        self.clock = clock
        self.buffer: deque[Event] = deque()
        self.buffer_size = buffer_size
        self.max_batch_size = max(1, max_batch_size)
        self.max_wait = max_wait
        self.throttle = throttle
        self.qps, self.burst = qps, max(1, burst)
        self._tokens = float(self.burst)
        self._last = clock.seconds()
        self.on_drop = on_drop
        self._timer: Any = None
        self._sending = False
        self.dropped = 0

    def add(self, events: list[Event]) -> None:
        for ev in events:
            if len(self.buffer) >= self.buffer_size:
                self.dropped += 1
                if self.on_drop is not None:
                    self.on_drop(1)
                continue
            self.buffer.append(ev)
        self._schedule()

    def _schedule(self) -> None:
        if self._sending or not self.buffer:
            return
        if len(self.buffer) >= self.max_batch_size:
            delay = self._throttle_delay()
        else:
            delay = max(self.max_wait, self._throttle_delay())
        if self._timer is not None and self._timer.active():
            if delay > 0:
                return
            self._timer.cancel()
        self._timer = self.clock.callLater(delay, self._flush)

    def _throttle_delay(self) -> float:
        if not self.throttle or self.qps <= 0:
            return 0.0
        now = self.clock.seconds()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.qps

    def _flush(self) -> None:
        self._timer = None
        if self._sending or not self.buffer:
            return
        if self.throttle and self.qps > 0:
            self._throttle_delay()
            self._tokens -= 1
        n = min(self.max_batch_size, len(self.buffer))
        batch = [self.buffer.popleft() for _ in range(n)]
        self._sending = True
        d = defer.maybeDeferred(self.send, batch)
        d.addErrback(lambda f: log.warning("audit batch send failed: %s", f.getErrorMessage()))

        def done(_: Any) -> None:
            self._sending = False
            self._schedule()
        d.addBoth(done)

    def shutdown(self) -> int:
        """Stop sending; returns how many buffered events are abandoned."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._sending = True  # nothing more goes out
        n = len(self.buffer)
        self.buffer.clear()
        return n
