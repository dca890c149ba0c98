"""The watch cache: the storage contract through it, and what only it promises (one
backend watch per resource, replay window, 410 for too old, cutting off a watcher that
falls behind, recovery after the backend watch fails, LIST from the cache)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Any

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from kubeapi.storage.cache import CachedWatch, WatchCache
from kubeapi.storage.embedded import SQLiteStorage
from kubeapi.storage.embedded.watch import EmbeddedWatch
from kubeapi.storage.interface import (
    CompactedError,
    Event,
    FutureRevisionError,
    ListResult,
    OnError,
    OnEvents,
    Storage,
    UnavailableError,
)
from tests.storage.contract import EventCollector, StorageContractMixin, quiet, run, summary


class CountingSQLite(SQLiteStorage):
    """The real embedded store, counting the backend watches and lists it is asked for
    (test scaffolding: the cache under test runs unchanged on top of it)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.watch_calls: builtins.list[str] = []
        self.list_calls: builtins.list[str] = []
        self.handles: builtins.list[EmbeddedWatch] = []
        self.failing_lists = 0  # how many next list calls fail as if the backend were away

    async def watch(self, prefix: str, start_revision: int, on_events: OnEvents,
                    on_error: OnError) -> EmbeddedWatch:
        self.watch_calls.append(prefix)
        w = await super().watch(prefix, start_revision, on_events, on_error)
        self.handles.append(w)
        return w

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0,
                   start_after: str | None = None) -> ListResult:
        self.list_calls.append(prefix)
        if self.failing_lists > 0:
            self.failing_lists -= 1
            raise UnavailableError("backend away (test)")
        return await super().list(prefix, revision=revision, limit=limit, start_after=start_after)

    @property
    def running_watches(self) -> builtins.list[EmbeddedWatch]:
        return [h for h in self.handles if not h.stopped]


class CachedEmbeddedContractTests(StorageContractMixin, TestCase):
    """The whole contract with the test's prefix cached (watches under it come from the
    cache; the cache is filled before the test writes, as the server fills it at start)."""

    async def make_storage(self) -> Storage:
        backend = SQLiteStorage(self.mktemp() + ".db")
        await backend.open()
        cache = WatchCache(backend, [self.prefix])
        self.addCleanup(lambda: Deferred.fromCoroutine(cache.close()))
        await cache.start()
        return cache


class CacheTests(TestCase):
    timeout = 30

    async def _open(self, prefixes: Sequence[str] = ("/registry/pods/",), *, start: bool = True,
                    **kw: Any) -> tuple[WatchCache, CountingSQLite]:
        backend = CountingSQLite(self.mktemp() + ".db")
        await backend.open()
        cache = WatchCache(backend, prefixes, **kw)
        self.addCleanup(lambda: Deferred.fromCoroutine(cache.close()))
        if start:
            await cache.start()
        return cache, backend

    async def _watch(self, s: Storage, prefix: str, start: int = 0) -> tuple[Any, EventCollector]:
        col = EventCollector()
        w = await s.watch(prefix, start, col.on_events, col.on_error)
        self.addCleanup(w.stop)
        return w, col

    # -- fan-out -----------------------------------------------------------------------

    def test_thousand_watchers_share_one_backend_watch(self) -> Deferred[Any]:
        async def go() -> None:
            cache, backend = await self._open(start=False)
            self.assertEqual(backend.watch_calls, [])
            ds = [defer.ensureDeferred(self._watch(cache, "/registry/pods/", 0)) for _ in range(500)]
            ds += [defer.ensureDeferred(self._watch(cache, "/registry/pods/ns1/", 0)) for _ in range(500)]
            started = await defer.gatherResults(ds, consumeErrors=True)
            cols = [col for _, col in started]
            # The reference: what a watch on the backend itself reports.
            _, ref = await self._watch(backend, "/registry/pods/", 0)
            self.assertEqual(backend.watch_calls, ["/registry/pods/", "/registry/pods/"])
            a = await cache.create("/registry/pods/ns1/a", b"1")
            await cache.create("/registry/pods/ns2/b", b"1")
            a2 = await cache.update("/registry/pods/ns1/a", b"2", a.mod_revision)
            await cache.delete("/registry/pods/ns2/b")
            for i in range(20):
                await cache.create(f"/registry/pods/ns{i % 2 + 1}/p{i}", b"x")
            await cache.delete("/registry/pods/ns1/a", a2.mod_revision)
            want = await ref.wait_for(25)
            want_ns1 = [e for e in want if e.kv.key.startswith("/registry/pods/ns1/")]
            for col in cols[:500]:
                got = await col.wait_for(25)
                self.assertEqual(got, want)
            for col in cols[500:]:
                got = await col.wait_for(len(want_ns1))
                self.assertEqual(got, want_ns1)
            await quiet()
            self.assertTrue(all(len(c.events) == 25 for c in cols[:500]))
            self.assertTrue(all(c.errors == [] for c in cols))
            self.assertEqual(backend.watch_calls, ["/registry/pods/", "/registry/pods/"])
        return run(go())

    def test_concurrent_first_watches_start_one_backend_watch(self) -> Deferred[Any]:
        async def go() -> None:
            cache, backend = await self._open(start=False)
            before = await cache.create("/registry/pods/ns/old", b"old")
            ds = [defer.ensureDeferred(self._watch(cache, "/registry/pods/", 0)) for _ in range(20)]
            cols = [col for _, col in await defer.gatherResults(ds, consumeErrors=True)]
            new = await cache.create("/registry/pods/ns/new", b"new")
            for col in cols:
                self.assertEqual([e.kv for e in await col.wait_for(1)], [new])
            self.assertEqual(backend.watch_calls, ["/registry/pods/"])
            self.assertLess(before.mod_revision, new.mod_revision)
        return run(go())

    # -- the replay window ---------------------------------------------------------------

    def test_start_inside_window_replays_then_goes_live(self) -> Deferred[Any]:
        async def go() -> None:
            cache, _ = await self._open(capacity=16)
            kvs = [await cache.create(f"/registry/pods/ns/p{i}", b"v") for i in range(10)]
            await quiet(0)
            _, col = await self._watch(cache, "/registry/pods/ns/", kvs[3].mod_revision)
            got = await col.wait_for(7)
            self.assertEqual([e.kv for e in got], kvs[3:])
            late = await cache.create("/registry/pods/ns/late", b"v")
            got = await col.wait_for(8)
            self.assertEqual(got[-1].kv, late)
            await quiet()
            self.assertEqual(len(col.events), 8)
        return run(go())

    def test_first_watch_from_the_past_fills_the_cache_from_there(self) -> Deferred[Any]:
        async def go() -> None:
            cache, backend = await self._open(start=False)
            a = await cache.create("/registry/pods/ns/a", b"1")
            b = await cache.create("/registry/pods/ns/b", b"1")
            # A client listed at a's revision, then watches; the cache is filled lazily now.
            _, col = await self._watch(cache, "/registry/pods/", a.mod_revision + 1)
            self.assertEqual([e.kv for e in await col.wait_for(1)], [b])
            listed = await cache.list_from_cache("/registry/pods/")
            self.assertEqual(listed.items, [a, b])
            await quiet()
            self.assertEqual(len(col.events), 1)
            self.assertEqual(backend.watch_calls, ["/registry/pods/"])
        return run(go())

    def test_start_before_window_is_too_old(self) -> Deferred[Any]:
        async def go() -> None:
            cache, _ = await self._open(capacity=4)
            first = await cache.create("/registry/pods/ns/first", b"v")
            kvs = [await cache.create(f"/registry/pods/ns/p{i}", b"v") for i in range(6)]
            await quiet(0)
            with self.assertRaises(CompactedError) as cm:
                await cache.watch("/registry/pods/", first.mod_revision, lambda e: None, lambda e: None)
            # The oldest held event is the 4th newest; upstream reports oldest-1.
            self.assertEqual(cm.exception.compact_revision, kvs[2].mod_revision - 1)
            with self.assertRaises(CompactedError):
                await cache.watch("/registry/pods/", kvs[1].mod_revision, lambda e: None, lambda e: None)
            _, col = await self._watch(cache, "/registry/pods/", kvs[2].mod_revision)
            self.assertEqual([e.kv for e in await col.wait_for(4)], kvs[2:])
        return run(go())

    def test_start_right_after_initial_list_is_allowed_until_events_drop(self) -> Deferred[Any]:
        async def go() -> None:
            backend = SQLiteStorage(self.mktemp() + ".db")
            await backend.open()
            listed = await backend.create("/registry/pods/ns/a", b"v")
            cache = WatchCache(backend, ["/registry/pods/"], capacity=2)
            self.addCleanup(lambda: Deferred.fromCoroutine(cache.close()))
            await cache.start()
            at = await cache.current_revision()
            self.assertEqual(at, listed.mod_revision)
            with self.assertRaises(CompactedError):
                await cache.watch("/registry/pods/", at, lambda e: None, lambda e: None)
            w = await cache.watch("/registry/pods/", at + 1, lambda e: None, lambda e: None)
            w.stop()
            for i in range(3):
                await cache.create(f"/registry/pods/ns/p{i}", b"v")
            await quiet(0)
            with self.assertRaises(CompactedError):
                await cache.watch("/registry/pods/", at + 1, lambda e: None, lambda e: None)
        return run(go())

    def test_future_start_waits_for_its_revision(self) -> Deferred[Any]:
        async def go() -> None:
            cache, _ = await self._open()
            now = await cache.current_revision()
            _, col = await self._watch(cache, "/registry/pods/", now + 3)
            await cache.create("/registry/pods/ns/a", b"v")
            await cache.create("/registry/pods/ns/b", b"v")
            c = await cache.create("/registry/pods/ns/c", b"v")
            self.assertEqual([e.kv for e in await col.wait_for(1)], [c])
            await quiet()
            self.assertEqual(len(col.events), 1)
        return run(go())

    # -- watchers that fall behind -------------------------------------------------------

    def test_paused_watcher_past_capacity_is_cut_off(self) -> Deferred[Any]:
        async def go() -> None:
            cache, _ = await self._open(capacity=8)
            slow, slow_col = await self._watch(cache, "/registry/pods/", 0)
            _, fast = await self._watch(cache, "/registry/pods/", 0)
            await quiet(0)
            self.assertIsInstance(slow, CachedWatch)
            slow.pause()
            kvs = [await cache.create(f"/registry/pods/ns/p{i}", b"v") for i in range(8)]
            await quiet(0)
            self.assertEqual(slow_col.errors, [])  # exactly capacity behind: still on the ring
            self.assertEqual(slow.behind, 8)
            kvs.append(await cache.create("/registry/pods/ns/p8", b"v"))
            await quiet(0)
            self.assertEqual(len(slow_col.errors), 1)
            self.assertIsInstance(slow_col.errors[0], CompactedError)
            self.assertEqual(slow_col.events, [])
            slow.resume()
            await cache.create("/registry/pods/ns/p9", b"v")
            self.assertEqual([e.kv for e in await fast.wait_for(9)][:9], kvs)
            await quiet()
            self.assertEqual(len(slow_col.errors), 1)
            self.assertEqual(slow_col.events, [])
            self.assertEqual(fast.errors, [])
        return run(go())

    def test_paused_watcher_resumes_without_loss_within_capacity(self) -> Deferred[Any]:
        async def go() -> None:
            cache, _ = await self._open(capacity=8)
            w, col = await self._watch(cache, "/registry/pods/", 0)
            await quiet(0)
            assert isinstance(w, CachedWatch)
            w.pause()
            kvs = [await cache.create(f"/registry/pods/ns/p{i}", b"v") for i in range(5)]
            await quiet(0)
            self.assertEqual(col.events, [])
            w.resume()
            self.assertEqual([e.kv for e in col.events], kvs)
            self.assertEqual(col.calls, 1)  # what it missed arrives as one batch
            kvs.append(await cache.create("/registry/pods/ns/p5", b"v"))
            self.assertEqual([e.kv for e in await col.wait_for(6)], kvs)
            self.assertEqual(col.errors, [])
        return run(go())

    def test_fan_out_yields_the_reactor_and_keeps_order(self) -> Deferred[Any]:
        async def go() -> None:
            # A zero time budget forces every 32 watchers to wait for the next reactor turn.
            cache, _ = await self._open(capacity=64, delivery_budget=0.0)
            cols = [(await self._watch(cache, "/registry/pods/", 0))[1] for _ in range(200)]
            await quiet(0)
            kvs = [await cache.create("/registry/pods/ns/p0", b"v")]
            # The write's response comes in the turn its event reached the cache: only the
            # first slice of watchers has it yet, the rest get it on the next turns.
            self.assertEqual(sum(1 for c in cols if c.events), 32)
            kvs += [await cache.create(f"/registry/pods/ns/p{i}", b"v") for i in range(1, 30)]
            for col in cols:
                self.assertEqual([e.kv for e in await col.wait_for(30)], kvs)
                self.assertEqual(col.errors, [])
        return run(go())

    # -- backend failure -----------------------------------------------------------------

    def test_backend_watch_failure_relists_and_tells_clients_once(self) -> Deferred[Any]:
        async def go() -> None:
            cache, backend = await self._open(retry_initial=0.01)
            _, col1 = await self._watch(cache, "/registry/pods/", 0)
            _, col2 = await self._watch(cache, "/registry/pods/ns/", 0)
            a = await cache.create("/registry/pods/ns/a", b"1")
            await col1.wait_for(1)
            (handle,) = backend.running_watches
            backend.failing_lists = 2  # the first relists fail: the cache backs off and retries
            handle.fail(CompactedError(a.mod_revision, a.mod_revision))
            self.assertEqual([type(e) for e in col1.errors], [CompactedError])
            self.assertEqual([type(e) for e in col2.errors], [CompactedError])
            for _ in range(100):
                if len(backend.watch_calls) == 2 and cache.cache_revision("/registry/pods/"):
                    break
                await quiet(0.01)
            self.assertEqual(backend.watch_calls, ["/registry/pods/", "/registry/pods/"])
            self.assertEqual(backend.failing_lists, 0)
            b = await cache.create("/registry/pods/ns/b", b"1")
            _, col3 = await self._watch(cache, "/registry/pods/", b.mod_revision)
            self.assertEqual([e.kv for e in await col3.wait_for(1)], [b])
            await quiet()
            self.assertEqual(len(col1.errors), 1)
            self.assertEqual(len(col1.events), 1)
            listed = await cache.list_from_cache("/registry/pods/")
            self.assertEqual(listed.items, [a, b])
        return run(go())

    def test_failed_lazy_start_is_reported_and_retried(self) -> Deferred[Any]:
        async def go() -> None:
            cache, backend = await self._open(start=False)
            backend.failing_lists = 1
            with self.assertRaises(UnavailableError):
                await cache.watch("/registry/pods/", 0, lambda e: None, lambda e: None)
            self.assertEqual(backend.watch_calls, [])
            _, col = await self._watch(cache, "/registry/pods/", 0)
            a = await cache.create("/registry/pods/ns/a", b"v")
            self.assertEqual([e.kv for e in await col.wait_for(1)], [a])
            self.assertEqual(backend.watch_calls, ["/registry/pods/"])
        return run(go())

    def test_close_stops_backend_watches_and_silences_clients(self) -> Deferred[Any]:
        async def go() -> None:
            backend = CountingSQLite(self.mktemp() + ".db")
            await backend.open()
            cache = WatchCache(backend, ["/registry/pods/", "/registry/configmaps/"])
            await cache.start()
            col = EventCollector()
            await cache.watch("/registry/pods/", 0, col.on_events, col.on_error)
            self.assertEqual(len(backend.running_watches), 2)
            await cache.close()
            self.assertEqual(backend.running_watches, [])
            self.assertEqual(col.errors, [])
            self.assertFalse(await cache.healthy())
        return run(go())

    # -- LIST from the cache -------------------------------------------------------------

    def test_list_from_cache_equals_backend_list(self) -> Deferred[Any]:
        async def go() -> None:
            cache, backend = await self._open()
            for ns in ("ns1", "ns2", "ns10"):
                for name in ("b", "a", "c-1", "c.1", "é"):
                    await cache.create(f"/registry/pods/{ns}/{name}", ns.encode())
            old = await cache.get("/registry/pods/ns1/a")
            assert old is not None
            await cache.update("/registry/pods/ns1/a", b"new", old.mod_revision)
            await cache.delete("/registry/pods/ns2/b")
            await quiet(0)
            calls = len(backend.list_calls)
            for prefix in ("/registry/pods/", "/registry/pods/ns1/", "/registry/pods/ns2/",
                           "/registry/pods/nsx/"):
                for limit, after in ((0, None), (2, None), (3, f"{prefix}b"), (1, "/registry/pods/ns1/c-1")):
                    got = await cache.list_from_cache(prefix, limit=limit, start_after=after)
                    want = await backend.list(prefix, limit=limit, start_after=after)
                    self.assertEqual((got.items, got.more, got.remaining),
                                     (want.items, want.more, want.remaining), (prefix, limit, after))
                    self.assertEqual(got.revision, want.revision)
            # Only the reference reads above went to the backend.
            self.assertEqual(len(backend.list_calls), calls + 16)
        return run(go())

    def test_repeated_list_is_the_same_answer_until_a_change(self) -> Deferred[Any]:
        """The cache hands out one list per (prefix, limit, page start) until an event lands;
        every answer still equals the backend's."""
        async def go() -> None:
            cache, backend = await self._open()
            a = await cache.create("/registry/pods/ns1/a", b"1")
            await cache.create("/registry/pods/ns1/b", b"1")
            await quiet(0)
            shapes = [("/registry/pods/", 0, None), ("/registry/pods/ns1/", 1, None),
                      ("/registry/pods/", 1, "/registry/pods/ns1/a")]
            for step in range(3):
                for prefix, limit, after in shapes:
                    first = await cache.list_from_cache(prefix, limit=limit, start_after=after)
                    again = await cache.list_from_cache(prefix, limit=limit, start_after=after)
                    self.assertIs(again.items, first.items)
                    want = await backend.list(prefix, limit=limit, start_after=after)
                    self.assertEqual((first.items, first.more, first.remaining, first.revision),
                                     (want.items, want.more, want.remaining, want.revision), (step, prefix))
                if step == 0:
                    a = await cache.update("/registry/pods/ns1/a", b"2", a.mod_revision)
                elif step == 1:
                    await cache.delete("/registry/pods/ns1/b")
                await quiet(0)
        return run(go())

    def test_list_from_cache_too_large_revision(self) -> Deferred[Any]:
        async def go() -> None:
            cache, _ = await self._open(fresh_timeout=0.2)
            a = await cache.create("/registry/pods/ns/a", b"v")
            await quiet(0)
            got = await cache.list_from_cache("/registry/pods/", min_revision=a.mod_revision)
            self.assertEqual(got.items, [a])
            with self.assertRaises(FutureRevisionError) as cm:
                await cache.list_from_cache("/registry/pods/", min_revision=a.mod_revision + 5)
            self.assertEqual(str(cm.exception), f"{a.mod_revision + 5}, current: {a.mod_revision}")
        return run(go())

    def test_list_from_cache_before_filled_reads_backend_and_fills(self) -> Deferred[Any]:
        async def go() -> None:
            cache, backend = await self._open(start=False)
            a = await cache.create("/registry/pods/ns/a", b"v")
            self.assertEqual(cache.cache_revision("/registry/pods/"), 0)
            got = await cache.list_from_cache("/registry/pods/")
            self.assertEqual(got.items, [a])
            for _ in range(100):
                if cache.cache_revision("/registry/pods/"):
                    break
                await quiet(0.01)
            self.assertEqual(cache.cache_revision("/registry/pods/"), a.mod_revision)
            self.assertEqual(backend.watch_calls, ["/registry/pods/"])
        return run(go())

    # -- which prefixes are cached -------------------------------------------------------

    def test_resource_prefix_isolation(self) -> Deferred[Any]:
        async def go() -> None:
            cache, backend = await self._open(["/registry/pods/", "/registry/podsx/"])
            _, pods = await self._watch(cache, "/registry/pods/", 0)
            _, podsx = await self._watch(cache, "/registry/podsx/", 0)
            p = await cache.create("/registry/pods/ns/a", b"pod")
            x = await cache.create("/registry/podsx/ns/a", b"podx")
            await cache.create("/registry/pods", b"bare")
            self.assertEqual([e.kv for e in await pods.wait_for(1)], [p])
            self.assertEqual([e.kv for e in await podsx.wait_for(1)], [x])
            await quiet()
            self.assertEqual((len(pods.events), len(podsx.events)), (1, 1))
            self.assertEqual((await cache.list_from_cache("/registry/pods/")).items, [p])
            self.assertEqual((await cache.list_from_cache("/registry/podsx/")).items, [x])
            self.assertEqual(sorted(backend.watch_calls), ["/registry/pods/", "/registry/podsx/"])
            self.assertEqual(cache.cache_revision("/registry/pods/ns/"), cache.cache_revision("/registry/pods/"))
        return run(go())

    def test_uncached_prefix_passes_through(self) -> Deferred[Any]:
        async def go() -> None:
            cache, backend = await self._open()
            _, col = await self._watch(cache, "/registry/configmaps/", 0)
            _, wide = await self._watch(cache, "/registry/", 0)
            self.assertEqual(backend.watch_calls, ["/registry/pods/", "/registry/configmaps/", "/registry/"])
            cm = await cache.create("/registry/configmaps/ns/a", b"v")
            pod = await cache.create("/registry/pods/ns/a", b"v")
            self.assertEqual([e.kv for e in await col.wait_for(1)], [cm])
            self.assertEqual([e.kv for e in await wide.wait_for(2)], [cm, pod])
            self.assertEqual(cache.cache_revision("/registry/configmaps/"), 0)
        return run(go())


class CachedEtcdTests(TestCase):
    """The cache over real etcd (one shared member; keys under a per-test prefix)."""

    timeout = 60

    def setUp(self) -> None:
        try:
            from tests.support.etcd import shared_cluster
            self.cluster = shared_cluster()
        except Exception as e:  # noqa: BLE001 - no etcd binary here
            raise self.skipTest(f"etcd unavailable: {e}") from None
        self.prefix = f"/registry-cache-{uuid.uuid4().hex[:10]}/pods/"

    def test_fan_out_and_list_over_etcd(self) -> Deferred[Any]:
        from kubeapi.storage.etcd.backend import EtcdStorage

        async def go() -> None:
            backend = EtcdStorage(self.cluster.client())
            cache = WatchCache(backend, [self.prefix])
            self.addCleanup(lambda: Deferred.fromCoroutine(cache.close()))
            seed = await cache.create(self.prefix + "ns/seed", b"seed")
            cols = []
            for _ in range(100):
                col = EventCollector()
                # As a client does after a LIST at seed's revision (the cache fills lazily then).
                w = await cache.watch(self.prefix, seed.mod_revision + 1, col.on_events, col.on_error)
                self.addCleanup(w.stop)
                cols.append(col)
            kvs = [seed] + [await cache.create(self.prefix + f"ns/p{i}", b"v") for i in range(10)]
            for col in cols:
                got = await col.wait_for(10)
                self.assertEqual(summary(got), summary([Event("PUT", kv, None) for kv in kvs[1:]]))
            listed = await cache.list_from_cache(self.prefix)
            self.assertEqual(listed.items, (await backend.list(self.prefix)).items)
        return run(go())
