"""In-process watch fan-out for the embedded store (reactor thread only).

A watcher from a past revision goes through three states so the hand-over from the
history replay to live events has no gap and no duplicate:

* ``catching_up``: the replay query is running on the database thread; live events
  published meanwhile are kept aside;
* ``holding``: the replay result is merged with those (dropping what the replay already
  had) and waits for one reactor turn, so no callback fires before ``watch()`` returned;
* ``live``: events go straight to the callback.

Fan-out to client watch streams is off the write's acknowledgement path, as upstream's
(the cacher's dispatch runs apart from etcd's reply): for watchers whose consumer says
``deliver_later``, a committed batch is queued, the writes are acknowledged, and the hub
hands the batch to them on a later reactor turn, after the acknowledgements have gone out,
within a small time budget per turn.  Batches go out in commit order and each batch
reaches every watcher before the next, so each watcher sees events in order.  Batches
committed while an earlier one waits to start (and no watcher came or went meanwhile)
join it, so under a stream of writes a watcher gets several events at once and its
stream writes them in one ``send``.  Other
watchers (the server's own controllers and informers, which read their writes back
through their watch and retry on a conflict at once) are handed the batch in the write's
turn, before it is acknowledged, as before.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Literal

from twisted.logger import Logger

from kubeapi.storage.callbacks import deliver_events, report_error
from kubeapi.storage.interface import Event, OnError, OnEvents, StorageError

_log = Logger()

State = Literal["catching_up", "holding", "live", "stopped"]
MAX_JOINED = 256  # events in one queued batch made of several commits


class _Batch:
    """Committed events waiting for the deferred watchers registered when they were
    published; ``shared`` keeps them by prefix once the first watcher has filtered them."""

    __slots__ = ("events", "watchers", "shared", "generation")

    def __init__(self, events: list[Event], watchers: list[EmbeddedWatch], generation: int) -> None:
        self.events = events
        self.watchers = watchers
        self.shared: dict[str, Sequence[Event]] = {}
        self.generation = generation


class EmbeddedWatch:
    """One watcher; satisfies the ``Watch`` protocol."""

    def __init__(self, hub: WatchHub, prefix: str, start: int, on_events: OnEvents,
                 on_error: OnError) -> None:
        self._hub = hub
        self.prefix = prefix
        self._start = start
        self._on_events = on_events
        self._on_error = on_error
        self._state: State = "catching_up"
        self._early: list[Event] = []
        self._buffer: list[Event] = []
        self._last = start - 1  # newest revision queued or delivered
        # A consumer that may learn of a write after it was acknowledged (a client's watch
        # stream); see the module docstring.
        self.deferred = bool(getattr(getattr(on_events, "__self__", None), "deliver_later", False))

    @property
    def stopped(self) -> bool:
        return self._state == "stopped"

    def stop(self) -> None:
        if self._state == "stopped":
            return
        self._state = "stopped"
        self._early.clear()
        self._buffer.clear()
        self._hub.remove(self)

    def fail(self, error: StorageError) -> None:
        """Report ``error`` once and stop."""
        if self._state == "stopped":
            return
        on_error = self._on_error
        self.stop()
        report_error(on_error, error)

    # -- called by the hub / the store ------------------------------------------------

    def go_live_now(self) -> None:
        """For start revision 0: nothing to replay."""
        self._state = "live"

    def replayed(self, history: Sequence[Event], reactor: Any) -> None:
        """Merge the replay with what arrived during it; deliver on the next reactor turn."""
        if self._state != "catching_up":
            return
        newest = history[-1].revision if history else self._start - 1
        merged = list(history) + [e for e in self._early if e.revision > newest]
        self._early = []
        self._buffer = merged
        if merged:
            self._last = merged[-1].revision
        self._state = "holding"
        reactor.callLater(0, self._release)

    def _release(self) -> None:
        if self._state != "holding":
            return
        self._state = "live"
        while self._buffer and self._state == "live":
            batch, self._buffer = self._buffer, []
            self._deliver(batch)

    def offer(self, events: Sequence[Event], shared: dict[str, Sequence[Event]] | None = None) -> None:
        """Take the events of one committed write batch (in revision order).  ``shared``
        (the hub's, one per batch) keeps the batch's events under each prefix, so the many
        live watchers of one resource filter it once between them."""
        state = self._state  # (this runs once per watcher per batch)
        if state == "stopped":
            return
        if shared is not None and state == "live":
            first = events[0].kv.mod_revision
            if first > self._last and first >= self._start:  # every event is new to this watcher
                mine = shared.get(self.prefix)
                if mine is None:
                    prefix = self.prefix
                    mine = shared[prefix] = tuple(e for e in events if e.kv.key.startswith(prefix))
                if mine:
                    self._last = mine[-1].kv.mod_revision
                    try:
                        self._on_events(mine)
                    except Exception:
                        _log.failure("watch on_events callback raised")
                return
        mine = [e for e in events if e.revision >= self._start and e.kv.key.startswith(self.prefix)]
        if not mine:
            return
        if self._state == "catching_up":
            self._early.extend(mine)
            return
        mine = [e for e in mine if e.revision > self._last]
        if not mine:
            return
        self._last = mine[-1].revision
        if self._state == "holding":
            self._buffer.extend(mine)
        else:
            self._deliver(mine)

    def _deliver(self, events: list[Event]) -> None:
        deliver_events(self._on_events, events)


class WatchHub:
    """The set of running watchers of one store, and the queue of batches to hand them.

    With no reactor (unit tests of the hub alone) ``publish`` delivers at once."""

    def __init__(self, reactor: Any = None, budget: float = 0.01) -> None:
        self._watchers: dict[int, EmbeddedWatch] = {}
        self._reactor = reactor
        self._budget = budget
        # A watcher added after a batch was published starts after it or replays it from
        # the database.
        self._pending: deque[_Batch] = deque()
        self._next = 0  # index of the next watcher of _pending[0] to offer it to
        self._generation = 0  # changes whenever a watcher comes or goes
        self._call: Any = None

    def __len__(self) -> int:
        return len(self._watchers)

    @property
    def queued(self) -> int:
        """Batches committed but not yet handed to every watcher."""
        return len(self._pending)

    def add(self, watch: EmbeddedWatch) -> None:
        self._watchers[id(watch)] = watch
        self._generation += 1

    def remove(self, watch: EmbeddedWatch) -> None:
        if self._watchers.pop(id(watch), None) is not None:
            self._generation += 1

    def publish(self, events: Sequence[Event]) -> None:
        if not events or not self._watchers:
            return
        later = []
        for w in list(self._watchers.values()):
            if w.deferred:
                later.append(w)
            else:
                w.offer(events)
        if not later:
            return
        pending = self._pending
        if pending:
            last = pending[-1]
            if (last.generation == self._generation and (len(pending) > 1 or self._next == 0)
                    and len(last.events) + len(events) <= MAX_JOINED):
                last.events.extend(events)  # not started yet, same watchers: one hand-out
                return
        pending.append(_Batch(list(events), later, self._generation))
        if self._reactor is None:
            self.flush()
        elif self._call is None:
            # Twice: a call scheduled from a database thread's result runs in the same
            # reactor pass, before the acknowledgements are written to their sockets.
            self._call = self._reactor.callLater(0, self._hop)

    def _hop(self) -> None:
        self._call = self._reactor.callLater(0, self._drain)

    def _drain(self) -> None:
        self._call = None
        if not self._deliver(time.perf_counter() + self._budget) and self._call is None:
            self._call = self._reactor.callLater(0, self._drain)

    def _deliver(self, deadline: float) -> bool:
        """Offer queued batches in order until done (True) or past ``deadline``."""
        n = 0
        pending = self._pending
        while pending:
            batch = pending[0]
            events, watchers, shared = batch.events, batch.watchers, batch.shared
            while self._next < len(watchers):
                w = watchers[self._next]
                self._next += 1
                w.offer(events, shared)
                n += 1
                if n % 32 == 0 and time.perf_counter() > deadline:
                    return False
            if pending and pending[0] is batch:  # a callback may have flushed it (re-entry)
                pending.popleft()
                self._next = 0
        return True

    def flush(self) -> None:
        """Hand every queued batch out now."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self._deliver(float("inf"))

    def fail_all(self, error: StorageError) -> None:
        self.flush()  # what was committed is delivered before the watches end
        for watch in list(self._watchers.values()):
            watch.fail(error)
