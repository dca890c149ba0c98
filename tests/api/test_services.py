"""Services: defaulting, validation, printing and the allocation hooks."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial import unittest

from kubeapi.api.types import Allocators
from kubeapi.errors import StatusError
from kubeapi.registry.allocator import ServiceAllocators
from kubeapi.storage.interface import Storage
from tests.api.helpers import cells, defaulted, errors, fields, rdef
from tests.support.storage import open_sqlite

SVC = rdef("", "services")


def svc(**spec: Any) -> dict:
    base: dict = {"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "web", "namespace": "default",
                               "creationTimestamp": "2024-01-01T00:00:00Z"},
                  "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    base["spec"].update(spec)
    return base


# Dynamic picks are random from the upper band of a range while it has room (upstream's
# static/dynamic split): in a /24 they avoid the lowest 16 addresses (10.96.0.1, the first, is the
# ``kubernetes`` service's), in 30000-32767 the lowest 173 ports, which are left for requests.
SERVICE_CIDR = "10.96.0.0/24"
NODE_PORTS = (30000, 32767)
DYNAMIC_IPS = [f"10.96.0.{i}" for i in range(17, 255)]
DYNAMIC_PORTS = range(30173, 32768)


@dataclass
class Ctx:
    """The hook context the store passes: the real persistent allocators over a real store."""

    storage: Storage
    allocators: Allocators


class ServiceDefaulting(unittest.TestCase):
    def test_cluster_ip_service(self) -> None:
        spec = defaulted(SVC, svc())["spec"]
        self.assertEqual(spec["type"], "ClusterIP")
        self.assertEqual(spec["sessionAffinity"], "None")
        self.assertEqual(spec["ports"], [{"port": 80, "protocol": "TCP", "targetPort": 80}])
        self.assertEqual(spec["ipFamilyPolicy"], "SingleStack")
        self.assertEqual(spec["ipFamilies"], ["IPv4"])
        self.assertEqual(spec["internalTrafficPolicy"], "Cluster")
        self.assertNotIn("externalTrafficPolicy", spec)

    def test_node_port_service(self) -> None:
        spec = defaulted(SVC, svc(type="NodePort"))["spec"]
        self.assertEqual(spec["externalTrafficPolicy"], "Cluster")


class ServiceValidation(unittest.TestCase):
    def test_good(self) -> None:
        self.assertEqual(errors(SVC, defaulted(SVC, svc())), [])
        self.assertEqual(errors(SVC, defaulted(SVC, svc(clusterIP="None", ports=[]))), [])

    def test_name_is_dns1035(self) -> None:
        s = svc()
        s["metadata"]["name"] = "1web"
        errs = errors(SVC, defaulted(SVC, s))
        self.assertEqual(fields(errs), [("metadata.name", "FieldValueInvalid")])
        self.assertIn("a DNS-1035 label must consist of lower case alphanumeric characters", errs[0].detail)

    def test_ports_required_and_ranges(self) -> None:
        self.assertEqual(fields(errors(SVC, defaulted(SVC, svc(ports=[])))),
                         [("spec.ports", "FieldValueRequired")])
        errs = errors(SVC, defaulted(SVC, svc(ports=[{"port": 0}, {"port": 81, "name": "b"}])))
        self.assertEqual(fields(errs), [("spec.ports[0].name", "FieldValueRequired"),
                                        ("spec.ports[0].port", "FieldValueInvalid"),
                                        ("spec.ports[0].targetPort", "FieldValueInvalid")])

    def test_node_port_on_cluster_ip(self) -> None:
        errs = errors(SVC, defaulted(SVC, svc(ports=[{"port": 80, "nodePort": 30080}])))
        self.assertEqual(fields(errs), [("spec.ports[0].nodePort", "FieldValueForbidden")])

    def test_external_name_required(self) -> None:
        errs = errors(SVC, defaulted(SVC, svc(type="ExternalName", ports=[])))
        self.assertEqual(fields(errs), [("spec.externalName", "FieldValueRequired")])

    def test_bad_type(self) -> None:
        self.assertEqual(fields(errors(SVC, defaulted(SVC, svc(type="Magic")))),
                         [("spec.type", "FieldValueNotSupported")])

    def test_cluster_ip_immutable(self) -> None:
        assert SVC.validate_update is not None
        old = defaulted(SVC, svc(clusterIP="10.96.0.10"))
        new = copy.deepcopy(old)
        new["spec"]["clusterIP"] = "10.96.0.11"
        new["spec"]["clusterIPs"] = ["10.96.0.11"]
        errs = SVC.validate_update(new, old)
        self.assertEqual(fields(errs), [("spec.clusterIPs[0]", "FieldValueInvalid")])
        self.assertEqual(errs[0].detail, "may not change once set")


class ServicePrinting(unittest.TestCase):
    def test_node_port(self) -> None:
        s = defaulted(SVC, svc(type="NodePort", clusterIP="10.96.0.7",
                               ports=[{"port": 80, "nodePort": 30080}]))
        c = cells(SVC, s)
        self.assertEqual([c.name for c in SVC.columns],
                         ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"])
        self.assertEqual((c["Type"], c["Cluster-IP"], c["External-IP"], c["Port(s)"], c["Selector"]),
                         ("NodePort", "10.96.0.7", "<none>", "80:30080/TCP", "app=web"))

    def test_cluster_ip_and_lb(self) -> None:
        c = cells(SVC, defaulted(SVC, svc(ports=[{"port": 80, "name": "h"},
                                                 {"port": 53, "protocol": "UDP", "name": "d"}])))
        self.assertEqual(c["Port(s)"], "80/TCP,53/UDP")
        self.assertEqual(c["Cluster-IP"], "<none>")
        lb = defaulted(SVC, svc(type="LoadBalancer"))
        self.assertEqual(cells(SVC, lb)["External-IP"], "<pending>")
        lb["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
        self.assertEqual(cells(SVC, lb)["External-IP"], "1.2.3.4")
        ext = defaulted(SVC, svc(type="ExternalName", externalName="db.example.com", ports=[]))
        self.assertEqual(cells(SVC, ext)["External-IP"], "db.example.com")


class ServiceHooks(unittest.TestCase):
    """The allocation hooks against the real allocators: what they hold is checked by asking
    the allocator for the same IP/port again, as the next service would."""

    def setUp(self) -> Deferred[None]:  # type: ignore[override]
        async def go() -> None:
            storage = await open_sqlite(self)
            self.alloc = ServiceAllocators(storage, service_cidr=SERVICE_CIDR, node_ports=NODE_PORTS,
                                           prefix="/registry")
            self.ctx = Ctx(storage, self.alloc)
        return Deferred.fromCoroutine(go())

    async def assert_ip_held(self, ip: str) -> None:
        with self.assertRaises(StatusError) as cm:
            await self.alloc.allocate_cluster_ip(ip, "other")
        self.assertEqual(cm.exception.code, 422)
        self.assertIn(f"failed to allocate IP {ip}: provided IP is already allocated", cm.exception.message)

    async def assert_ip_free(self, ip: str) -> None:
        """Free now: taking it succeeds (and it is given back, leaving the state as it was)."""
        self.assertEqual(await self.alloc.allocate_cluster_ip(ip, "other"), ip)
        await self.alloc.release_cluster_ip(ip)

    async def assert_port_held(self, port: int) -> None:
        with self.assertRaises(StatusError) as cm:
            await self.alloc.allocate_node_port(port, "other", "spec.ports[0].nodePort")
        self.assertEqual(cm.exception.code, 422)
        self.assertIn(f"{port}: provided port is already allocated", cm.exception.message)

    async def assert_port_free(self, port: int) -> None:
        self.assertEqual(await self.alloc.allocate_node_port(port, "other"), port)
        await self.alloc.release_node_port(port)

    async def held(self) -> tuple[list[str], list[int]]:
        """Everything the allocators hold, as stored."""
        a = self.alloc
        return sorted(await a.cluster_ips.allocated()), sorted(await a.node_ports.allocated())

    def test_create_allocates_ip_and_node_ports(self) -> Deferred[None]:
        async def go() -> None:
            assert SVC.on_create is not None and SVC.on_delete is not None
            s = defaulted(SVC, svc(type="NodePort", ports=[{"port": 80}, {"port": 81, "nodePort": 30081}]))
            await SVC.on_create(self.ctx, s)
            ip = s["spec"]["clusterIP"]
            self.assertIn(ip, DYNAMIC_IPS)
            self.assertEqual(s["spec"]["clusterIPs"], [ip])
            dynamic, requested = (p["nodePort"] for p in s["spec"]["ports"])
            self.assertIn(dynamic, DYNAMIC_PORTS)
            self.assertEqual(requested, 30081)
            await self.assert_ip_held(ip)
            await self.assert_port_held(dynamic)
            await self.assert_port_held(30081)
            self.assertEqual(await self.held(), ([ip], sorted([dynamic, 30081])))
            await SVC.on_delete(self.ctx, s)
            await self.assert_ip_free(ip)
            await self.assert_port_free(dynamic)
            await self.assert_port_free(30081)
            self.assertEqual(await self.held(), ([], []))
        return Deferred.fromCoroutine(go())

    def test_headless_and_external_name_take_nothing(self) -> Deferred[None]:
        async def go() -> None:
            assert SVC.on_create is not None
            h = defaulted(SVC, svc(clusterIP="None"))
            await SVC.on_create(self.ctx, h)
            self.assertEqual(h["spec"]["clusterIPs"], ["None"])
            e = defaulted(SVC, svc(type="ExternalName", externalName="x.example.com"))
            await SVC.on_create(self.ctx, e)
            self.assertNotIn("clusterIP", e["spec"])
            self.assertEqual(await self.held(), ([], []))
        return Deferred.fromCoroutine(go())

    def test_taken_ip_fails_and_releases_nothing_else(self) -> Deferred[None]:
        async def go() -> None:
            assert SVC.on_create is not None
            await SVC.on_create(self.ctx, defaulted(SVC, svc(clusterIP="10.96.0.9")))
            dup = defaulted(SVC, svc(type="NodePort", clusterIP="10.96.0.9"))
            with self.assertRaises(StatusError) as cm:
                await SVC.on_create(self.ctx, dup)
            self.assertEqual((cm.exception.code, cm.exception.reason), (422, "Invalid"))
            self.assertEqual(cm.exception.message,
                             'Service "web" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.9"]: '
                             "failed to allocate IP 10.96.0.9: provided IP is already allocated")
            # The first service keeps its IP; the failed one took no node port.
            await self.assert_ip_held("10.96.0.9")
            self.assertEqual(await self.held(), (["10.96.0.9"], []))
        return Deferred.fromCoroutine(go())

    def test_taken_node_port_names_its_field_and_gives_back_the_rest(self) -> Deferred[None]:
        async def go() -> None:
            assert SVC.on_create is not None
            first = defaulted(SVC, svc(type="NodePort", ports=[{"port": 80, "nodePort": 30081}]))
            await SVC.on_create(self.ctx, first)
            dup = defaulted(SVC, svc(type="NodePort", clusterIP="10.96.0.20",
                                     ports=[{"port": 80, "name": "a"},
                                            {"port": 81, "name": "b", "nodePort": 30081}]))
            with self.assertRaises(StatusError) as cm:
                await SVC.on_create(self.ctx, dup)
            self.assertEqual(cm.exception.code, 422)
            self.assertEqual(cm.exception.message,
                             'Service "web" is invalid: spec.ports[1].nodePort: Invalid value: 30081: '
                             "provided port is already allocated")
            # What the failed create took before the clash (its IP, port a's nodePort) is free again.
            await self.assert_ip_free("10.96.0.20")
            await self.assert_port_free(dup["spec"]["ports"][0]["nodePort"])
            self.assertEqual(await self.held(), ([first["spec"]["clusterIP"]], [30081]))
        return Deferred.fromCoroutine(go())

    def test_update_keeps_ip_and_releases_node_ports_on_type_change(self) -> Deferred[None]:
        async def go() -> None:
            assert SVC.on_create is not None and SVC.on_update is not None
            old = defaulted(SVC, svc(type="NodePort"))
            await SVC.on_create(self.ctx, old)
            ip, port = old["spec"]["clusterIP"], old["spec"]["ports"][0]["nodePort"]
            await self.assert_port_held(port)
            new = defaulted(SVC, svc(type="ClusterIP"))  # a PUT without clusterIP / nodePort
            await SVC.on_update(self.ctx, new, old)
            self.assertEqual(new["spec"]["clusterIP"], ip)
            self.assertEqual(new["spec"]["clusterIPs"], [ip])
            self.assertNotIn("nodePort", new["spec"]["ports"][0])
            await self.assert_ip_held(ip)
            await self.assert_port_free(port)
            self.assertEqual(await self.held(), ([ip], []))
            # And back to NodePort allocates a port again.
            again = copy.deepcopy(new)
            again["spec"]["type"] = "NodePort"
            await SVC.on_update(self.ctx, again, new)
            port2 = again["spec"]["ports"][0]["nodePort"]
            self.assertIn(port2, DYNAMIC_PORTS)
            self.assertEqual(again["spec"]["clusterIP"], ip)
            await self.assert_port_held(port2)
            self.assertEqual(await self.held(), ([ip], [port2]))
            # To ExternalName gives the IP and the port back.
            ext = copy.deepcopy(again)
            ext["spec"].update(type="ExternalName", externalName="x.example.com")
            for p in ext["spec"]["ports"]:
                p.pop("nodePort", None)
            await SVC.on_update(self.ctx, ext, again)
            self.assertNotIn("clusterIP", ext["spec"])
            await self.assert_ip_free(ip)
            await self.assert_port_free(port2)
            self.assertEqual(await self.held(), ([], []))
        return Deferred.fromCoroutine(go())
