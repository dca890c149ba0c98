"""The etcd backend on real etcd: the storage contract, TLS, failover, outage, compaction."""

from __future__ import annotations

import time
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from kubeapi.storage.etcd.backend import EtcdStorage
from kubeapi.storage.etcd.client import EtcdClient
from kubeapi.storage.etcd.compactor import PeriodicCompactor
from kubeapi.storage.etcd.watch import EtcdWatch
from kubeapi.storage.interface import (
    CompactedError,
    ConflictError,
    Storage,
    StorageError,
    TimeoutError_,
    UnavailableError,
)
from tests.storage.contract import EventCollector, StorageContractMixin, run
from tests.support.etcd import EtcdCluster, TLSFiles, shared_cluster
from tests.support.waiting import sleep


class _SharedEtcd:
    """One single-member etcd for all these tests (each uses its own key prefix)."""

    @property
    def cluster(self) -> EtcdCluster:
        return shared_cluster()

    def storage(self, **kw: Any) -> EtcdStorage:
        s = EtcdStorage(self.cluster.client(**kw))
        self.addCleanup(lambda: Deferred.fromCoroutine(s.close()))  # type: ignore[attr-defined]
        return s


class EtcdContractTests(_SharedEtcd, StorageContractMixin, TestCase):
    async def make_storage(self) -> Storage:
        return self.storage()


class EtcdSingleMemberTests(_SharedEtcd, TestCase):
    timeout = 30

    def test_watch_from_compacted_revision_raises(self) -> Deferred[Any]:
        async def go() -> None:
            s = self.storage()
            a = await s.create("/cmp/a", b"1")
            b = await s.update("/cmp/a", b"2", a.mod_revision)
            await s.update("/cmp/a", b"3", b.mod_revision)
            await s.compact(b.mod_revision)
            col = EventCollector()
            with self.assertRaises(CompactedError) as cm:
                await s.watch("/cmp/", a.mod_revision, col.on_events, col.on_error)
            self.assertEqual(cm.exception.compact_revision, b.mod_revision)
            w = await s.watch("/cmp/", b.mod_revision, col.on_events, col.on_error)
            self.addCleanup(w.stop)
            events = await col.wait_for(2)
            self.assertEqual([e.kv.value for e in events], [b"2", b"3"])
        return run(go())

    def test_list_reports_remaining_items(self) -> Deferred[Any]:
        async def go() -> None:
            s = self.storage()
            for i in range(5):
                await s.create(f"/rem/{i}", b"x")
            page = await s.list("/rem/", limit=2)
            self.assertEqual([kv.key for kv in page.items], ["/rem/0", "/rem/1"])
            self.assertTrue(page.more)
            self.assertEqual(page.remaining, 3)
        return run(go())

    def test_periodic_compactor_compacts_one_interval_behind(self) -> Deferred[Any]:
        async def go() -> None:
            s = self.storage()
            first = PeriodicCompactor(s.client, interval=0)
            other = PeriodicCompactor(self.cluster.client(), interval=0)
            self.addCleanup(lambda: Deferred.fromCoroutine(other.client.close()))
            self.assertIsNone(await first.tick())  # records the revision, compacts nothing
            kv = await s.create("/pc/a", b"1")
            # A second API server ticking in between loses the CAS and does nothing.
            self.assertIsNone(await other.tick())
            rev = await first.tick()
            self.assertIsNotNone(rev)
            assert rev is not None
            self.assertLess(rev, kv.mod_revision)
            with self.assertRaises(CompactedError):
                await s.list("/pc/", revision=rev - 1)
        return run(go())

    def test_too_large_value_is_refused(self) -> Deferred[Any]:
        async def go() -> None:
            s = self.storage()
            from kubeapi.storage.interface import TooLargeError

            with self.assertRaises(TooLargeError):
                await s.create("/big/a", b"x" * (2 * 1024 * 1024))
            self.assertIsNone(await s.get("/big/a"))
        return run(go())


class EtcdTLSTests(TestCase):
    timeout = 40

    def test_client_cert_required(self) -> Deferred[Any]:
        async def go() -> None:
            tmp = self.mktemp()
            tls = TLSFiles.generate(tmp + "/pki")
            stranger = TLSFiles.generate(tmp + "/other", name="stranger")
            cluster = EtcdCluster(1, tls=tls)
            self.addCleanup(cluster.stop)
            await cluster.start()
            self.assertTrue(cluster.endpoints[0].startswith("https://"))

            good = EtcdStorage(cluster.client())
            self.addCleanup(lambda: Deferred.fromCoroutine(good.close()))
            kv = await good.create("/tls/a", b"secret")
            got = await good.get("/tls/a")
            assert got is not None
            self.assertEqual(got.mod_revision, kv.mod_revision)

            # Right CA, but a client certificate the server never signed.
            wrong = EtcdStorage(EtcdClient(cluster.endpoints, ca_file=tls.ca, cert_file=stranger.client_cert,
                                           key_file=stranger.client_key, dial_timeout=2, request_timeout=3))
            self.addCleanup(lambda: Deferred.fromCoroutine(wrong.close()))
            with self.assertRaises(UnavailableError):
                await wrong.get("/tls/a")
            # No client certificate at all.
            anon = EtcdStorage(EtcdClient(cluster.endpoints, ca_file=tls.ca, dial_timeout=2, request_timeout=3))
            self.addCleanup(lambda: Deferred.fromCoroutine(anon.close()))
            with self.assertRaises(UnavailableError):
                await anon.get("/tls/a")
            # A client that does not trust the server's CA refuses to talk to it.
            distrust = EtcdStorage(EtcdClient(cluster.endpoints, ca_file=stranger.ca,
                                              cert_file=tls.client_cert, key_file=tls.client_key,
                                              dial_timeout=2, request_timeout=3))
            self.addCleanup(lambda: Deferred.fromCoroutine(distrust.close()))
            with self.assertRaises(UnavailableError):
                await distrust.get("/tls/a")
        return run(go())


class EtcdOutageTests(TestCase):
    timeout = 40

    def test_stopped_etcd_fails_fast_and_recovers(self) -> Deferred[Any]:
        async def go() -> None:
            cluster = EtcdCluster(1)
            self.addCleanup(cluster.stop)
            await cluster.start()
            s = EtcdStorage(cluster.client(dial_timeout=1.0, request_timeout=2.0))
            self.addCleanup(lambda: Deferred.fromCoroutine(s.close()))
            kv = await s.create("/o/a", b"1")
            cluster.kill(0)
            for op in (lambda: s.get("/o/a"), lambda: s.create("/o/b", b"1"),
                       lambda: s.update("/o/a", b"2", kv.mod_revision), lambda: s.list("/o/")):
                t0 = time.monotonic()
                with self.assertRaises((UnavailableError, TimeoutError_)):
                    await op()
                self.assertLess(time.monotonic() - t0, 3.0)
            self.assertFalse(await s.healthy())
            await cluster.restart(0)
            got = await s.get("/o/a")
            assert got is not None
            self.assertEqual(got.value, b"1")
            await s.update("/o/a", b"2", kv.mod_revision)
            self.assertTrue(await s.healthy())
        return run(go())


class EtcdClusterTests(TestCase):
    """Three members; the client starts on the first endpoint."""

    timeout = 60

    def test_failover_under_load_keeps_watch_exact(self) -> Deferred[Any]:
        async def go() -> None:
            cluster = EtcdCluster(3)
            self.addCleanup(cluster.stop)
            await cluster.start()
            s = EtcdStorage(cluster.client(dial_timeout=1.0, request_timeout=5.0))
            self.addCleanup(lambda: Deferred.fromCoroutine(s.close()))
            col = EventCollector()
            w = await s.watch("/fo/", 0, col.on_events, col.on_error)
            self.addCleanup(w.stop)
            assert isinstance(w, EtcdWatch)

            written: list[int] = []
            for i in range(20):
                written.append((await s.create(f"/fo/{i:03d}", b"v")).mod_revision)
            victim = s.client.current_endpoint.authority
            self.assertEqual(w.authority, victim)
            cluster.kill(victim)

            # Reads succeed right away (retried on another member).
            got = await s.get("/fo/000")
            assert got is not None
            # Writes succeed once the cluster has a leader again (it may be electing one).
            deadline = time.monotonic() + 15
            i = 20
            while i < 40:
                try:
                    written.append((await s.create(f"/fo/{i:03d}", b"v")).mod_revision)
                    i += 1
                except (UnavailableError, TimeoutError_):
                    self.assertLess(time.monotonic(), deadline, "writes never recovered")
                    await sleep(0.1)
                except StorageError as e:  # an unknown-fate write that did apply: KeyExists
                    self.assertIn("fo/", str(e))
                    kv = await s.get(f"/fo/{i:03d}")
                    assert kv is not None
                    written.append(kv.mod_revision)
                    i += 1
            self.assertNotEqual(s.client.current_endpoint.authority, victim)
            events = await col.wait_for(40, timeout=15)
            await sleep(0.3)
            self.assertEqual(len(col.events), 40)
            self.assertEqual([e.kv.key for e in col.events], [f"/fo/{i:03d}" for i in range(40)])
            self.assertEqual([e.revision for e in events], written)
            self.assertEqual(col.errors, [])
            self.assertGreaterEqual(w.reconnects, 1)
            self.assertNotEqual(w.authority, victim)
        return run(go())

    def test_watch_resumed_after_compaction_reports_once(self) -> Deferred[Any]:
        async def go() -> None:
            cluster = EtcdCluster(3)
            self.addCleanup(cluster.stop)
            await cluster.start()
            # The watcher knows only m0, so it cannot resume until m0 is back; the writer
            # talks to the other members and keeps working meanwhile.
            s = EtcdStorage(EtcdClient(cluster.endpoints[:1], dial_timeout=1.0, request_timeout=5.0))
            self.addCleanup(lambda: Deferred.fromCoroutine(s.close()))
            writer = EtcdStorage(EtcdClient(cluster.endpoints[1:], request_timeout=5.0))
            self.addCleanup(lambda: Deferred.fromCoroutine(writer.close()))
            col = EventCollector()
            w = await s.watch("/wc/", 0, col.on_events, col.on_error)
            self.addCleanup(w.stop)
            kv = await writer.create("/wc/a", b"1")
            await col.wait_for(1)
            cluster.kill(0)
            done, deadline = 0, time.monotonic() + 15
            while done < 3:  # m0 may have been the leader: writes wait for an election
                self.assertLess(time.monotonic(), deadline, "writes never recovered")
                try:
                    kv = await writer.update("/wc/a", b"x", kv.mod_revision)
                    done += 1
                except (UnavailableError, TimeoutError_, ConflictError):
                    await sleep(0.1)
                    try:
                        kv = await writer.get("/wc/a") or kv
                    except (UnavailableError, TimeoutError_):
                        pass
            await writer.compact(kv.mod_revision)
            await cluster.restart(0)
            for _ in range(100):
                if col.errors:
                    break
                await sleep(0.1)
            await sleep(0.3)
            self.assertEqual(len(col.errors), 1)
            self.assertIsInstance(col.errors[0], CompactedError)
            self.assertEqual(len(col.events), 1)
        return run(go())
