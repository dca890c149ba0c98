"""The embedded SQLite backend: the storage contract plus what only it promises
(restart, crash safety, the one database thread, automatic compaction)."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
from typing import Any

from twisted.internet import defer, protocol, threads
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from kubeapi.storage.embedded import SQLiteStorage
from kubeapi.storage.interface import (
    CompactedError,
    KeyValue,
    Storage,
    TooLargeError,
    UnavailableError,
)
from tests.storage.contract import EventCollector, StorageContractMixin, run
from tests.support.waiting import eventually

REACTOR: Any = _reactor
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class EmbeddedContractTests(StorageContractMixin, TestCase):
    async def make_storage(self) -> Storage:
        s = SQLiteStorage(self.mktemp() + ".db")
        await s.open()
        self.addCleanup(lambda: Deferred.fromCoroutine(s.close()))
        return s


class EmbeddedOnlyTests(TestCase):
    timeout = 30

    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp() + ".db")

    async def _open(self, **kw: Any) -> SQLiteStorage:
        s = SQLiteStorage(self.path, **kw)
        await s.open()
        self.addCleanup(lambda: Deferred.fromCoroutine(s.close()))
        return s

    def test_restart_keeps_data_and_revision(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self._open()
            a = await s.create("/r/a", b"1")
            b = await s.create("/r/b", b"1")
            a2 = await s.update("/r/a", b"2", a.mod_revision)
            gone = await s.delete("/r/b")
            await s.compact(a2.mod_revision)
            await s.close()
            s2 = await self._open()
            self.assertEqual(await s2.current_revision(), gone.mod_revision)
            self.assertEqual(await s2.get("/r/a"), a2)
            self.assertIsNone(await s2.get("/r/b"))
            self.assertEqual(s2.compacted_revision, a2.mod_revision)
            with self.assertRaises(CompactedError):
                await s2.list("/r/", revision=b.mod_revision)
            c = await s2.create("/r/c", b"1")
            self.assertEqual(c.mod_revision, gone.mod_revision + 1)
        return run(go())

    def test_revision_not_reused_after_compacting_latest_tombstone(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self._open()
            a = await s.create("/r/a", b"1")
            gone = await s.delete("/r/a")
            await s.create("/r/x", b"1")
            top = await s.create("/r/y", b"1")
            await s.delete("/r/y")
            await s.compact(await s.current_revision())
            await s.close()
            s2 = await self._open()
            nxt = await s2.create("/r/z", b"1")
            self.assertGreater(nxt.mod_revision, top.mod_revision + 1)
            self.assertGreater(gone.mod_revision, a.mod_revision)
        return run(go())

    def test_sqlite_only_on_its_own_thread(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self._open()
            seen: set[int] = set()

            def install() -> None:
                assert s._db.conn is not None
                s._db.conn.set_trace_callback(lambda _sql: seen.add(threading.get_ident()))

            await s._call(install)
            k = await s.create("/t/a", b"1")
            await s.update("/t/a", b"2", k.mod_revision)
            await s.get("/t/a")
            await s.list("/t/")
            col = EventCollector()
            w = await s.watch("/t/", k.mod_revision, col.on_events, col.on_error)
            await col.wait_for(2)
            w.stop()
            await s.compact(k.mod_revision)
            await s.healthy()
            self.assertTrue(seen)
            self.assertEqual(seen, {s.db_thread_ident})
            self.assertNotEqual(s.db_thread_ident, threading.get_ident())
            # The connection itself refuses the reactor thread.
            assert s._db.conn is not None
            with self.assertRaises(sqlite3.ProgrammingError):
                s._db.conn.execute("SELECT 1")
        return run(go())

    def test_group_commit_batches_concurrent_writes(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self._open()
            before = s.commits
            ds = [defer.ensureDeferred(s.create(f"/g/{i:04d}", b"v")) for i in range(200)]
            kvs = await defer.gatherResults(ds)
            self.assertEqual(len({kv.mod_revision for kv in kvs}), 200)
            self.assertLess(s.commits - before, 200)
        return run(go())

    def test_too_large_value_refused(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self._open(max_value_bytes=1024)
            with self.assertRaises(TooLargeError):
                await s.create("/big/a", b"x" * 1025)
            self.assertIsNone(await s.get("/big/a"))
            await s.create("/big/a", b"x" * 1024)
        return run(go())

    def test_close_ends_watches_and_refuses_calls(self) -> Deferred[Any]:
        async def go() -> None:
            s = SQLiteStorage(self.path)
            await s.open()
            col = EventCollector()
            await s.watch("/c/", 0, col.on_events, col.on_error)
            pending = defer.ensureDeferred(s.create("/c/a", b"1"))
            await s.close()
            kv = await pending  # queued before close: still committed
            self.assertEqual(kv.value, b"1")
            self.assertEqual(len(col.errors), 1)
            self.assertIsInstance(col.errors[0], UnavailableError)
            self.assertFalse(await s.healthy())
            with self.assertRaises(UnavailableError):
                await s.get("/c/a")
            await s.close()  # idempotent
        return run(go())

    def test_compact_to_window(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self._open(compaction_window=5, compaction_interval=0)
            kv = await s.create("/w/a", b"0")
            first = kv
            for i in range(1, 20):
                kv = await s.update("/w/a", b"%d" % i, kv.mod_revision)
            other = await s.create("/w/b", b"b")
            now = await s.current_revision()
            self.assertEqual(await s.compact_to_window(), now - 5)
            self.assertIsNone(await s.compact_to_window())  # nothing new due
            with self.assertRaises(CompactedError):
                await s.watch("/w/", first.mod_revision, lambda e: None, lambda e: None)
            col = EventCollector()
            w = await s.watch("/w/", now - 5, col.on_events, col.on_error)
            events = await col.wait_for(6)
            w.stop()
            self.assertEqual([e.revision for e in events], list(range(now - 5, now + 1)))
            self.assertEqual((await s.list("/w/")).items, [kv, other])
            rows = await s._call(lambda: s._db._db().execute("SELECT COUNT(*) FROM kv").fetchone()[0])
            self.assertLessEqual(rows, 7)
        return run(go())

    def test_periodic_compaction_runs(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self._open(compaction_window=3, compaction_interval=0.05)
            kv = await s.create("/p/a", b"0")
            for i in range(10):
                kv = await s.update("/p/a", b"%d" % i, kv.mod_revision)
            # The window caps history while writes come; once a whole interval passed without
            # them, everything older than what the previous tick saw goes, as upstream compacts.
            await eventually(lambda: s.compacted_revision == kv.mod_revision, 5.0, 0.02)
            self.assertEqual((await s.get("/p/a")), kv)
            with self.assertRaises(CompactedError):
                await s.list("/p/", revision=kv.mod_revision - 1)
        return run(go())

    def test_paged_list_across_deleted_runs_history_and_compaction(self) -> Deferred[Any]:
        """Pages walk the key index from the last key, so check them against a model at
        many revisions: long runs of deleted keys between pages, keys deleted and created
        again, keys with several versions, non-ASCII keys, neighbouring prefixes, and the
        same after compaction dropped the old rows."""
        async def go() -> None:
            s = await self._open()
            model: dict[str, KeyValue] = {}
            snapshots: dict[int, dict[str, KeyValue]] = {}

            def record(kv: KeyValue, deleted: bool = False) -> None:
                if deleted:
                    del model[kv.key]
                else:
                    model[kv.key] = kv
                snapshots[kv.mod_revision] = dict(model)

            names = [f"k{i:03d}" for i in range(60)] + ["é", "\U0001f600", "~"]
            for name in names:
                record(await s.create("/p/" + name, name.encode()))
            await s.create("/p0", b"sibling")
            await s.create("/o/k001", b"other")
            for i in range(0, 60, 7):
                kv = model[f"/p/k{i:03d}"]
                record(await s.update(kv.key, b"v2", kv.mod_revision))
            for i in range(10, 50):  # one long run of deleted keys in the middle
                record(await s.delete(f"/p/k{i:03d}"), deleted=True)
            for name in ("k020", "k030", "\U0001f600"):
                if "/p/" + name in model:
                    record(await s.delete("/p/" + name), deleted=True)
                record(await s.create("/p/" + name, b"again"))
            record(await s.delete("/p/k055"), deleted=True)

            async def check_all(revisions: list[int]) -> None:
                for rev in revisions:
                    want = sorted(snapshots[rev].values(), key=lambda kv: kv.key.encode())
                    full = await s.list("/p/", revision=rev)
                    self.assertEqual(full.items, want, rev)
                    self.assertEqual((full.more, full.remaining), (False, 0))
                    for limit in (1, 4, 9):
                        got: list[KeyValue] = []
                        after: str | None = None
                        for _ in range(len(want) + 2):
                            page = await s.list("/p/", revision=rev, limit=limit, start_after=after)
                            self.assertEqual(page.revision, rev)
                            got += page.items
                            self.assertEqual(page.items, want[len(got) - len(page.items):len(got)])
                            self.assertEqual(page.more, len(got) < len(want), (rev, limit))
                            self.assertEqual(page.remaining, len(want) - len(got) if page.more else 0)
                            if not page.more:
                                break
                            after = page.items[-1].key
                        self.assertEqual(got, want, (rev, limit))

            top = await s.current_revision()
            revs = sorted(snapshots)
            await check_all(revs[::6] + [top])
            middle = revs[len(revs) * 2 // 3]
            await s.compact(middle)
            await check_all([r for r in revs if r >= middle][::3] + [top])
        return run(go())

    def test_kill_9_loses_no_acknowledged_write(self) -> Deferred[Any]:
        async def go() -> None:
            acked = await _run_and_kill_writer(self.path, acks_before_kill=300)
            self.assertGreaterEqual(len(acked), 300)
            check = await threads.deferToThread(_integrity_check, self.path)
            self.assertEqual(check, "ok")
            s = await self._open()
            for key, rev in acked.items():
                got = await s.get(key)
                self.assertIsNotNone(got, key)
                assert got is not None
                self.assertEqual(got, KeyValue(key, (key * 20).encode(), rev, rev))
            self.assertGreaterEqual(await s.current_revision(), max(acked.values()))
            nxt = await s.create("/after/crash", b"1")
            self.assertGreater(nxt.mod_revision, max(acked.values()))
        return run(go())


def _integrity_check(path: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


class _WriterProtocol(protocol.ProcessProtocol):
    """Collects ``ACK <key> <rev>`` lines; SIGKILLs the child after enough of them."""

    def __init__(self, acks_before_kill: int) -> None:
        self.acked: dict[str, int] = {}
        self.ended: Deferred[None] = Deferred()
        self._want = acks_before_kill
        self._buf = b""
        self._killed = False
        self.stderr = b""

    def outReceived(self, data: bytes) -> None:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            parts = line.decode().split()
            if len(parts) == 3 and parts[0] == "ACK":
                self.acked[parts[1]] = int(parts[2])
        if len(self.acked) >= self._want and not self._killed:
            self._killed = True
            transport: Any = self.transport
            transport.signalProcess(signal.SIGKILL)

    def errReceived(self, data: bytes) -> None:
        self.stderr += data

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(None)


async def _run_and_kill_writer(path: str, acks_before_kill: int) -> dict[str, int]:
    proto = _WriterProtocol(acks_before_kill)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = os.path.join(HERE, "crash_writer.py")
    transport = REACTOR.spawnProcess(
        proto, sys.executable, [sys.executable, script, path], env=env, path=ROOT)
    guard = REACTOR.callLater(20, lambda: transport.signalProcess(signal.SIGKILL))
    await proto.ended
    if guard.active():
        guard.cancel()
    if not proto.acked:
        raise AssertionError(f"writer acknowledged nothing: {proto.stderr.decode()[-2000:]}")
    return proto.acked
