"""Where a proxied request goes: a ready endpoint with aggregator routing, else the ClusterIP."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.trial import unittest

from kubeapi.aggregator import resolver
from tests.aggregator.test_availability import _Server, endpoint_slice, service

REF = resolver.ServiceRef("ns", "ext", 443)


def _resolve(server: Any, routing: bool) -> Any:
    return defer.ensureDeferred(resolver.resolve(server, REF, routing))


class ResolveTests(unittest.TestCase):
    def test_cluster_ip_without_routing(self) -> None:
        svc = service()
        svc["spec"]["clusterIP"] = "10.0.0.7"
        got = self.successResultOf(_resolve(_Server([svc], [endpoint_slice(8443, address="10.1.1.1")]), False))
        self.assertEqual(got, ("10.0.0.7", 443))

    def test_ready_endpoint_with_routing(self) -> None:
        slices = [endpoint_slice(8443, ready=False, address="10.1.1.1"), endpoint_slice(9443, address="10.1.1.2")]
        self.assertEqual(self.successResultOf(_resolve(_Server([service()], slices), True)), ("10.1.1.2", 9443))

    def test_external_name_only_without_routing(self) -> None:
        svc = {"metadata": {"namespace": "ns", "name": "ext"},
               "spec": {"type": "ExternalName", "externalName": "ext.example.com"}}
        self.assertEqual(self.successResultOf(_resolve(_Server([svc], []), False)), ("ext.example.com", 443))
        f = self.failureResultOf(_resolve(_Server([svc], []), True))
        self.assertEqual(str(f.value), 'unsupported service type "ExternalName"')

    def test_headless_service_without_routing(self) -> None:
        svc = service()
        svc["spec"]["clusterIP"] = "None"
        f = self.failureResultOf(_resolve(_Server([svc], []), False))
        self.assertEqual(str(f.value), 'cannot route to service with ClusterIP "None"')

    def test_no_ready_endpoint(self) -> None:
        f = self.failureResultOf(_resolve(_Server([service()], [endpoint_slice(8443, ready=False)]), True))
        self.assertEqual(str(f.value), 'no endpoints available for service "ext"')

    def test_missing_service_and_port(self) -> None:
        f = self.failureResultOf(_resolve(_Server([], []), True))
        self.assertEqual(str(f.value), 'service "ext" not found')
        f = self.failureResultOf(_resolve(_Server([service(80)], []), True))
        self.assertEqual(str(f.value), 'no service port 443 found for service "ext"')
