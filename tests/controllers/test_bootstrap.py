"""The bootstrap controller: system namespaces and the kubernetes Service/Endpoints/EndpointSlice."""

from __future__ import annotations

from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred, gatherResults
from twisted.trial import unittest

from kubeapi.api.types import ResourceDef
from kubeapi.controllers.bootstrap import SYSTEM_NAMESPACES, BootstrapController
from kubeapi.controllers.leases import MasterLeases
from kubeapi.errors import StatusError
from kubeapi.registry.options import ListOptions
from kubeapi.storage.embedded.store import SQLiteStorage
from kubeapi.storage.interface import KeyValue
from tests.controllers.helpers import Stores, catalog
from tests.support.storage import open_sqlite


class BootstrapTests(unittest.TestCase):
    def controller(self, stores: Stores, address: str = "192.0.2.10", port: int = 6443) -> BootstrapController:
        return BootstrapController(stores, advertise_address=address, secure_port=port,
                                   service_ip=stores.allocators.first_service_ip())

    def test_objects_as_upstream_creates_them(self) -> Deferred[None]:
        async def go() -> None:
            stores = Stores(await open_sqlite(self), catalog())
            c = self.controller(stores)
            self.assertFalse(await c.ready())
            await c.reconcile()
            self.assertTrue(await c.ready())
            names = {n["metadata"]["name"] for n in
                     (await stores("", "v1", "namespaces").list("", ListOptions()))["items"]}
            self.assertTrue(set(SYSTEM_NAMESPACES) <= names)
            svc = await stores("", "v1", "services").get("default", "kubernetes")
            self.assertEqual(svc["metadata"]["labels"], {"component": "apiserver", "provider": "kubernetes"})
            self.assertEqual(svc["spec"]["clusterIP"], "10.0.0.1")
            self.assertEqual(svc["spec"]["type"], "ClusterIP")
            port = svc["spec"]["ports"][0]
            self.assertEqual((port["name"], port["port"], port["targetPort"], port["protocol"]),
                             ("https", 443, 6443, "TCP"))
            ep = await stores("", "v1", "endpoints").get("default", "kubernetes")
            self.assertEqual(ep["subsets"], [{"addresses": [{"ip": "192.0.2.10"}],
                                              "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}])
            es = await stores("discovery.k8s.io", "v1", "endpointslices").get("default", "kubernetes")
            self.assertEqual(es["metadata"]["labels"]["kubernetes.io/service-name"], "kubernetes")
            self.assertEqual(es["addressType"], "IPv4")
            self.assertEqual(es["endpoints"][0]["addresses"], ["192.0.2.10"])
            self.assertEqual(es["ports"], [{"name": "https", "port": 6443, "protocol": "TCP"}])
        return Deferred.fromCoroutine(go())

    def test_idempotent_and_racing_servers(self) -> Deferred[None]:
        async def go() -> None:
            storage = await open_sqlite(self)
            cat = catalog()
            one, two = Stores(storage, cat), Stores(storage, cat)  # two servers, one store
            await gatherResults([Deferred.fromCoroutine(self.controller(one).reconcile()),
                                 Deferred.fromCoroutine(self.controller(two).reconcile())])
            svc = await one("", "v1", "services").get("default", "kubernetes")
            rv = svc["metadata"]["resourceVersion"]
            await self.controller(one).reconcile()  # nothing to change: nothing written
            again = await one("", "v1", "services").get("default", "kubernetes")
            self.assertEqual(again["metadata"]["resourceVersion"], rv)
            services = await one("", "v1", "services").list("default", ListOptions())
            self.assertEqual(len(services["items"]), 1)
            self.assertEqual(await one.allocators.cluster_ips.allocated(), ["10.0.0.1"])
        return Deferred.fromCoroutine(go())

    def test_follows_a_new_advertise_address_and_port(self) -> Deferred[None]:
        async def go() -> None:
            stores = Stores(await open_sqlite(self), catalog())
            await self.controller(stores).reconcile()
            await self.controller(stores, "192.0.2.20", 7443).reconcile()
            svc = await stores("", "v1", "services").get("default", "kubernetes")
            self.assertEqual(svc["spec"]["ports"][0]["targetPort"], 7443)
            self.assertEqual(svc["spec"]["clusterIP"], "10.0.0.1")
            ep = await stores("", "v1", "endpoints").get("default", "kubernetes")
            self.assertEqual(ep["subsets"][0]["addresses"], [{"ip": "192.0.2.20"}])
            self.assertEqual(ep["subsets"][0]["ports"][0]["port"], 7443)
            es = await stores("discovery.k8s.io", "v1", "endpointslices").get("default", "kubernetes")
            self.assertEqual(es["endpoints"][0]["addresses"], ["192.0.2.20"])
        return Deferred.fromCoroutine(go())

    def test_system_priority_classes_when_served(self) -> Deferred[None]:
        async def go() -> None:
            cat = catalog()
            if cat.get("scheduling.k8s.io", "v1", "priorityclasses") is None:
                cat.add(ResourceDef(group="scheduling.k8s.io", version="v1", kind="PriorityClass",
                                    plural="priorityclasses", singular="priorityclass", namespaced=False))
            stores = Stores(await open_sqlite(self), cat)
            await self.controller(stores).reconcile()
            await self.controller(stores).reconcile()
            pcs = await stores("scheduling.k8s.io", "v1", "priorityclasses").list("", ListOptions())
            got = {p["metadata"]["name"]: p["value"] for p in pcs["items"]}
            self.assertEqual(got, {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000})
        return Deferred.fromCoroutine(go())


class LeaseReconcilerTests(unittest.TestCase):
    """Several servers on one store: the endpoints list every live server (upstream's lease reconciler)."""

    async def setup(self) -> tuple[Stores, SQLiteStorage, task.Clock]:
        storage = await open_sqlite(self)
        return Stores(storage, catalog()), storage, task.Clock()

    def server(self, storage: SQLiteStorage, clock: task.Clock, address: str, *,
               reconciler: str = "lease", port: int = 6443) -> BootstrapController:
        stores = Stores(storage, catalog())  # each server has its own registry over the shared store
        leases = MasterLeases(storage, clock.seconds, ttl=15.0)
        return BootstrapController(stores, advertise_address=address, secure_port=port,
                                   service_ip=stores.allocators.first_service_ip(), reactor=clock,
                                   endpoint_reconciler=reconciler, leases=leases)

    async def addresses(self, stores: Stores) -> tuple[list[str], list[str], str, str]:
        ep = await stores("", "v1", "endpoints").get("default", "kubernetes")
        es = await stores("discovery.k8s.io", "v1", "endpointslices").get("default", "kubernetes")
        self.assertEqual(len(ep["subsets"]), 1)
        ep_ips = [a["ip"] for a in ep["subsets"][0]["addresses"]]
        es_ips = [a for e in es["endpoints"] for a in e["addresses"]]
        return ep_ips, es_ips, ep["metadata"]["resourceVersion"], es["metadata"]["resourceVersion"]

    def test_two_servers_both_listed_sorted_and_stop_removes_one(self) -> Deferred[None]:
        async def go() -> None:
            stores, storage, clock = await self.setup()
            b = self.server(storage, clock, "192.0.2.20")
            a = self.server(storage, clock, "192.0.2.10")
            await b.reconcile()
            await a.reconcile()
            await b.reconcile()
            ep_ips, es_ips, _, _ = await self.addresses(stores)
            self.assertEqual(ep_ips, ["192.0.2.10", "192.0.2.20"])
            self.assertEqual(es_ips, ["192.0.2.10", "192.0.2.20"])
            keys = [kv.key for kv in (await storage.list("/registry/masterleases/")).items]
            self.assertEqual(keys, ["/registry/masterleases/192.0.2.10", "/registry/masterleases/192.0.2.20"])

            await stop(b)  # graceful stop: its address leaves at once, no TTL wait
            ep_ips, es_ips, _, _ = await self.addresses(stores)
            self.assertEqual((ep_ips, es_ips), (["192.0.2.10"], ["192.0.2.10"]))
            self.assertIsNone(await storage.get("/registry/masterleases/192.0.2.20"))

            await stop(a)  # the last one out never erases the endpoints (as upstream)
            ep_ips, _, _, _ = await self.addresses(stores)
            self.assertEqual(ep_ips, ["192.0.2.10"])
        return Deferred.fromCoroutine(go())

    def test_unrenewed_lease_expires_and_is_removed(self) -> Deferred[None]:
        async def go() -> None:
            stores, storage, clock = await self.setup()
            a = self.server(storage, clock, "192.0.2.10")
            dead = self.server(storage, clock, "192.0.2.99")
            await dead.reconcile()
            await a.reconcile()
            self.assertEqual((await self.addresses(stores))[0], ["192.0.2.10", "192.0.2.99"])
            clock.advance(10)
            await a.reconcile()  # `dead` never renews; still inside its 15 s
            self.assertEqual((await self.addresses(stores))[0], ["192.0.2.10", "192.0.2.99"])
            clock.advance(6)  # 16 s since its last renewal
            await a.reconcile()
            ep_ips, es_ips, _, _ = await self.addresses(stores)
            self.assertEqual((ep_ips, es_ips), (["192.0.2.10"], ["192.0.2.10"]))
            self.assertIsNone(await storage.get("/registry/masterleases/192.0.2.99"))  # reaped
            self.assertIsNotNone(await storage.get("/registry/masterleases/192.0.2.10"))  # ours renewed
            await dead.reconcile()  # it comes back: listed again
            self.assertEqual((await self.addresses(stores))[0], ["192.0.2.10", "192.0.2.99"])
        return Deferred.fromCoroutine(go())

    def test_no_change_no_write(self) -> Deferred[None]:
        async def go() -> None:
            stores, storage, clock = await self.setup()
            a = self.server(storage, clock, "192.0.2.10")
            b = self.server(storage, clock, "192.0.2.20")
            await a.reconcile()
            await b.reconcile()
            first = await self.addresses(stores)
            for _ in range(3):
                clock.advance(10)
                await a.reconcile()
                await b.reconcile()
            again = await self.addresses(stores)
            self.assertEqual(again, first)  # same IPs and same resourceVersions
        return Deferred.fromCoroutine(go())

    def test_stop_waits_for_a_running_pass(self) -> Deferred[None]:
        async def go() -> None:
            stores, storage, clock = await self.setup()
            a = self.server(storage, clock, "192.0.2.10")
            await a.reconcile()
            gated = GateLeaseWrites(storage)
            b = self.server(gated, clock, "192.0.2.20")  # type: ignore[arg-type]
            b.startService()
            await gated.reached  # b's pass is about to write its lease
            stopped = b.stopService()
            assert stopped is not None
            gated.release.callback(None)
            await stopped  # the pass's renewal must not outlive the removal
            self.assertIsNone(await storage.get("/registry/masterleases/192.0.2.20"))
            self.assertEqual((await self.addresses(stores))[0], ["192.0.2.10"])
        return Deferred.fromCoroutine(go())

    def test_readyz_only_after_first_pass(self) -> Deferred[None]:
        async def go() -> None:
            stores, storage, clock = await self.setup()
            a = self.server(storage, clock, "192.0.2.10")
            self.assertFalse(await a.ready())
            await a.reconcile()
            self.assertTrue(await a.ready())
        return Deferred.fromCoroutine(go())

    def test_reconciler_none_leaves_endpoints_alone(self) -> Deferred[None]:
        async def go() -> None:
            stores, storage, clock = await self.setup()
            c = self.server(storage, clock, "192.0.2.10", reconciler="none")
            await c.reconcile()
            self.assertTrue(await c.ready())
            await stores("", "v1", "services").get("default", "kubernetes")
            with self.assertRaises(StatusError) as cm:
                await stores("", "v1", "endpoints").get("default", "kubernetes")
            self.assertEqual(cm.exception.code, 404)
            self.assertEqual((await storage.list("/registry/masterleases/")).items, [])
            self.assertIsNone(c.stopService())  # nothing to release
        return Deferred.fromCoroutine(go())


async def stop(c: BootstrapController) -> None:
    d = c.stopService()
    assert d is not None, "the lease reconciler releases its lease on stop"
    await d


class GateLeaseWrites:
    """The real store, but the first lease write waits for ``release`` (to stop mid-pass)."""

    def __init__(self, storage: SQLiteStorage) -> None:
        self.storage = storage
        self.reached: Deferred[None] = Deferred()
        self.release: Deferred[None] = Deferred()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)

    async def create(self, key: str, value: bytes) -> KeyValue:
        if "/masterleases/" in key and not self.reached.called:
            self.reached.callback(None)
            await self.release
        return await self.storage.create(key, value)
