"""The everyday kubectl and Python-client suites, re-run on a real etcd backend.

The suites fetch their server through the module-level name ``shared_server``; each class
here patches that name (for the duration of one test) to ``shared_etcd_server``, so every
test body runs unchanged against ``twistd kubeapi --etcd-servers=...``.  The extra test
checks what an operator sees with ``etcdctl``: upstream's key layout and JSON values.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from twisted.trial import unittest

from tests.e2e import test_kubectl as kubectl_suite
from tests.e2e import test_python_client as client_suite
from tests.e2e.harness import etcdctl, shared_etcd_server


class _OnEtcd:
    """Mixin: run the parent's setUp with the suite module's server swapped for etcd's."""

    suite: Any

    def setUp(self) -> None:
        self.patch(self.suite, "shared_server", shared_etcd_server)  # type: ignore[attr-defined]
        super().setUp()  # type: ignore[misc]


class EtcdDiscoveryTests(_OnEtcd, kubectl_suite.DiscoveryTests):
    suite = kubectl_suite


class EtcdEverydayWorkTests(_OnEtcd, kubectl_suite.EverydayWorkTests):
    suite = kubectl_suite


class EtcdPythonClientTests(_OnEtcd, client_suite.PythonClientTests):
    suite = client_suite


class EtcdKeyLayoutTests(unittest.TestCase):
    """``etcdctl get --prefix /registry/`` shows kube-apiserver's layout, values are JSON."""

    def setUp(self) -> None:
        self.server = shared_etcd_server()
        self.endpoints: list[str] = self.server.etcd_servers
        self.ns = f"keys-{uuid.uuid4().hex[:8]}"
        self.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}})

    def post(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create through plain JSON (this test is about storage, not about kubectl's encoding)."""
        code, _, body = self.server.raw("POST", path, obj)
        self.assertEqual(code, 201, body)
        return json.loads(body)  # type: ignore[no-any-return]

    def stored(self, key: str) -> dict[str, Any]:
        out = etcdctl(self.endpoints, "get", key, "--print-value-only").stdout
        self.assertTrue(out.strip(), f"{key} is not in etcd")
        return json.loads(out)  # type: ignore[no-any-return]

    def test_key_layout_and_json_values(self) -> None:
        s = self.server
        ns = f"/api/v1/namespaces/{self.ns}"
        cm_api = self.post(f"{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                "metadata": {"name": "cfg"}, "data": {"a": "1"}})
        container = {"name": "c", "image": "nginx"}
        self.post(f"{ns}/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
                                 "spec": {"containers": [container]}})
        labels = {"app": "d1"}
        self.post(f"/apis/apps/v1/namespaces/{self.ns}/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1"},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}})
        node = f"node-{self.ns}"
        self.post("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
        self.addCleanup(s.raw, "DELETE", f"/api/v1/nodes/{node}")

        keys = set(etcdctl(self.endpoints, "get", "--prefix", "/registry/", "--keys-only").stdout.split())
        expected = {
            f"/registry/configmaps/{self.ns}/cfg": ("ConfigMap", "v1", "cfg"),
            f"/registry/pods/{self.ns}/p1": ("Pod", "v1", "p1"),
            f"/registry/deployments/{self.ns}/d1": ("Deployment", "apps/v1", "d1"),
            f"/registry/minions/{node}": ("Node", "v1", node),
            "/registry/services/specs/default/kubernetes": ("Service", "v1", "kubernetes"),
            f"/registry/namespaces/{self.ns}": ("Namespace", "v1", self.ns),
        }
        for key in expected:
            self.assertIn(key, keys)
        self.assertNotIn(f"/registry/nodes/{node}", keys)

        for key, (kind, api_version, name) in expected.items():
            value = self.stored(key)
            self.assertEqual((value["kind"], value["apiVersion"], value["metadata"]["name"]),
                             (kind, api_version, name), key)
        value = self.stored(f"/registry/configmaps/{self.ns}/cfg")
        self.assertEqual(value["data"], {"a": "1"})
        self.assertEqual(value["metadata"]["uid"], cm_api["metadata"]["uid"])
        self.assertEqual(value["metadata"]["namespace"], self.ns)
        # The revision is etcd's own (mod_revision); upstream does not store it in the value.
        self.assertNotIn("resourceVersion", value["metadata"])
        kv = json.loads(etcdctl(self.endpoints, "get", f"/registry/configmaps/{self.ns}/cfg",
                                "-w", "json").stdout)
        self.assertEqual(str(kv["kvs"][0]["mod_revision"]), cm_api["metadata"]["resourceVersion"])
