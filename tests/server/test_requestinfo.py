"""Every path shape the server sees, parsed as kube-apiserver's RequestInfoFactory would."""

from __future__ import annotations

from twisted.trial import unittest

from kubeapi.server.requestinfo import parse_request_info

# method, path, query, expected (resource_request, verb, group, version, ns, resource, sub, name)
CASES = [
    ("GET", "/api/v1/namespaces/default/pods/p1/status", {},
     (True, "get", "", "v1", "default", "pods", "status", "p1")),
    ("GET", "/api/v1/namespaces/default/pods", {}, (True, "list", "", "v1", "default", "pods", "", "")),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": ["true"]},
     (True, "watch", "", "v1", "default", "pods", "", "")),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": ["1"]},
     (True, "watch", "", "v1", "default", "pods", "", "")),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": ["false"]},
     (True, "list", "", "v1", "default", "pods", "", "")),
    ("GET", "/api/v1/pods", {}, (True, "list", "", "v1", "", "pods", "", "")),
    ("GET", "/api/v1/nodes/n1", {}, (True, "get", "", "v1", "", "nodes", "", "n1")),
    ("GET", "/api/v1/namespaces", {}, (True, "list", "", "v1", "", "namespaces", "", "")),
    ("GET", "/api/v1/namespaces/kube-system", {},
     (True, "get", "", "v1", "kube-system", "namespaces", "", "kube-system")),
    ("PUT", "/api/v1/namespaces/ns1/finalize", {},
     (True, "update", "", "v1", "ns1", "namespaces", "finalize", "ns1")),
    ("PUT", "/api/v1/namespaces/ns1/status", {},
     (True, "update", "", "v1", "ns1", "namespaces", "status", "ns1")),
    ("GET", "/api/v1/watch/namespaces/default/pods", {},
     (True, "watch", "", "v1", "default", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/default/pods/p1", {},
     (True, "watch", "", "v1", "default", "pods", "", "p1")),
    ("GET", "/apis/apps/v1/watch/deployments", {}, (True, "watch", "apps", "v1", "", "deployments", "", "")),
    ("GET", "/apis/apps/v1/namespaces/ns/deployments/d/scale", {},
     (True, "get", "apps", "v1", "ns", "deployments", "scale", "d")),
    ("POST", "/apis/apps/v1/namespaces/ns/deployments", {},
     (True, "create", "apps", "v1", "ns", "deployments", "", "")),
    ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d", {},
     (True, "patch", "apps", "v1", "ns", "deployments", "", "d")),
    ("DELETE", "/apis/apps/v1/namespaces/ns/deployments/d", {},
     (True, "delete", "apps", "v1", "ns", "deployments", "", "d")),
    ("DELETE", "/apis/apps/v1/namespaces/ns/deployments", {},
     (True, "deletecollection", "apps", "v1", "ns", "deployments", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"fieldSelector": ["metadata.name=p9"]},
     (True, "list", "", "v1", "ns", "pods", "", "p9")),
    ("GET", "/api/v1/proxy/namespaces/ns/pods/p1/some/path", {},
     (True, "proxy", "", "v1", "ns", "pods", "", "p1")),
    ("GET", "/api/v1/namespaces/ns/pods/p1/proxy/some/path", {},
     (True, "get", "", "v1", "ns", "pods", "proxy", "p1")),
    ("HEAD", "/api/v1/namespaces/ns/pods/p1", {}, (True, "get", "", "v1", "ns", "pods", "", "p1")),
    ("GET", "/api", {}, (False, "get", "", "", "", "", "", "")),
    ("GET", "/api/v1", {}, (False, "get", "", "", "", "", "", "")),
    ("GET", "/apis/apps/v1", {}, (False, "get", "", "", "", "", "", "")),
    ("GET", "/healthz/etcd", {}, (False, "get", "", "", "", "", "", "")),
    ("POST", "/version", {}, (False, "post", "", "", "", "", "", "")),
]


class RequestInfoTests(unittest.TestCase):
    def test_table(self) -> None:
        for method, path, query, expected in CASES:
            info = parse_request_info(method, path, query)
            got = (info.is_resource_request, info.verb, info.api_group, info.api_version,
                   info.namespace, info.resource, info.subresource, info.name)
            self.assertEqual(got, expected, f"{method} {path} {query}")

    def test_parts_keep_proxy_tail(self) -> None:
        info = parse_request_info("GET", "/api/v1/namespaces/ns/pods/p1/proxy/a/b", {})
        self.assertEqual(info.parts, ["pods", "p1", "proxy", "a", "b"])
        self.assertEqual(info.api_prefix, "api")

    def test_watch_prefix_without_resource_is_not_a_resource(self) -> None:
        self.assertFalse(parse_request_info("GET", "/api/v1/watch", {}).is_resource_request)
