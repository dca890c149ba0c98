"""The cache of one resource prefix: current state, recent events, its client watchers.

One backend watch feeds it: a paginated list of the prefix at revision R, then a watch
from R+1.  Events update the state (key → KeyValue, keys kept sorted for LIST), go into
the ring, and are fanned out to the client watchers.  Fan-out is synchronous while it
fits a small time budget per reactor turn; what is left waits for the next turn, so one
busy resource cannot starve the reactor.  A watcher that is paused or not reached before
the ring moves past its cursor is cut off with CompactedError.

If the backend watch fails (history compacted while the backend was away, or the
backend gone for good), every client watch gets CompactedError once and the cache
lists and watches again with capped exponential backoff.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from typing import Any, Literal

from twisted.internet import defer
from twisted.internet.base import DelayedCall
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger

from kubeapi.storage.cache.ring import EventRing
from kubeapi.storage.cache.watcher import CachedWatch
from kubeapi.storage.interface import (
    CompactedError,
    Event,
    FutureRevisionError,
    KeyValue,
    ListResult,
    OnError,
    OnEvents,
    Storage,
    StorageError,
    UnavailableError,
    Watch,
)

_log = Logger()
_LIST_ANSWERS = 64  # kept list_items answers per resource (distinct prefix, limit, page start)

State = Literal["idle", "starting", "ready", "recovering", "closed"]


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``."""
    if not prefix:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class ResourceCache:
    def __init__(self, storage: Storage, prefix: str, *, capacity: int, reactor: Any,
                 page_size: int = 1000, retry_initial: float = 0.1, retry_max: float = 5.0,
                 delivery_budget: float = 0.02) -> None:
        self.storage = storage
        self.prefix = prefix
        self.reactor = reactor
        self.page_size = page_size
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.delivery_budget = delivery_budget
        self.state: State = "idle"
        self.ring = EventRing(capacity)
        self._items: dict[str, KeyValue] = {}
        self._keys: list[str] = []  # sorted; code-point order is UTF-8 byte order
        # list_items' answers until the next change: the same list object each time, so a
        # LIST memo downstream recognises it at once.  Readers never mutate what they get.
        self._lists: dict[tuple[str, int, str | None], tuple[list[KeyValue], bool, int]] = {}
        self.list_revision = 0
        self.revision = 0  # newest revision applied (list revision or last event)
        self.floor = 1  # the oldest start revision a new watch may ask for
        self._watchers: dict[CachedWatch, None] = {}
        self._dirty: dict[CachedWatch, None] = {}
        self._drain_call: DelayedCall | None = None
        self._draining = False
        self._backend: Watch | None = None
        self._generation = 0
        self._waiters: list[Deferred[None]] = []
        self._starting: Deferred[None] | None = None
        self._sleep: Deferred[None] | None = None
        self._recovery: Deferred[None] | None = None
        self.restarts = 0  # how many times the backend watch was re-established
        self.events_received = 0  # backend events applied (apiserver_watch_cache_events_received_total)
        self.initializations = 0  # lists that (re)filled the cache (..._initializations_total)
        self.events_dispatched = 0  # events handed to client watchers (..._events_dispatched_total)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def known_revision(self) -> int:
        """Every event of the prefix up to this revision has been applied.  A backend
        watch that exposes ``next_revision`` (etcd progress notifications) moves it on
        while the resource is idle."""
        progress = getattr(self._backend, "next_revision", 0)
        if isinstance(progress, int) and progress > 0:
            return max(self.revision, progress - 1)
        return self.revision

    def start(self, from_revision: int = 0) -> Deferred[None]:
        """Begin the initial list+watch if not yet begun; the Deferred fires when ready.
        ``from_revision``: list at that revision rather than now (the first watch asked
        to start just after it, so it is served instead of refused as too old)."""
        if self.state == "closed":
            return defer.fail(UnavailableError("watch cache is closed"))
        if self.state == "ready":
            return defer.succeed(None)
        waiter = self._wait()  # before starting: the start may fail synchronously
        if self.state == "idle":
            self.state = "starting"
            self._starting = Deferred.fromCoroutine(self._initialise(from_revision))
            self._starting.addCallbacks(self._started, self._start_failed)
        return waiter

    def _started(self, _: None) -> None:
        self._starting = None

    def _start_failed(self, failure: Any) -> None:
        self._starting = None
        if self.state == "starting":
            self.state = "idle"  # the next watch tries again
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            if not d.called:
                d.errback(failure)

    def _wait(self) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self._waiters.append(d)
        return d

    async def ready(self, timeout: float, from_revision: int = 0) -> None:
        if self.state == "ready":
            return
        d = self.start(from_revision)
        d.addTimeout(timeout, self.reactor)
        try:
            await d
        except defer.TimeoutError:
            raise UnavailableError(f"watch cache for {self.prefix} is not ready") from None

    async def _initialise(self, from_revision: int = 0) -> None:
        """List the prefix at one revision, then watch from just after it."""
        self._generation += 1
        self.initializations += 1
        gen = self._generation
        first = None
        if from_revision > 0:
            try:
                first = await self.storage.list(self.prefix, revision=from_revision, limit=self.page_size)
            except (CompactedError, FutureRevisionError):
                pass  # gone or not there yet: list now instead
        if first is None:
            first = await self.storage.list(self.prefix, limit=self.page_size)
        at = first.revision
        items = list(first.items)
        more = first.more
        while more and items:
            page = await self.storage.list(self.prefix, revision=at, limit=self.page_size,
                                           start_after=items[-1].key)
            items.extend(page.items)
            more = page.more
        if gen != self._generation or self.state == "closed":
            return
        self._items = {kv.key: kv for kv in items}
        self._keys = sorted(self._items)
        self._lists.clear()
        self.ring.clear()
        self.list_revision = self.revision = at
        self.floor = at + 1
        handle = await self.storage.watch(
            self.prefix, at + 1,
            lambda events: self._on_backend_events(gen, events),
            lambda err: self._on_backend_error(gen, err))
        if gen != self._generation or self.state == "closed":
            handle.stop()
            return
        self._backend = handle
        self.state = "ready"
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            if not d.called:
                d.callback(None)

    def _on_backend_error(self, gen: int, err: StorageError) -> None:
        if gen != self._generation or self.state == "closed":
            return
        _log.warn("watch cache {prefix}: backend watch failed ({err}); relisting",
                  prefix=self.prefix, err=err)
        self._generation += 1
        self._backend = None
        self.state = "recovering"
        compacted_at = err.compact_revision if isinstance(err, CompactedError) else self.known_revision
        self._cut_all(CompactedError(compacted_at, self.known_revision))
        if self._recovery is None:
            d = Deferred.fromCoroutine(self._recover())
            d.addErrback(lambda f: _log.failure("watch cache recovery stopped", f))
            self._recovery = None if d.called else d

    async def _recover(self) -> None:
        try:
            await self._recover_loop()
        finally:
            self._recovery = None

    async def _recover_loop(self) -> None:
        delay = self.retry_initial
        while self.state == "recovering":
            try:
                await self._initialise()
            except Exception as e:  # noqa: BLE001 - any failure means: try again later
                if self.state != "recovering":
                    return
                _log.warn("watch cache {prefix}: relist failed ({err}); retrying in {d}s",
                          prefix=self.prefix, err=e, d=delay)
                self._sleep = deferLater(self.reactor, delay, lambda: None)
                try:
                    await self._sleep
                except defer.CancelledError:
                    return
                finally:
                    self._sleep = None
                delay = min(delay * 2, self.retry_max)
            else:
                if self.state == "ready":
                    self.restarts += 1
                return

    def close(self) -> None:
        self.state = "closed"
        self._generation += 1
        if self._backend is not None:
            self._backend.stop()
            self._backend = None
        if self._drain_call is not None and self._drain_call.active():
            self._drain_call.cancel()
        self._drain_call = None
        if self._sleep is not None:
            self._sleep.cancel()
        for w in list(self._watchers):
            w.close_silently()
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            if not d.called:
                d.errback(UnavailableError("watch cache is closed"))

    def raise_floor(self, revision: int) -> None:
        """History before ``revision`` was compacted in the backend: refuse it here too."""
        self.floor = max(self.floor, revision)

    # -- events from the backend -------------------------------------------------------

    def _on_backend_events(self, gen: int, events: Sequence[Event]) -> None:
        if gen != self._generation or self.state == "closed":
            return
        ring = self.ring
        evicted_upto = 0
        for ev in events:
            if ev.revision <= self.list_revision:
                continue  # already part of the initial list
            self.events_received += 1
            self._lists.clear()
            key = ev.kv.key
            if ev.type == "DELETE":
                if self._items.pop(key, None) is not None:
                    i = bisect.bisect_left(self._keys, key)
                    if i < len(self._keys) and self._keys[i] == key:
                        del self._keys[i]
            else:
                if key not in self._items:
                    bisect.insort(self._keys, key)
                self._items[key] = ev.kv
            gone = ring.append(ev)
            if gone is not None:
                evicted_upto = gone.revision
            if ev.revision > self.revision:
                self.revision = ev.revision
        if evicted_upto:
            oldest = ring.oldest_revision() or 0
            self.floor = max(self.floor, evicted_upto + 1, oldest)
        self._fan_out()

    def _fan_out(self) -> None:
        start = self.ring.start
        behind: list[CachedWatch] = []
        for w in self._watchers:
            if w.cursor < start:
                behind.append(w)
            elif w.state == "live" and not w.paused:
                self._dirty[w] = None
        for w in behind:
            w.fail(self._too_old())
        self._kick()

    def _too_old(self) -> CompactedError:
        return CompactedError(self.floor - 1, self.known_revision)

    def _drain(self) -> None:
        """Deliver to the watchers that have something new, within the time budget.
        Watchers at the same cursor share one read of the ring, and those on the same
        prefix one filtered batch (the common case: all of them at the newest event)."""
        self._drain_call = None
        self._draining = True
        try:
            self._drain_some()
        finally:
            self._draining = False
        if self._dirty and self._drain_call is None and self.state != "closed":
            # Watchers woken by a callback during this pass.
            self._drain_call = self.reactor.callLater(0, self._drain)

    def _kick(self) -> None:
        if self._drain_call is None and not self._draining:
            self._drain()

    def _drain_some(self) -> None:
        deadline = time.perf_counter() + self.delivery_budget
        batch = list(self._dirty)
        self._dirty.clear()
        ring = self.ring
        reads: dict[int, list[Event]] = {}
        selected: dict[tuple[int, str], Sequence[Event]] = {}
        for i, w in enumerate(batch):
            if w.state != "live" or w.paused:
                continue
            cursor = w.cursor
            if cursor < ring.start:
                w.fail(self._too_old())
                continue
            events = reads.get(cursor)
            if events is None:
                events = reads[cursor] = ring.since_seq(cursor)
            w.cursor = ring.end
            if not events:
                continue
            if w.start <= events[0].revision and not w.has_replay:
                key = (cursor, w.prefix)
                mine = selected.get(key)
                if mine is None:
                    mine = selected[key] = tuple(w.select(events))  # shared: read-only
                w.deliver(mine)
                self.events_dispatched += len(mine)
            else:
                own = w.select(events)
                w.deliver(own)
                self.events_dispatched += len(own)
            if i % 32 == 31 and time.perf_counter() > deadline and i + 1 < len(batch):
                rest = dict.fromkeys(batch[i + 1:])
                rest.update(self._dirty)
                self._dirty = rest
                return

    def _deliver(self, w: CachedWatch) -> None:
        if w.state != "live" or w.paused:
            return
        ring = self.ring
        if w.cursor < ring.start:
            w.fail(self._too_old())
            return
        events = ring.since_seq(w.cursor)
        w.cursor = ring.end
        own = w.select(events)
        w.deliver(own)
        self.events_dispatched += len(own)

    # -- client watchers ---------------------------------------------------------------

    def add_watch(self, prefix: str, start: int, on_events: OnEvents,
                  on_error: OnError) -> CachedWatch:
        """Register a watcher from revision ``start`` (inclusive); call only when ready.
        Replays the held events it asked for, one reactor turn after returning."""
        if start < self.floor:
            raise self._too_old()
        ring = self.ring
        replay: list[Event] = []
        if ring and start <= self.revision:
            replay = ring.since_seq(ring.first_seq_at(start))
        w = CachedWatch(self, prefix, start, ring.end, on_events, on_error)
        w.set_replay(replay)
        self._watchers[w] = None
        w.release_call = self.reactor.callLater(0, self._release, w)
        return w

    def _release(self, w: CachedWatch) -> None:
        w.release_call = None
        if w.state != "holding":
            return
        w.state = "live"
        self._deliver(w)

    def wake(self, w: CachedWatch) -> None:
        """A paused watcher resumed: deliver what it missed (if still on the ring)."""
        if w.state != "live":
            return
        self._dirty[w] = None
        self._kick()

    def forget(self, w: CachedWatch) -> None:
        self._watchers.pop(w, None)
        self._dirty.pop(w, None)

    def _cut_all(self, error: StorageError) -> None:
        for w in list(self._watchers):
            w.fail(error)
        self._dirty.clear()

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    # -- reads -------------------------------------------------------------------------

    def get_item(self, key: str) -> KeyValue | None:
        return self._items.get(key)

    def list_items(self, prefix: str, limit: int, start_after: str | None) -> ListResult:
        known = self._lists.get((prefix, limit, start_after))
        if known is None:
            known = self._slice(prefix, limit, start_after)
            if len(self._lists) >= _LIST_ANSWERS:
                self._lists.clear()
            self._lists[(prefix, limit, start_after)] = known
        items, more, remaining = known
        return ListResult(items=items, revision=self.known_revision, more=more, remaining=remaining)

    def _slice(self, prefix: str, limit: int, start_after: str | None) -> tuple[list[KeyValue], bool, int]:
        keys = self._keys
        lo = bisect.bisect_left(keys, prefix)
        if start_after is not None and start_after >= prefix:
            lo = max(lo, bisect.bisect_right(keys, start_after))
        end = prefix_end(prefix)
        hi = len(keys) if end is None else bisect.bisect_left(keys, end, lo)
        n = hi - lo
        take = n if limit <= 0 else min(limit, n)
        items = [self._items[k] for k in keys[lo:lo + take]]
        return items, take < n, n - take

    async def wait_fresh(self, revision: int, timeout: float) -> None:
        """Wait until the cache has applied ``revision``; upstream's 3 s freshness wait."""
        if self.known_revision >= revision:
            return
        deadline = self.reactor.seconds() + timeout
        while self.known_revision < revision:
            if self.state == "closed":
                raise UnavailableError("watch cache is closed")
            if self.reactor.seconds() >= deadline:
                raise FutureRevisionError(f"{revision}, current: {self.known_revision}")
            await deferLater(self.reactor, 0.02, lambda: None)
