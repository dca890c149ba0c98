"""The storage contract suite: every backend must pass these tests unchanged.

Use it as ``class XTests(StorageContractMixin, TestCase)`` and implement
``make_storage`` (which registers its own cleanup).  Tests only touch keys under
``self.prefix`` (unique per test), never assume an empty store or revisions starting at
1 -- only relative order -- so they can share one etcd with other tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any

from twisted.internet import defer
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred

from kubeapi.storage.interface import (
    CompactedError,
    ConflictError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Storage,
    StorageError,
    Watch,
)
from tests.support.waiting import sleep

REACTOR: Any = _reactor
WAIT_TIMEOUT = 5.0
# How long to keep listening after a sync point to be sure nothing else arrives.
QUIET_PERIOD = 0.2


class EventCollector:
    """Collects watch events; ``wait_for(n)`` fires once n events arrived (or times out)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.errors: list[StorageError] = []
        self.calls = 0
        self._waiters: list[tuple[int, Deferred[list[Event]]]] = []

    def on_events(self, events: Sequence[Event]) -> None:
        self.calls += 1
        self.events.extend(events)
        self._wake()

    def on_error(self, error: StorageError) -> None:
        self.errors.append(error)

    def _wake(self) -> None:
        still = []
        for n, d in self._waiters:
            if len(self.events) >= n:
                d.callback(list(self.events))
            else:
                still.append((n, d))
        self._waiters = still

    def wait_for(self, n: int, timeout: float = WAIT_TIMEOUT) -> Deferred[list[Event]]:
        if len(self.events) >= n:
            return defer.succeed(list(self.events))
        d: Deferred[list[Event]] = Deferred()
        self._waiters.append((n, d))

        def expire() -> None:
            if not d.called:
                self._waiters = [(m, w) for m, w in self._waiters if w is not d]
                d.errback(AssertionError(
                    f"expected {n} events within {timeout}s, got {len(self.events)}: "
                    f"{[(e.type, e.kv.key, e.revision) for e in self.events]}"))

        call = REACTOR.callLater(timeout, expire)

        def disarm(result: Any) -> Any:
            if call.active():
                call.cancel()
            return result

        d.addBoth(disarm)
        return d


def quiet(seconds: float = QUIET_PERIOD) -> Deferred[None]:
    return sleep(seconds)


def summary(events: Sequence[Event]) -> list[tuple[str, str, bytes, int]]:
    return [(e.type, e.kv.key, e.kv.value, e.revision) for e in events]


def run(coro: Any) -> Deferred[Any]:
    return Deferred.fromCoroutine(coro)


class StorageContractMixin:
    """Tests any ``Storage`` must pass.  Mix into a ``twisted.trial.unittest.TestCase``."""

    prefix: str
    timeout = 30

    async def make_storage(self) -> Storage:
        raise NotImplementedError

    def setUp(self) -> None:
        parent = getattr(super(), "setUp", None)
        if parent is not None:
            parent()
        self.prefix = f"/registry-test-{uuid.uuid4().hex[:12]}/"

    def k(self, *parts: str) -> str:
        return self.prefix + "/".join(parts)

    async def _watch(self, s: Storage, prefix: str, start: int) -> tuple[Watch, EventCollector]:
        col = EventCollector()
        w = await s.watch(prefix, start, col.on_events, col.on_error)
        self.addCleanup(w.stop)  # type: ignore[attr-defined]
        return w, col

    # The TestCase assertion helpers, typed for mypy.
    def _tc(self) -> Any:
        return self

    # -- create / get ---------------------------------------------------------------------

    def test_create_then_get(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            before = await s.current_revision()
            kv = await s.create(self.k("a"), b"hello")
            t = self._tc()
            t.assertEqual(kv.key, self.k("a"))
            t.assertEqual(kv.value, b"hello")
            t.assertGreater(kv.mod_revision, before)
            t.assertEqual(kv.create_revision, kv.mod_revision)
            t.assertEqual(await s.get(self.k("a")), kv)
            t.assertGreaterEqual(await s.current_revision(), kv.mod_revision)
        return run(go())

    def test_get_missing_is_none(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            self._tc().assertIsNone(await s.get(self.k("nothing")))
        return run(go())

    def test_create_existing_raises_key_exists(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            first = await s.create(self.k("a"), b"1")
            t = self._tc()
            with t.assertRaises(KeyExistsError):
                await s.create(self.k("a"), b"2")
            t.assertEqual(await s.get(self.k("a")), first)
        return run(go())

    def test_empty_value(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            kv = await s.create(self.k("empty"), b"")
            got = await s.get(self.k("empty"))
            self._tc().assertEqual(got, kv)
            self._tc().assertEqual(got.value if got else None, b"")
        return run(go())

    def test_binary_values_byte_for_byte(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            every_byte = bytes(range(256)) * 4
            big = os.urandom(1024 * 1024)
            await s.create(self.k("bin"), every_byte)
            await s.create(self.k("big"), big)
            t = self._tc()
            got_bin = await s.get(self.k("bin"))
            got_big = await s.get(self.k("big"))
            t.assertEqual(got_bin.value if got_bin else None, every_byte)
            t.assertEqual(got_big.value if got_big else None, big)
            listed = await s.list(self.prefix)
            t.assertEqual({kv.key: kv.value for kv in listed.items},
                          {self.k("bin"): every_byte, self.k("big"): big})
        return run(go())

    # -- update ---------------------------------------------------------------------------

    def test_update_with_right_revision(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"1")
            v2 = await s.update(self.k("a"), b"2", v1.mod_revision)
            t = self._tc()
            t.assertEqual(v2.value, b"2")
            t.assertGreater(v2.mod_revision, v1.mod_revision)
            t.assertEqual(v2.create_revision, v1.create_revision)
            t.assertEqual(await s.get(self.k("a")), v2)
        return run(go())

    def test_update_conflict_carries_current(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"1")
            v2 = await s.update(self.k("a"), b"2", v1.mod_revision)
            t = self._tc()
            with t.assertRaises(ConflictError) as cm:
                await s.update(self.k("a"), b"3", v1.mod_revision)
            t.assertEqual(cm.exception.current, v2)
            t.assertEqual(await s.get(self.k("a")), v2)
        return run(go())

    def test_update_missing_raises_not_found(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            with self._tc().assertRaises(KeyNotFoundError):
                await s.update(self.k("ghost"), b"x", 1)
        return run(go())

    def test_update_after_delete_raises_not_found(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"1")
            await s.delete(self.k("a"))
            with self._tc().assertRaises(KeyNotFoundError):
                await s.update(self.k("a"), b"2", v1.mod_revision)
        return run(go())

    # -- delete ---------------------------------------------------------------------------

    def test_delete_returns_deleted_value_at_deletion_revision(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"payload")
            gone = await s.delete(self.k("a"))
            t = self._tc()
            t.assertEqual(gone.key, self.k("a"))
            t.assertEqual(gone.value, b"payload")
            t.assertEqual(gone.create_revision, v1.create_revision)
            t.assertGreater(gone.mod_revision, v1.mod_revision)
            t.assertIsNone(await s.get(self.k("a")))
            t.assertGreaterEqual(await s.current_revision(), gone.mod_revision)
        return run(go())

    def test_delete_missing_raises_not_found(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            with self._tc().assertRaises(KeyNotFoundError):
                await s.delete(self.k("ghost"))
        return run(go())

    def test_delete_with_expected_revision(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"1")
            v2 = await s.update(self.k("a"), b"2", v1.mod_revision)
            t = self._tc()
            with t.assertRaises(ConflictError) as cm:
                await s.delete(self.k("a"), v1.mod_revision)
            t.assertEqual(cm.exception.current, v2)
            t.assertEqual(await s.get(self.k("a")), v2)
            gone = await s.delete(self.k("a"), v2.mod_revision)
            t.assertEqual(gone.value, b"2")
            t.assertIsNone(await s.get(self.k("a")))
        return run(go())

    def test_recreate_after_delete_has_new_create_revision(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"1")
            gone = await s.delete(self.k("a"))
            v2 = await s.create(self.k("a"), b"again")
            t = self._tc()
            t.assertGreater(v2.create_revision, gone.mod_revision)
            t.assertEqual(v2.create_revision, v2.mod_revision)
            t.assertNotEqual(v2.create_revision, v1.create_revision)
        return run(go())

    # -- revisions ------------------------------------------------------------------------

    def test_revisions_are_global_and_increasing(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            a = await s.create(self.k("a"), b"1")
            b = await s.create(self.k("b"), b"1")
            a2 = await s.update(self.k("a"), b"2", a.mod_revision)
            bd = await s.delete(self.k("b"))
            revs = [a.mod_revision, b.mod_revision, a2.mod_revision, bd.mod_revision]
            t = self._tc()
            t.assertEqual(revs, sorted(set(revs)))
            t.assertGreaterEqual(await s.current_revision(), bd.mod_revision)
            # A failed write does not move the revision.
            now = await s.current_revision()
            with t.assertRaises(KeyExistsError):
                await s.create(self.k("a"), b"x")
            with t.assertRaises(ConflictError):
                await s.update(self.k("a"), b"x", a.mod_revision)
            c = await s.create(self.k("c"), b"1")
            t.assertGreater(c.mod_revision, now)
        return run(go())

    def test_concurrent_creates_get_distinct_revisions(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            n = 60
            ds = [defer.ensureDeferred(s.create(self.k(f"c{i:03d}"), b"%d" % i)) for i in range(n)]
            kvs = await defer.gatherResults(ds, consumeErrors=True)
            t = self._tc()
            t.assertEqual(len({kv.mod_revision for kv in kvs}), n)
            listed = await s.list(self.prefix)
            t.assertEqual(len(listed.items), n)
            t.assertEqual(sorted(listed.items, key=lambda kv: kv.key), sorted(kvs, key=lambda kv: kv.key))
        return run(go())

    def test_concurrent_creates_same_key_one_wins(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            ds = [defer.ensureDeferred(s.create(self.k("race"), b"%d" % i)) for i in range(10)]
            results = await defer.DeferredList(ds, consumeErrors=True)
            wins = [r for ok, r in results if ok]
            losses = [r for ok, r in results if not ok]
            t = self._tc()
            t.assertEqual(len(wins), 1)
            t.assertEqual(len(losses), 9)
            for f in losses:
                t.assertIsInstance(f.value, KeyExistsError)
            t.assertEqual(await s.get(self.k("race")), wins[0])
        return run(go())

    # -- list -----------------------------------------------------------------------------

    def test_list_prefix_sorted_and_isolated_from_siblings(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            pods = self.prefix + "pods/"
            await s.create(pods + "ns1/b", b"b")
            await s.create(pods + "ns1/a", b"a")
            await s.create(pods + "ns2/a", b"c")
            await s.create(self.prefix + "podsx/ns1/a", b"sibling")
            await s.create(self.prefix + "pods", b"bare")
            last = await s.create(self.prefix + "podt/a", b"after")
            res = await s.list(pods)
            t = self._tc()
            t.assertEqual([kv.key for kv in res.items], [pods + "ns1/a", pods + "ns1/b", pods + "ns2/a"])
            t.assertEqual([kv.value for kv in res.items], [b"a", b"b", b"c"])
            t.assertFalse(res.more)
            t.assertEqual(res.remaining, 0)
            t.assertGreaterEqual(res.revision, last.mod_revision)
            ns1 = await s.list(pods + "ns1/")
            t.assertEqual([kv.key for kv in ns1.items], [pods + "ns1/a", pods + "ns1/b"])
        return run(go())

    def test_list_orders_keys_by_bytes(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            names = ["a/b", "a-b", "a.b", "B", "a", "ab", "é", "z"]
            for name in names:
                await s.create(self.k(name), b"x")
            res = await s.list(self.prefix)
            want = sorted((self.k(n) for n in names), key=lambda key: key.encode())
            self._tc().assertEqual([kv.key for kv in res.items], want)
        return run(go())

    def test_list_excludes_deleted_and_shows_latest(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            a = await s.create(self.k("a"), b"1")
            await s.create(self.k("b"), b"1")
            a2 = await s.update(self.k("a"), b"2", a.mod_revision)
            await s.delete(self.k("b"))
            res = await s.list(self.prefix)
            self._tc().assertEqual(res.items, [a2])
        return run(go())

    def test_list_empty_prefix(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            await s.create(self.k("other", "x"), b"1")
            res = await s.list(self.prefix + "none/")
            t = self._tc()
            t.assertEqual(res.items, [])
            t.assertFalse(res.more)
            t.assertGreater(res.revision, 0)
        return run(go())

    def test_list_snapshot_at_older_revision(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            a1 = await s.create(self.k("a"), b"a1")
            b1 = await s.create(self.k("b"), b"b1")
            r1 = b1.mod_revision
            a2 = await s.update(self.k("a"), b"a2", a1.mod_revision)
            await s.delete(self.k("b"))
            c1 = await s.create(self.k("c"), b"c1")
            t = self._tc()
            old = await s.list(self.prefix, revision=r1)
            t.assertEqual(old.items, [a1, b1])
            t.assertEqual(old.revision, r1)
            mid = await s.list(self.prefix, revision=a2.mod_revision)
            t.assertEqual(mid.items, [a2, b1])
            now = await s.list(self.prefix)
            t.assertEqual(now.items, [a2, c1])
            t.assertGreaterEqual(now.revision, c1.mod_revision)
        return run(go())

    def test_list_future_revision_raises(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            await s.create(self.k("a"), b"1")
            now = await s.current_revision()
            with self._tc().assertRaises(FutureRevisionError):
                await s.list(self.prefix, revision=now + 1000)
        return run(go())

    def test_list_pagination(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            keys = [self.k(f"item-{i}") for i in range(5)]
            for key in keys:
                await s.create(key, key.encode())
            t = self._tc()
            first = await s.list(self.prefix, limit=2)
            t.assertEqual([kv.key for kv in first.items], keys[:2])
            t.assertTrue(first.more)
            t.assertEqual(first.remaining, 3)
            # A write after the first page does not change later pages read at its revision.
            await s.create(self.k("item-3a"), b"late")
            second = await s.list(self.prefix, revision=first.revision, limit=2,
                                  start_after=first.items[-1].key)
            t.assertEqual([kv.key for kv in second.items], keys[2:4])
            t.assertTrue(second.more)
            t.assertEqual(second.remaining, 1)
            t.assertEqual(second.revision, first.revision)
            third = await s.list(self.prefix, revision=first.revision, limit=2,
                                 start_after=second.items[-1].key)
            t.assertEqual([kv.key for kv in third.items], keys[4:])
            t.assertFalse(third.more)
            t.assertEqual(third.remaining, 0)
            exact = await s.list(self.prefix, revision=first.revision, limit=5)
            t.assertEqual(len(exact.items), 5)
            t.assertFalse(exact.more)
            now = await s.list(self.prefix, limit=3, start_after=keys[2])
            t.assertEqual([kv.key for kv in now.items], [self.k("item-3"), self.k("item-3a"), keys[4]])
            t.assertFalse(now.more)
        return run(go())

    def test_list_start_after_skips_deleted_and_other_prefixes(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            for name in ("a", "b", "c", "d"):
                await s.create(self.k("p", name), b"x")
            await s.create(self.k("q", "a"), b"x")
            await s.delete(self.k("p", "c"))
            res = await s.list(self.prefix + "p/", limit=1, start_after=self.k("p", "a"))
            t = self._tc()
            t.assertEqual([kv.key for kv in res.items], [self.k("p", "b")])
            t.assertTrue(res.more)
            t.assertEqual(res.remaining, 1)
        return run(go())

    # -- watch ----------------------------------------------------------------------------

    def test_watch_from_now(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            before = await s.create(self.k("old"), b"old")
            _, col = await self._watch(s, self.prefix, 0)
            v1 = await s.create(self.k("a"), b"1")
            v2 = await s.update(self.k("a"), b"2", v1.mod_revision)
            gone = await s.delete(self.k("a"))
            events = await col.wait_for(3)
            t = self._tc()
            t.assertEqual([e.type for e in events], ["PUT", "PUT", "DELETE"])
            t.assertEqual(events[0].kv, v1)
            t.assertIsNone(events[0].prev)
            t.assertEqual(events[1].kv, v2)
            t.assertEqual(events[1].prev, v1)
            t.assertEqual(events[2].kv, gone)
            t.assertEqual(events[2].prev, v2)
            t.assertTrue(all(e.revision > before.mod_revision for e in events))
            await quiet()
            t.assertEqual(len(col.events), 3)
            t.assertEqual(col.errors, [])
        return run(go())

    def test_watch_delete_event_semantics(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"1")
            v2 = await s.update(self.k("a"), b"2", v1.mod_revision)
            _, col = await self._watch(s, self.prefix, 0)
            gone = await s.delete(self.k("a"))
            (ev,) = await col.wait_for(1)
            t = self._tc()
            t.assertEqual(ev.type, "DELETE")
            t.assertEqual(ev.kv, KeyValue(self.k("a"), b"2", v1.create_revision, gone.mod_revision))
            t.assertEqual(ev.revision, gone.mod_revision)
            t.assertEqual(ev.prev, v2)
        return run(go())

    def test_watch_from_past_revision_replays_then_continues(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"1")
            b1 = await s.create(self.k("b"), b"1")
            v2 = await s.update(self.k("a"), b"2", v1.mod_revision)
            bd = await s.delete(self.k("b"))
            _, col = await self._watch(s, self.prefix, v1.mod_revision)
            replay = await col.wait_for(4)
            t = self._tc()
            t.assertEqual(summary(replay), [
                ("PUT", self.k("a"), b"1", v1.mod_revision),
                ("PUT", self.k("b"), b"1", b1.mod_revision),
                ("PUT", self.k("a"), b"2", v2.mod_revision),
                ("DELETE", self.k("b"), b"1", bd.mod_revision),
            ])
            t.assertIsNone(replay[0].prev)
            t.assertEqual(replay[2].prev, v1)
            t.assertEqual(replay[3].prev, b1)
            v3 = await s.update(self.k("a"), b"3", v2.mod_revision)
            events = await col.wait_for(5)
            t.assertEqual(events[4].kv, v3)
            t.assertEqual(events[4].prev, v2)
            await quiet()
            t.assertEqual(len(col.events), 5)
        return run(go())

    def test_watch_start_revision_is_inclusive(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            await s.create(self.k("a"), b"1")
            b = await s.create(self.k("b"), b"1")
            c = await s.create(self.k("c"), b"1")
            _, col = await self._watch(s, self.prefix, b.mod_revision)
            events = await col.wait_for(2)
            t = self._tc()
            t.assertEqual([e.kv for e in events], [b, c])
            await quiet()
            t.assertEqual(len(col.events), 2)
        return run(go())

    def test_watch_past_revision_while_writing_has_no_gap_or_duplicate(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            first = await s.create(self.k("w-000"), b"0")
            await quiet(0)  # let the backend settle so the next writes really are in flight
            # Writes in flight while the watch catches up.
            inflight = [defer.ensureDeferred(s.create(self.k(f"w-{i:03d}"), b"x")) for i in range(1, 40)]
            _, col = await self._watch(s, self.prefix, first.mod_revision)
            more = [defer.ensureDeferred(s.create(self.k(f"w-{i:03d}"), b"y")) for i in range(40, 60)]
            kvs = [first] + list(await defer.gatherResults(inflight + more, consumeErrors=True))
            events = await col.wait_for(60)
            t = self._tc()
            t.assertEqual([e.revision for e in events], sorted(kv.mod_revision for kv in kvs))
            await quiet()
            t.assertEqual(len(col.events), 60)
        return run(go())

    def test_watch_prefix_isolation(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            _, pods = await self._watch(s, self.prefix + "pods/", 0)
            _, everything = await self._watch(s, self.prefix, 0)
            await s.create(self.prefix + "podsx/a", b"sibling")
            await s.create(self.prefix + "pods", b"bare")
            mine = await s.create(self.prefix + "pods/ns/a", b"mine")
            await everything.wait_for(3)
            events = await pods.wait_for(1)
            await quiet()
            t = self._tc()
            t.assertEqual([e.kv for e in pods.events], [mine])
            t.assertEqual(len(events), 1)
        return run(go())

    def test_watch_batch_order_across_keys(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            _, col = await self._watch(s, self.prefix, 0)
            ds = [defer.ensureDeferred(s.create(self.k(f"k{i}"), b"v")) for i in range(20)]
            kvs = await defer.gatherResults(ds, consumeErrors=True)
            events = await col.wait_for(20)
            revs = [e.revision for e in events]
            t = self._tc()
            t.assertEqual(revs, sorted(revs))
            t.assertEqual(sorted(revs), sorted(kv.mod_revision for kv in kvs))
        return run(go())

    def test_watch_stop_is_idempotent_and_silences(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            w, col = await self._watch(s, self.prefix, 0)
            _, sentinel = await self._watch(s, self.prefix, 0)
            await s.create(self.k("a"), b"1")
            await col.wait_for(1)
            w.stop()
            w.stop()
            await s.create(self.k("b"), b"1")
            await sentinel.wait_for(2)
            await quiet()
            t = self._tc()
            t.assertEqual(len(col.events), 1)
            t.assertEqual(col.errors, [])
        return run(go())

    def test_watch_stop_before_replay_is_delivered(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"1")
            await s.create(self.k("b"), b"1")
            col = EventCollector()
            w = await s.watch(self.prefix, v1.mod_revision, col.on_events, col.on_error)
            w.stop()
            await s.create(self.k("c"), b"1")
            await quiet()
            self._tc().assertEqual(col.events, [])
        return run(go())

    def test_watch_from_future_revision_waits(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"1")
            _, col = await self._watch(s, self.prefix, v1.mod_revision + 2)
            await s.create(self.k("b"), b"1")  # may be v1+1 (or later on a shared store)
            c = await s.create(self.k("c"), b"1")
            events = await col.wait_for(1)
            t = self._tc()
            t.assertTrue(all(e.revision >= v1.mod_revision + 2 for e in events))
            t.assertEqual(events[-1].kv, c)
        return run(go())

    # -- compaction -----------------------------------------------------------------------

    def test_compaction_keeps_current_and_refuses_old_revisions(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            v1 = await s.create(self.k("a"), b"1")
            b1 = await s.create(self.k("b"), b"1")
            v2 = await s.update(self.k("a"), b"2", v1.mod_revision)
            await s.delete(self.k("b"))
            c1 = await s.create(self.k("c"), b"1")
            at = c1.mod_revision
            await s.compact(at)
            t = self._tc()
            with t.assertRaises(CompactedError) as cm:
                await s.list(self.prefix, revision=b1.mod_revision)
            t.assertGreaterEqual(cm.exception.compact_revision, at)
            with t.assertRaises(CompactedError):
                await s.watch(self.prefix, v1.mod_revision, lambda evs: None, lambda err: None)
            t.assertEqual((await s.list(self.prefix)).items, [v2, c1])
            t.assertEqual(await s.get(self.k("a")), v2)
            t.assertEqual((await s.list(self.prefix, revision=at)).items, [v2, c1])
            # Watching from the compaction revision itself is still possible.
            _, col = await self._watch(s, self.prefix, at)
            (ev,) = await col.wait_for(1)
            t.assertEqual(ev.kv, c1)
            v3 = await s.update(self.k("a"), b"3", v2.mod_revision)
            events = await col.wait_for(2)
            t.assertEqual(events[1].kv, v3)
            t.assertEqual(events[1].prev, v2)
        return run(go())

    def test_healthy(self) -> Deferred[Any]:
        async def go() -> None:
            s = await self.make_storage()
            self._tc().assertTrue(await s.healthy())
        return run(go())
