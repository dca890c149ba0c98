"""`--storage-media-type=application/vnd.kubernetes.protobuf` on etcd: kubectl works as usual,
and what `etcdctl get` shows is upstream's `k8s\\0` envelope, which a JSON server still reads."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from typing import Any

from twisted.trial import unittest

from kubeapi import protobuf
from tests.e2e.harness import ServerProcess

PROTOBUF = "--storage-media-type=application/vnd.kubernetes.protobuf"

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %(ns)s, labels: {app: web}}
spec:
  replicas: %(replicas)d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
"""


class ProtobufStorageTests(unittest.TestCase):
    cluster: Any
    server: ServerProcess

    def setUp(self) -> None:
        from tests.support.etcd import EtcdCluster

        self.cluster = EtcdCluster(1).start_blocking()
        self.addCleanup(self.cluster.stop)
        self.server = ServerProcess(PROTOBUF, etcd_servers=self.cluster.endpoints)
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def stored(self, key: str) -> bytes:
        """The raw value at key, as `etcdctl get --print-value-only` prints it."""
        p = subprocess.run(["etcdctl", f"--endpoints={','.join(self.cluster.endpoints)}", "--command-timeout=10s",
                            "get", key, "--print-value-only"],
                           capture_output=True, timeout=30, env=dict(os.environ, ETCDCTL_API="3"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.strip(), f"{key} is not in etcd")
        return p.stdout[:-1] if p.stdout.endswith(b"\n") else p.stdout

    def test_kubectl_round_trip_and_envelope_in_etcd(self) -> None:
        s = self.server
        ns = f"pb-{uuid.uuid4().hex[:8]}"
        s.kubectl("create", "namespace", ns)
        self.assertTrue(self.stored(f"/registry/namespaces/{ns}").startswith(b"k8s\x00"))

        s.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1")
        raw = self.stored(f"/registry/configmaps/{ns}/cfg")
        self.assertTrue(raw.startswith(b"k8s\x00"), raw[:40])
        self.assertEqual(protobuf.peek_type(raw), ("v1", "ConfigMap"))
        cm = s.kubectl_json("-n", ns, "get", "configmap", "cfg")
        self.assertEqual(cm["data"], {"a": "1"})
        stored = protobuf.decode(raw)
        self.assertEqual((stored["metadata"]["uid"], stored["data"]), (cm["metadata"]["uid"], {"a": "1"}))

        s.kubectl("apply", "-f", "-", input=DEPLOYMENT % {"ns": ns, "replicas": 2})
        s.kubectl("apply", "-f", "-", input=DEPLOYMENT % {"ns": ns, "replicas": 3})
        dep = s.kubectl_json("-n", ns, "get", "deployment", "web")
        self.assertEqual(dep["spec"]["replicas"], 3)
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration", dep["metadata"]["annotations"])
        raw_dep = self.stored(f"/registry/deployments/{ns}/web")
        self.assertTrue(raw_dep.startswith(b"k8s\x00"))
        self.assertEqual(protobuf.decode(raw_dep)["spec"]["replicas"], 3)
        # Applying the same manifest again changes nothing, resourceVersion included.
        s.kubectl("apply", "-f", "-", input=DEPLOYMENT % {"ns": ns, "replicas": 3})
        again = s.kubectl_json("-n", ns, "get", "deployment", "web")
        self.assertEqual(again["metadata"]["resourceVersion"], dep["metadata"]["resourceVersion"])

        # A JSON server on the same etcd reads what the protobuf server wrote.
        js = ServerProcess(etcd_servers=self.cluster.endpoints)
        self.addCleanup(js.cleanup)
        js.start()
        self.assertEqual(js.kubectl_json("-n", ns, "get", "configmap", "cfg")["data"], {"a": "1"})
        self.assertEqual(js.kubectl_json("-n", ns, "get", "deployment", "web")["spec"]["replicas"], 3)
        names = json.loads(js.kubectl("-n", ns, "get", "configmaps", "-o", "json").stdout)
        self.assertIn("cfg", [i["metadata"]["name"] for i in names["items"]])
