"""The Available condition: upstream's reasons and messages for each failing check."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, reactor
from twisted.trial import unittest

from kubeapi.aggregator.availability import AvailabilityController, with_condition
from kubeapi.aggregator.transport import Transports
from kubeapi.errors import conflict, not_found
from tests.support.net import free_port

Obj = dict[str, Any]


class _Store:
    def __init__(self, items: list[Obj]) -> None:
        self.items = items

    async def get(self, ns: str, name: str) -> Obj:
        for o in self.items:
            if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) == (ns, name):
                return o
        raise not_found("services", "", name)

    async def list(self, ns: str, opts: Any) -> Obj:
        key, _, value = opts.label_selector.partition("=")
        return {"items": [o for o in self.items if o["metadata"].get("namespace") == ns
                          and (o["metadata"].get("labels") or {}).get(key) == value]}


class _Server:
    def __init__(self, services: list[Obj], slices: list[Obj]) -> None:
        self.stores = {"services": _Store(services), "endpointslices": _Store(slices)}

    def store(self, group: str, version: str, plural: str) -> _Store:
        return self.stores[plural]


class _Registry:
    def subscribe(self, listener: Any) -> None:
        pass


def service(port: int = 443, name: str = "https") -> Obj:
    return {"metadata": {"namespace": "ns", "name": "ext"}, "spec": {"ports": [{"name": name, "port": port}]}}


def endpoint_slice(port: int, ready: bool = True, name: str = "https", address: str = "127.0.0.1") -> Obj:
    return {"metadata": {"namespace": "ns", "name": "ext-1", "labels": {"kubernetes.io/service-name": "ext"}},
            "endpoints": [{"addresses": [address], "conditions": {"ready": ready}}],
            "ports": [{"name": name, "port": port}]}


APISERVICE = {"metadata": {"name": "v1.ext.io"},
              "spec": {"group": "ext.io", "version": "v1", "service": {"namespace": "ns", "name": "ext", "port": 443}}}


def controller(services: list[Obj], slices: list[Obj]) -> AvailabilityController:
    return AvailabilityController(_Server(services, slices), _Registry(), Transports(reactor, lambda: None),  # type: ignore[arg-type]
                                  True, reactor)


class CheckTests(unittest.TestCase):
    @defer.inlineCallbacks
    def assertCheck(self, services: list[Obj], slices: list[Obj], expected: tuple[str, str, str]) -> Any:
        c = controller(services, slices)
        got = yield defer.ensureDeferred(c.check(APISERVICE))
        c.transports.close()
        self.assertEqual(got, expected)

    def test_service_not_found(self) -> Any:
        return self.assertCheck([], [], ("False", "ServiceNotFound", 'service/ext in "ns" is not present'))

    def test_service_port_error(self) -> Any:
        return self.assertCheck([service(8443)], [], (
            "False", "ServicePortError", 'service/ext in "ns" is not listening on port 443'))

    def test_endpoints_not_found(self) -> Any:
        return self.assertCheck([service()], [], (
            "False", "EndpointsNotFound", 'cannot find endpointslices for service/ext in "ns"'))

    def test_missing_endpoints(self) -> Any:
        return self.assertCheck([service()], [endpoint_slice(443, ready=False)], (
            "False", "MissingEndpoints", 'endpointslices for service/ext in "ns" have no addresses with port name '
                                         '"https"'))

    def test_failed_discovery_check(self) -> Any:
        port = free_port()  # nothing listens there
        url = f"https://127.0.0.1:{port}/apis/ext.io/v1"
        return self.assertCheck([service()], [endpoint_slice(port)], (
            "False", "FailedDiscoveryCheck",
            f'failing or missing response from {url}: Get "{url}": dial tcp 127.0.0.1:{port}: connect: '
            f'connection refused'))


class ConditionTests(unittest.TestCase):
    def test_unchanged_condition_is_not_rewritten(self) -> None:
        svc = {"status": {"conditions": [{"type": "Available", "status": "True", "reason": "Passed",
                                          "message": "all checks passed", "lastTransitionTime": "T0"}]}}
        self.assertIsNone(with_condition(svc, "True", "Passed", "all checks passed"))

    def test_transition_time_moves_only_with_status(self) -> None:
        svc = {"status": {"conditions": [{"type": "Available", "status": "False", "reason": "ServiceNotFound",
                                          "message": "x", "lastTransitionTime": "T0"}]}}
        same = with_condition(svc, "False", "MissingEndpoints", "y")
        assert same is not None
        self.assertEqual(same["conditions"][0]["lastTransitionTime"], "T0")
        moved = with_condition(svc, "True", "Passed", "all checks passed")
        assert moved is not None
        self.assertNotEqual(moved["conditions"][0]["lastTransitionTime"], "T0")
        self.assertEqual(moved["conditions"][0]["reason"], "Passed")


class _ConflictingStatusStore:
    """An apiservices store whose copy is always newer than the caller's: every update is a 409
    (up to a cap, so a retry loop ends instead of hanging the test)."""

    def __init__(self) -> None:
        self.updates = 0

    async def update(self, ns: str, name: str, obj: Obj, opts: Any, subresource: str = "") -> Obj:
        self.updates += 1
        if self.updates < 50:
            raise conflict("apiservices", "apiregistration.k8s.io", name)
        return obj


class _StaleRegistry(_Registry):
    def __init__(self, svc: Obj) -> None:
        self.by_name = {svc["metadata"]["name"]: svc}


class ConflictTests(unittest.TestCase):
    def test_conflict_waits_for_the_newer_object(self) -> None:
        """A 409 means storage holds a newer object; its event enqueues the name again. The
        controller must not retry at once from its stale copy (a tight loop of 409s)."""
        local = {"metadata": {"name": "v1.local.io"}, "spec": {"group": "local.io", "version": "v1"}}
        store = _ConflictingStatusStore()
        server = _Server([], [])
        server.stores["apiservices"] = store  # type: ignore[assignment]
        c = AvailabilityController(server, _StaleRegistry(local), Transports(reactor, lambda: None),  # type: ignore[arg-type]
                                   True, reactor)
        self.addCleanup(c.transports.close)
        c.enqueue("v1.local.io")
        self.assertEqual(store.updates, 1)
