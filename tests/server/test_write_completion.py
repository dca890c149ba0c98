"""A write handed to storage completes when its request is cancelled (the client hung up),
on real etcd and on the embedded store alike; a cancelled read is a CancelledError, not a
storage failure (which the pipeline would log as one)."""

from __future__ import annotations

import uuid
from typing import Any

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from kubeapi.server.metrics import Metrics
from kubeapi.server.storagemetrics import TimedStorage
from kubeapi.storage.embedded.store import SQLiteStorage
from kubeapi.storage.etcd.backend import EtcdStorage
from tests.support.etcd import shared_cluster

N = 50


class _Completion:
    timeout = 30

    async def backend(self) -> Any:
        raise NotImplementedError

    async def cancelled_writes(self, prefix: str) -> None:
        storage = await self.backend()
        timed = TimedStorage(storage, Metrics(), "", "configmaps")
        calls = [Deferred.fromCoroutine(timed.create(f"{prefix}{i:03d}", b"v")) for i in range(N)]
        for d in calls:
            d.cancel()
        outcomes = await defer.DeferredList(calls, consumeErrors=True)
        self.assertTrue(all(not ok and f.check(defer.CancelledError) for ok, f in outcomes))  # type: ignore[attr-defined]
        for _ in range(100):  # the writes finish on their own
            listed = await storage.list(prefix)
            if len(listed.items) == N:
                break
            await _sleep(0.05)
        self.assertEqual([kv.key for kv in listed.items], [f"{prefix}{i:03d}" for i in range(N)])  # type: ignore[attr-defined]
        # and an update or delete cancelled the same way also lands
        kv = listed.items[0]
        for call in (timed.update(kv.key, b"w", kv.mod_revision), timed.delete(listed.items[1].key)):
            d = Deferred.fromCoroutine(call)
            d.cancel()
            self.assertIsInstance(self.failureResultOf(d).value, defer.CancelledError)  # type: ignore[attr-defined]
        for _ in range(100):
            now = await storage.list(prefix)
            if len(now.items) == N - 1 and now.items[0].value == b"w":
                break
            await _sleep(0.05)
        self.assertEqual((len(now.items), now.items[0].value), (N - 1, b"w"))  # type: ignore[attr-defined]

    def test_cancelled_writes_are_stored(self) -> Deferred[None]:
        return Deferred.fromCoroutine(self.cancelled_writes(f"/completion-{uuid.uuid4().hex[:8]}/"))


class EtcdWriteCompletionTests(_Completion, TestCase):
    async def backend(self) -> Any:
        storage = EtcdStorage(shared_cluster().client())
        self.addCleanup(lambda: Deferred.fromCoroutine(storage.close()))
        return storage

    def test_cancelled_read_is_a_cancellation(self) -> Deferred[None]:
        async def go() -> None:
            storage = await self.backend()
            timed = TimedStorage(storage, Metrics(), "", "configmaps")
            d = Deferred.fromCoroutine(timed.list("/completion-read/"))  # the first call dials etcd
            d.cancel()
            with self.assertRaises(defer.CancelledError):
                await d
            listed = await timed.list("/completion-read/")  # the dial went on for the next caller
            self.assertEqual(listed.items, [])
        return Deferred.fromCoroutine(go())


class EmbeddedWriteCompletionTests(_Completion, TestCase):
    async def backend(self) -> Any:
        storage = SQLiteStorage(self.mktemp() + ".db")  # type: ignore[attr-defined]
        await storage.open()
        self.addCleanup(lambda: Deferred.fromCoroutine(storage.close()))  # type: ignore[attr-defined]
        return storage


def _sleep(seconds: float) -> Deferred[None]:
    from twisted.internet import reactor
    from twisted.internet.task import deferLater

    return deferLater(reactor, seconds, lambda: None)
