"""kopf (a real operator framework) runs against kubeapi: its create handler runs and patches
status, and its finalizer comes off when the object is deleted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from twisted.trial import unittest

from tests.e2e.harness import ServerProcess

HERE = Path(__file__).resolve().parent
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.dev"},
    "spec": {
        "group": "example.dev", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                          "spec": {"type": "object", "properties": {"who": {"type": "string"}}},
                          "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}],
    },
}


class KopfTests(unittest.TestCase):
    def setUp(self) -> None:
        try:
            import kopf  # noqa: F401
        except ImportError:
            raise unittest.SkipTest("kopf is not installed (pip install .[test])") from None
        self.server = ServerProcess()
        self.server.start()
        self.addCleanup(self.server.cleanup)
        self.server.kubectl("apply", "-f", "-", input=json.dumps(CRD))
        self.server.kubectl("wait", "--for=condition=Established", "crd/widgets.example.dev", "--timeout=20s")
        self.server.kubectl("create", "namespace", "ops")
        log = open(os.path.join(self.server.tmp, "kopf.log"), "wb")
        self.addCleanup(log.close)
        env = dict(os.environ, KUBECONFIG=self.server.kubeconfig, HOME=self.server.tmp)
        self.operator = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace=ops", "--verbose",
             str(HERE / "kopf_operator.py")], stdout=log, stderr=subprocess.STDOUT, env=env)
        self.addCleanup(self._stop)
        self.log_path = log.name

    def _stop(self) -> None:
        if self.operator.poll() is None:
            self.operator.terminate()
            try:
                self.operator.wait(15)
            except subprocess.TimeoutExpired:
                self.operator.kill()
                self.operator.wait(5)

    def kopf_log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")[-4000:]

    def get(self) -> dict:
        p = self.server.kubectl("get", "-n", "ops", "widget", "w1", "-o", "json", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else {}

    def wait(self, check, what: str, timeout: float = 40.0):  # type: ignore[no-untyped-def]
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = check()
            if got:
                return got
            if self.operator.poll() is not None:
                self.fail(f"kopf exited ({self.operator.returncode}):\n{self.kopf_log()}")
            time.sleep(0.3)
        self.fail(f"{what} did not happen:\n{self.kopf_log()}")

    def test_handler_status_and_finalizer(self) -> None:
        self.server.kubectl("apply", "-n", "ops", "-f", "-", input=json.dumps({
            "apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"who": "kube"}}))
        obj = self.wait(lambda: (self.get().get("status") or {}).get("create_fn") and self.get(), "create handler")
        self.assertEqual(obj["status"]["create_fn"], {"greeting": "hello kube from w1"})
        self.assertEqual(obj["status"]["phase"], "Ready")
        self.assertIn("kopf.example.dev/cleanup", obj["metadata"]["finalizers"])
        self.server.kubectl("delete", "-n", "ops", "widget", "w1", "--wait=false")
        self.wait(lambda: not self.get(), "deletion through kopf's finalizer")
        self.assertIn("deleted w1", self.kopf_log())
