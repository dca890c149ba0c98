"""Services: defaulting, validation, printing and the allocation hooks."""

from __future__ import annotations

import copy
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial import unittest

from kubeapi.errors import StatusError
from tests.api.helpers import cells, defaulted, errors, fields, rdef

SVC = rdef("", "services")


def svc(**spec: Any) -> dict:
    base: dict = {"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "web", "namespace": "default",
                               "creationTimestamp": "2024-01-01T00:00:00Z"},
                  "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    base["spec"].update(spec)
    return base


class FakeAllocators:
    """A stand-in for the server's persistent allocators (another component)."""

    def __init__(self) -> None:
        self.ips: set[str] = set()
        self.ports: set[int] = set()
        self._next_ip = 1
        self._next_port = 30000

    async def allocate_cluster_ip(self, requested: str | None, name: str = "") -> str:
        if requested is None:
            while f"10.96.0.{self._next_ip}" in self.ips:
                self._next_ip += 1
            requested = f"10.96.0.{self._next_ip}"
        if requested in self.ips:
            raise StatusError(422, "Invalid", "provided IP is already allocated")
        self.ips.add(requested)
        return requested

    async def release_cluster_ip(self, ip: str) -> None:
        self.ips.discard(ip)

    async def allocate_node_port(self, requested: int | None, name: str = "", field: str = "") -> int:
        if requested is None:
            while self._next_port in self.ports:
                self._next_port += 1
            requested = self._next_port
        if requested in self.ports:
            raise StatusError(422, "Invalid", "provided port is already allocated")
        self.ports.add(requested)
        return requested

    async def release_node_port(self, port: int) -> None:
        self.ports.discard(port)


class Ctx:
    def __init__(self) -> None:
        self.allocators = FakeAllocators()
        self.storage: Any = None


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
    def test_create_allocates_ip_and_node_ports(self) -> Deferred[None]:
        async def go() -> None:
            ctx = Ctx()
            assert SVC.on_create is not None and SVC.on_delete is not None
            s = defaulted(SVC, svc(type="NodePort", ports=[{"port": 80}, {"port": 81, "nodePort": 30081}]))
            await SVC.on_create(ctx, s)  # type: ignore[arg-type]
            self.assertEqual(s["spec"]["clusterIP"], "10.96.0.1")
            self.assertEqual(s["spec"]["clusterIPs"], ["10.96.0.1"])
            self.assertEqual([p["nodePort"] for p in s["spec"]["ports"]], [30000, 30081])
            await SVC.on_delete(ctx, s)  # type: ignore[arg-type]
            self.assertEqual((ctx.allocators.ips, ctx.allocators.ports), (set(), set()))
        return Deferred.fromCoroutine(go())

    def test_headless_and_external_name_take_nothing(self) -> Deferred[None]:
        async def go() -> None:
            ctx = Ctx()
            assert SVC.on_create is not None
            h = defaulted(SVC, svc(clusterIP="None"))
            await SVC.on_create(ctx, h)  # type: ignore[arg-type]
            self.assertEqual(h["spec"]["clusterIPs"], ["None"])
            e = defaulted(SVC, svc(type="ExternalName", externalName="x.example.com"))
            await SVC.on_create(ctx, e)  # type: ignore[arg-type]
            self.assertNotIn("clusterIP", e["spec"])
            self.assertEqual(ctx.allocators.ips, set())
        return Deferred.fromCoroutine(go())

    def test_taken_ip_fails_and_releases_nothing_else(self) -> Deferred[None]:
        async def go() -> None:
            ctx = Ctx()
            assert SVC.on_create is not None
            await SVC.on_create(ctx, defaulted(SVC, svc(clusterIP="10.96.0.9")))  # type: ignore[arg-type]
            with self.assertRaises(StatusError):
                await SVC.on_create(ctx, defaulted(SVC, svc(clusterIP="10.96.0.9")))  # type: ignore[arg-type]
            self.assertEqual(ctx.allocators.ips, {"10.96.0.9"})
        return Deferred.fromCoroutine(go())

    def test_update_keeps_ip_and_releases_node_ports_on_type_change(self) -> Deferred[None]:
        async def go() -> None:
            ctx = Ctx()
            assert SVC.on_create is not None and SVC.on_update is not None
            old = defaulted(SVC, svc(type="NodePort"))
            await SVC.on_create(ctx, old)  # type: ignore[arg-type]
            self.assertEqual(ctx.allocators.ports, {30000})
            new = defaulted(SVC, svc(type="ClusterIP"))  # a PUT without clusterIP / nodePort
            await SVC.on_update(ctx, new, old)  # type: ignore[arg-type]
            self.assertEqual(new["spec"]["clusterIP"], old["spec"]["clusterIP"])
            self.assertEqual(ctx.allocators.ports, set())
            self.assertEqual(ctx.allocators.ips, {old["spec"]["clusterIP"]})
            # And back to NodePort allocates a port again.
            again = copy.deepcopy(new)
            again["spec"]["type"] = "NodePort"
            await SVC.on_update(ctx, again, new)  # type: ignore[arg-type]
            self.assertEqual(len(ctx.allocators.ports), 1)
            # To ExternalName gives the IP back.
            ext = copy.deepcopy(again)
            ext["spec"].update(type="ExternalName", externalName="x.example.com")
            for p in ext["spec"]["ports"]:
                p.pop("nodePort", None)
            await SVC.on_update(ctx, ext, again)  # type: ignore[arg-type]
            self.assertEqual((ctx.allocators.ips, ctx.allocators.ports), (set(), set()))
        return Deferred.fromCoroutine(go())
