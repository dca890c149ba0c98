"""The bootstrap controller: system namespaces and the kubernetes Service/Endpoints/EndpointSlice."""

from __future__ import annotations

from twisted.internet.defer import Deferred, gatherResults
from twisted.trial import unittest

from kubeapi.api.types import ResourceDef
from kubeapi.controllers.bootstrap import SYSTEM_NAMESPACES, BootstrapController
from kubeapi.registry.options import ListOptions
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
