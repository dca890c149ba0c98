"""ClusterIP / NodePort allocators over the embedded store."""

from __future__ import annotations

import base64
import os
import tempfile

import orjson
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.trial import unittest

from kubeapi.errors import StatusError
from kubeapi.registry.allocator import ServiceAllocators
from kubeapi.storage.embedded.store import SQLiteStorage


class AllocatorTests(unittest.TestCase):
    def setUp(self) -> Deferred[None]:  # type: ignore[override]
        self.dir = tempfile.mkdtemp(prefix="kubeapi-alloc-")
        self.path = os.path.join(self.dir, "db.sqlite")
        self.storages: list[SQLiteStorage] = []
        return Deferred.fromCoroutine(self._open_default())

    async def _open_default(self) -> None:
        self.storage = await self.open()

    async def open(self) -> SQLiteStorage:
        s = SQLiteStorage(self.path, compaction_interval=0)
        await s.open()
        self.storages.append(s)
        return s

    def tearDown(self) -> Deferred[None]:  # type: ignore[override]
        async def close() -> None:
            for s in self.storages:
                await s.close()
        return Deferred.fromCoroutine(close())

    def test_first_ip_and_dynamic_never_network_or_broadcast(self) -> Deferred[None]:
        async def go() -> None:
            a = ServiceAllocators(self.storage, service_cidr="10.0.0.0/29")
            self.assertEqual(a.first_service_ip(), "10.0.0.1")
            self.assertEqual(await a.allocate_cluster_ip("10.0.0.1"), "10.0.0.1")
            got = {await a.allocate_cluster_ip(None) for _ in range(5)}
            self.assertEqual(got, {f"10.0.0.{i}" for i in range(2, 7)})
            with self.assertRaises(StatusError) as cm:
                await a.allocate_cluster_ip(None)
            self.assertEqual(cm.exception.code, 500)
            self.assertEqual(cm.exception.message,
                             "Internal error occurred: failed to allocate a serviceIP: range is full")
        return Deferred.fromCoroutine(go())

    def test_requested_ip_errors(self) -> Deferred[None]:
        async def go() -> None:
            a = ServiceAllocators(self.storage)
            with self.assertRaises(StatusError) as cm:
                await a.allocate_cluster_ip("10.1.0.5")
            self.assertEqual(cm.exception.code, 422)
            self.assertIn('spec.clusterIPs: Invalid value: ["10.1.0.5"]: failed to allocate IP 10.1.0.5: '
                          "the provided IP (10.1.0.5) is not in the valid range. The range of valid IPs "
                          "is 10.0.0.0/24", cm.exception.message)
            for bad in ("10.0.0.0", "10.0.0.255"):
                with self.assertRaises(StatusError):
                    await a.allocate_cluster_ip(bad)
            await a.allocate_cluster_ip("10.0.0.5")
            with self.assertRaises(StatusError) as cm:
                await a.allocate_cluster_ip("10.0.0.5")
            self.assertEqual(cm.exception.reason, "Invalid")
            self.assertIn("spec.clusterIPs: Invalid value: [\"10.0.0.5\"]: failed to allocate IP 10.0.0.5: "
                          "provided IP is already allocated", cm.exception.message)
            named = cm.exception.with_name("web")  # type: ignore[attr-defined]
            self.assertTrue(named.message.startswith('Service "web" is invalid: spec.clusterIPs'))
        return Deferred.fromCoroutine(go())

    def test_release_and_node_ports(self) -> Deferred[None]:
        async def go() -> None:
            a = ServiceAllocators(self.storage, node_ports=(30000, 30002))
            await a.allocate_cluster_ip("10.0.0.9")
            await a.release_cluster_ip("10.0.0.9")
            self.assertEqual(await a.allocate_cluster_ip("10.0.0.9"), "10.0.0.9")
            self.assertEqual(await a.allocate_node_port(30001), 30001)
            with self.assertRaises(StatusError) as cm:
                await a.allocate_node_port(30001)
            self.assertIn("spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated",
                          cm.exception.message)
            with self.assertRaises(StatusError) as cm:
                await a.allocate_node_port(80)
            self.assertIn("provided port is not in the valid range. The range of valid ports is 30000-30002",
                          cm.exception.message)
            self.assertEqual({await a.allocate_node_port(None), await a.allocate_node_port(None)},
                             {30000, 30002})
            with self.assertRaises(StatusError) as cm:
                await a.allocate_node_port(None)
            self.assertEqual(cm.exception.message,
                             "Internal error occurred: failed to allocate a nodePort: range is full")
            await a.release_node_port(30000)
            self.assertEqual(await a.allocate_node_port(None), 30000)
        return Deferred.fromCoroutine(go())

    def test_stored_as_range_allocation(self) -> Deferred[None]:
        async def go() -> None:
            a = ServiceAllocators(self.storage)
            await a.allocate_cluster_ip("10.0.0.1")
            await a.allocate_cluster_ip("10.0.0.10")
            kv = await self.storage.get("/registry/ranges/serviceips")
            assert kv is not None
            obj = orjson.loads(kv.value)
            self.assertEqual((obj["kind"], obj["apiVersion"], obj["range"]),
                             ("RangeAllocation", "v1", "10.0.0.0/24"))
            bits = int.from_bytes(base64.b64decode(obj["data"]), "big")
            self.assertEqual(bits, (1 << 0) | (1 << 9))  # offset 0 = 10.0.0.1
            await a.allocate_node_port(30005)
            kv = await self.storage.get("/registry/ranges/servicenodeports")
            assert kv is not None
            self.assertEqual(orjson.loads(kv.value)["range"], "30000-32767")
        return Deferred.fromCoroutine(go())

    def test_persists_across_reopen(self) -> Deferred[None]:
        async def go() -> None:
            a = ServiceAllocators(self.storage)
            ips = [await a.allocate_cluster_ip(None) for _ in range(10)]
            port = await a.allocate_node_port(None)
            await self.storage.close()
            self.storages.remove(self.storage)
            again = ServiceAllocators(await self.open())
            self.assertEqual(sorted(await again.cluster_ips.allocated()), sorted(ips))
            with self.assertRaises(StatusError):
                await again.allocate_cluster_ip(ips[0])
            with self.assertRaises(StatusError):
                await again.allocate_node_port(port)
        return Deferred.fromCoroutine(go())

    def test_no_duplicates_under_concurrency_across_two_allocators(self) -> Deferred[None]:
        """Two allocator objects on one store stand in for two kubeapi processes: their CAS
        writes race, and 200 concurrent allocations still never repeat an address."""

        async def go() -> None:
            one = ServiceAllocators(self.storage, service_cidr="10.0.0.0/23")
            two = ServiceAllocators(self.storage, service_cidr="10.0.0.0/23")
            ds = [ensureDeferred((one if i % 2 else two).allocate_cluster_ip(None)) for i in range(200)]
            results = await DeferredList(ds, fireOnOneErrback=True, consumeErrors=True)
            ips = [r for _, r in results]
            self.assertEqual(len(ips), 200)
            self.assertEqual(len(set(ips)), 200)
            self.assertEqual(sorted(await one.cluster_ips.allocated()), sorted(ips))
        return Deferred.fromCoroutine(go())
