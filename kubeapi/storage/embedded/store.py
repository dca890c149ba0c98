"""SQLiteStorage: the embedded backend of the storage contract.

All SQLite work runs on ONE dedicated thread (a one-thread ThreadPool owning the only
connection); the reactor thread only queues work and receives results via Deferreds.
Writes are group-committed: while one transaction is being committed, new writes queue
up and go together in the next one; each is acknowledged only after its commit.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from kubeapi.storage.embedded.latest import MISSING, LatestValues
from kubeapi.storage.embedded.listsnap import ListSnapshots
from kubeapi.storage.embedded.logdb import LogDB, WriteKind, WriteOp
from kubeapi.storage.embedded.watch import EmbeddedWatch, WatchHub
from kubeapi.storage.interface import (
    Event,
    KeyValue,
    ListResult,
    OnError,
    OnEvents,
    StorageError,
    TooLargeError,
    UnavailableError,
)

_log = Logger()
T = TypeVar("T")

# etcd's default --max-request-bytes; keeping the same ceiling means an object that fits
# here also fits a real etcd.
DEFAULT_MAX_VALUE_BYTES = 1536 * 1024


@dataclass(slots=True)
class _PendingWrite:
    op: WriteOp
    done: Deferred[KeyValue] = field(default_factory=Deferred)


def _guarded(fn: Callable[..., T], *args: Any) -> T:
    """Run on the DB thread; turn SQLite failures into contract errors."""
    try:
        return fn(*args)
    except sqlite3.DataError as e:
        raise TooLargeError(str(e)) from e
    except sqlite3.Error as e:
        if "too big" in str(e):
            raise TooLargeError(str(e)) from e
        raise UnavailableError(f"sqlite: {e}") from e


class SQLiteStorage:
    """The ``Storage`` protocol over a SQLite revision log.

    Call ``await storage.open()`` once before use (creates the file if needed) and
    ``await storage.close()`` at shutdown."""

    def __init__(self, path: str, *, compaction_window: int = 10000,
                 compaction_interval: float = 60.0, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
                 max_batch: int = 512, reactor: Any = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self._reactor = reactor
        self.path = path
        self.compaction_window = compaction_window
        self.compaction_interval = compaction_interval
        self.max_value_bytes = max_value_bytes
        self._max_batch = max_batch
        self._db = LogDB(path)
        self._pool: ThreadPool | None = None
        self._shutdown_trigger: Any = None
        self._hub = WatchHub(reactor)
        self._queue: builtins.list[_PendingWrite] = []
        self._writing = False
        self._drained: builtins.list[Deferred[None]] = []
        self._compactor: LoopingCall | None = None
        self._revision = 0
        self._compacted = 0
        self._tick_revision = 0  # what the last periodic compaction saw
        self._state = "new"  # new -> open -> closing -> closed
        self.commits = 0  # transactions committed (for tests/metrics of group commit)
        self._latest = LatestValues()
        self._lists = ListSnapshots()

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Start the database thread, open/initialise the file, start auto-compaction."""
        if self._state != "new":
            raise RuntimeError("SQLiteStorage.open() called twice")
        pool = ThreadPool(minthreads=1, maxthreads=1, name=f"kubeapi-sqlite:{self.path}")
        pool.start()
        self._pool = pool
        self._shutdown_trigger = self._reactor.addSystemEventTrigger("during", "shutdown", pool.stop)
        try:
            self._revision, self._compacted = await self._call(self._db.open)
        except BaseException:
            self._stop_pool()
            self._state = "closed"
            raise
        self._state = "open"
        if self.compaction_window > 0 and self.compaction_interval > 0:
            self._compactor = LoopingCall(self._periodic_compaction)
            self._compactor.clock = self._reactor
            self._compactor.start(self.compaction_interval, now=False).addErrback(
                lambda f: _log.failure("auto-compaction loop died", f)
            )

    async def close(self) -> None:
        """Finish queued writes, end every watch (on_error), close the file, stop the thread."""
        if self._state in ("closing", "closed"):
            return
        if self._state == "new":
            self._state = "closed"
            return
        self._state = "closing"
        if self._compactor is not None and self._compactor.running:
            self._compactor.stop()
        if self._writing or self._queue:
            d: Deferred[None] = Deferred()
            self._drained.append(d)
            await d
        self._hub.fail_all(UnavailableError("storage closed"))
        try:
            await self._call(self._db.close)
        finally:
            self._stop_pool()
            self._state = "closed"

    def _stop_pool(self) -> None:
        if self._shutdown_trigger is not None:
            self._reactor.removeSystemEventTrigger(self._shutdown_trigger)
            self._shutdown_trigger = None
        if self._pool is not None:
            self._pool.stop()
            self._pool = None

    @property
    def db_thread_ident(self) -> int | None:
        """Ident of the database thread (diagnostics: it must never be the reactor's)."""
        return self._db.thread_ident

    @property
    def compacted_revision(self) -> int:
        return self._compacted

    def _call(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        if self._pool is None:
            raise UnavailableError("embedded storage is not open")
        return threads.deferToThreadPool(self._reactor, self._pool, _guarded, fn, *args)

    def _check_open(self) -> None:
        if self._state != "open":
            raise UnavailableError(f"embedded storage is {self._state}")

    # -- reads -------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        self._check_open()
        known = self._latest.lookup(key)
        if known is not MISSING:
            return known  # type: ignore[return-value]
        generation = self._latest.generation
        kv = await self._call(self._db.get, key)
        self._latest.remember(key, kv, generation)
        return kv

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0,
                   start_after: str | None = None) -> ListResult:
        self._check_open()
        whole = not revision and not limit and start_after is None
        if whole:
            items = self._lists.lookup(prefix)
            if items is not None:
                return ListResult(items=items, revision=self._revision, more=False, remaining=0)
            generation = self._lists.generation
        result = await self._call(self._db.list, prefix, revision, limit, start_after)
        if whole:
            self._lists.remember(prefix, result.items, generation)
        return result

    async def current_revision(self) -> int:
        self._check_open()
        return self._revision

    async def healthy(self) -> bool:
        if self._state != "open":
            return False
        d = self._call(self._db.ping)
        d.addTimeout(5, self._reactor)
        try:
            return bool(await d)
        except Exception:
            return False

    # -- writes ------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._write("create", key, value, 0)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        return await self._write("update", key, value, expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return await self._write("delete", key, b"", expected_revision)

    def _write(self, kind: WriteKind, key: str, value: bytes, expected: int) -> Deferred[KeyValue]:
        self._check_open()
        if len(value) > self.max_value_bytes:
            raise TooLargeError(f"value of {len(value)} bytes exceeds {self.max_value_bytes}")
        pending = _PendingWrite((kind, key, bytes(value), expected))
        self._queue.append(pending)
        if not self._writing:
            self._next_batch()
        return pending.done

    def _next_batch(self) -> None:
        if not self._queue:
            self._writing = False
            drained, self._drained = self._drained, []
            for waiter in drained:
                waiter.callback(None)
            return
        self._writing = True
        batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch:]
        work = self._call(self._db.apply_batch, [p.op for p in batch])
        work.addCallbacks(self._batch_committed, self._batch_failed, callbackArgs=(batch,), errbackArgs=(batch,))

    def _batch_committed(self, results: builtins.list[Event | StorageError],
                         batch: builtins.list[_PendingWrite]) -> None:
        self.commits += 1
        try:
            events = [r for r in results if isinstance(r, Event)]
            if events:
                self._latest.committed(events)
                self._lists.committed(events)
                self._revision = max(self._revision, events[-1].revision)
                self._hub.publish(events)
            for pending, result in zip(batch, results, strict=True):
                if isinstance(result, Event):
                    pending.done.callback(result.kv)
                else:
                    pending.done.errback(Failure(result))
        finally:
            self._next_batch()  # never leave the write queue stalled

    def _batch_failed(self, failure: Failure, batch: builtins.list[_PendingWrite]) -> None:
        _log.failure("embedded storage: write transaction failed", failure)
        self._latest.clear()  # whatever the transaction did or did not do, ask the file again
        self._lists.clear()
        error = failure.value if isinstance(failure.value, StorageError) else UnavailableError(
            str(failure.value))
        for pending in batch:
            pending.done.errback(Failure(error))
        self._next_batch()

    # -- watch -------------------------------------------------------------------------

    async def watch(self, prefix: str, start_revision: int, on_events: OnEvents,
                    on_error: OnError) -> EmbeddedWatch:
        self._check_open()
        if start_revision <= 0:
            w = EmbeddedWatch(self._hub, prefix, self._revision + 1, on_events, on_error)
            w.go_live_now()
            self._hub.add(w)
            return w
        w = EmbeddedWatch(self._hub, prefix, start_revision, on_events, on_error)
        self._hub.add(w)  # from here on live events are kept aside until the replay is in
        try:
            history = await self._call(self._db.events_since, prefix, start_revision)
        except BaseException:
            w.stop()
            raise
        w.replayed(history, self._reactor)
        return w

    # -- compaction --------------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        self._check_open()
        self._compacted = await self._call(self._db.compact, revision)

    async def _periodic_compaction(self) -> None:
        """Each interval, as kube-apiserver compacts etcd: drop the history older than the
        revision the previous tick saw (so a continue token or watch revision expires after
        one to two intervals, as clients expect), and never keep more than the window."""
        seen, self._tick_revision = self._tick_revision, self._revision
        await self.compact_to_window()
        if self._state == "open" and seen > self._compacted:
            try:
                await self.compact(seen)
            except StorageError as e:
                _log.warn("embedded storage: auto-compaction at {rev} failed: {err}", rev=seen, err=e)

    async def compact_to_window(self) -> int | None:
        """Compact so that the last ``compaction_window`` revisions stay (the periodic job).
        Returns the new compacted revision, or None when nothing was due."""
        if self._state != "open":
            return None
        target = self._revision - self.compaction_window
        if target <= self._compacted:
            return None
        try:
            await self.compact(target)
        except StorageError as e:
            _log.warn("embedded storage: auto-compaction at {rev} failed: {err}", rev=target, err=e)
            return None
        return self._compacted
