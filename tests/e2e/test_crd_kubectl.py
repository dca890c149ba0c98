"""Real kubectl against the real server with a real-world-shaped CRD: apply, explain, get with
printer columns, scale, strict validation, a CEL rule refusing an update, deletion."""

from __future__ import annotations

import atexit
import json
import os
import time
from pathlib import Path

from twisted.trial import unittest

from tests.e2e.harness import ServerProcess

CRD_FILE = str(Path(__file__).resolve().parents[1] / "apiextensions" / "probes-crd.yaml")
PROBE = """
apiVersion: monitoring.example.dev/v1
kind: Probe
metadata: {name: web}
spec:
  jobLabel: app
  replicas: 2
  endpoints:
  - name: http
    port: 8080
  - name: admin
    port: metrics
    scheme: https
    tlsConfig: {serverName: web.local}
"""


_server: ServerProcess | None = None


def crd_server() -> ServerProcess:
    """One server for this module, with the Probe CRD applied (stopped at interpreter exit)."""
    global _server
    if _server is None:
        server = ServerProcess()
        server.start()
        atexit.register(server.cleanup)
        server.kubectl("apply", "-f", CRD_FILE)
        server.kubectl("wait", "--for=condition=Established", "crd/probes.monitoring.example.dev",
                       "--timeout=20s")
        server.kubectl("create", "namespace", "mon")
        _server = server
    return _server


class CRDKubectlTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = crd_server()

    def k(self, *args: str, **kw: object) -> str:
        return self.server.kubectl(*args, **kw).stdout  # type: ignore[arg-type]

    def fresh(self, name: str) -> None:
        self.server.kubectl("apply", "-n", "mon", "-f", "-", input=PROBE.replace("name: web", f"name: {name}"))

    def test_get_prints_columns_short_name_and_category(self) -> None:
        self.fresh("cols")
        out = self.k("get", "-n", "mon", "prb", "cols")
        head, row = out.splitlines()[:2]
        self.assertEqual(head.split(), ["NAME", "INTERVAL", "REPLICAS", "READY", "AGE"])
        self.assertEqual(row.split()[:4], ["cols", "30s", "2", "<none>"])
        wide = self.k("get", "-n", "mon", "probes", "cols", "-o", "wide").splitlines()[0].split()
        self.assertIn("JOB", wide)
        # Categories come from discovery; kubectl's disk cache predates the CRD (as with any
        # server), so look with a fresh cache.
        cache = os.path.join(self.server.tmp, "fresh-discovery-cache")
        out = self.k("get", "-n", "mon", "monitoring", "-o", "name", f"--cache-dir={cache}")
        self.assertIn("probe.monitoring.example.dev/cols", out)

    def test_explain(self) -> None:
        out = self.k("explain", "probes.spec.endpoints.scheme")
        self.assertIn("KIND:       Probe", out)
        self.assertIn("ENUM:\n    http\n    https", out)
        out = self.k("explain", "probe.spec")
        self.assertIn("What to scrape and how.", out)
        self.assertIn("endpoints\t<[]Object> -required-", out)

    def test_defaults_and_strict_validation(self) -> None:
        self.fresh("defs")
        obj = json.loads(self.k("get", "-n", "mon", "probe", "defs", "-o", "json"))
        self.assertEqual(obj["spec"]["interval"], "30s")
        self.assertEqual(obj["spec"]["endpoints"][0]["path"], "/metrics")
        bad = PROBE.replace("name: web", "name: strict").replace("jobLabel: app", "jobLabel: app\n  typo: 1")
        p = self.server.kubectl("apply", "-n", "mon", "-f", "-", input=bad, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('strict decoding error: unknown field "spec.typo"', p.stderr)

    def test_scale_and_cel_rules(self) -> None:
        self.fresh("sc")
        self.assertIn("scaled", self.k("scale", "-n", "mon", "probe/sc", "--replicas=4"))
        self.assertEqual(self.k("get", "-n", "mon", "probe", "sc", "-o", "jsonpath={.spec.replicas}"), "4")
        p = self.server.kubectl("scale", "-n", "mon", "probe/sc", "--replicas=2", check=False)
        self.assertIn('The Probe "sc" is invalid: spec.replicas: Invalid value: "integer": replicas may only grow '
                      'unless allowScaleDown is set', p.stderr)
        p = self.server.kubectl("patch", "-n", "mon", "probe", "sc", "--type=merge", "-p",
                                '{"spec":{"replicas":40}}', check=False)
        self.assertIn("replicas must not exceed maxReplicas", p.stderr)
        p = self.server.kubectl("patch", "-n", "mon", "probe", "sc", "--type=merge", "-p",
                                '{"spec":{"endpoints":[{"name":"x","port":1,"scheme":"https"}]}}', check=False)
        self.assertIn("https endpoints need a tlsConfig", p.stderr)

    def test_strategic_patch_is_refused_and_status_patch(self) -> None:
        self.fresh("pt")
        p = self.server.kubectl("patch", "-n", "mon", "probe", "pt", "--type=strategic", "-p",
                                '{"spec":{"replicas":3}}', check=False)
        self.assertIn("application/strategic-merge-patch+json is not supported by monitoring.example.dev/v1, "
                      "Kind=Probe", p.stderr)
        self.k("patch", "-n", "mon", "probe", "pt", "--subresource=status", "--type=merge", "-p",
               '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}')
        row = self.k("get", "-n", "mon", "probe", "pt", "--no-headers").split()
        self.assertEqual(row[3], "True")

    def test_server_side_apply(self) -> None:
        p = self.server.kubectl("apply", "--server-side", "-n", "mon", "-f", "-",
                                input=PROBE.replace("name: web", "name: ssa"), check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        obj = json.loads(self.k("get", "-n", "mon", "probe", "ssa", "-o", "json"))
        self.assertEqual([e["name"] for e in obj["spec"]["endpoints"]], ["http", "admin"])

    def test_delete_crd_last(self) -> None:
        # A second CRD, deleted with an object in it: the object goes, then the CRD.
        other = Path(CRD_FILE).read_text().replace("probes", "checks").replace("probe", "check") \
            .replace("Probe", "Check").replace("prb", "chk")
        self.server.kubectl("apply", "-f", "-", input=other)
        self.server.kubectl("wait", "--for=condition=Established", "crd/checks.monitoring.example.dev",
                            "--timeout=20s")
        self.server.kubectl("apply", "-n", "mon", "-f", "-",
                            input=PROBE.replace("Probe", "Check").replace("name: web", "name: c1"))
        self.k("delete", "crd", "checks.monitoring.example.dev", "--timeout=30s")
        deadline = time.time() + 10
        while time.time() < deadline:
            p = self.server.kubectl("get", "crd", "checks.monitoring.example.dev", check=False)
            if p.returncode != 0:
                break
            time.sleep(0.2)
        self.assertIn("NotFound", p.stderr)
        p = self.server.kubectl("get", "-n", "mon", "checks", check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_open_crd_is_published_as_kubectl_expects(self) -> None:
        # A CRD whose schema is only an open object: explain has no description to show, the
        # Swagger 2.0 definition is a bare object (kubectl's v2 validation cannot express an open
        # one), and any fields are accepted.
        open_crd = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: blobs.open.example.dev}
spec:
  group: open.example.dev
  scope: Namespaced
  names: {plural: blobs, singular: blob, kind: Blob}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
        self.server.kubectl("apply", "-f", "-", input=open_crd)
        self.server.kubectl("wait", "--for=condition=Established", "crd/blobs.open.example.dev", "--timeout=20s")
        out = self.k("explain", "blobs")
        self.assertRegex(out, r"(?s)DESCRIPTION:\s*<empty>\s*FIELDS:.*apiVersion\t<string>\n\s+APIVersion defines")
        self.assertIn("metadata\t<ObjectMeta>\n    Standard object's metadata", out)
        out = self.k("explain", "blobs.metadata")
        self.assertRegex(out, r"(?s)creationTimestamp\t<string>\n\s+CreationTimestamp is a timestamp")
        v2 = json.loads(self.k("get", "--raw", "/openapi/v2"))["definitions"]["dev.example.open.v1.Blob"]
        self.assertEqual(v2, {"type": "object", "x-kubernetes-group-version-kind": [
            {"group": "open.example.dev", "kind": "Blob", "version": "v1"}]})
        self.server.kubectl("apply", "-n", "mon", "-f", "-", input=(
            '{"apiVersion": "open.example.dev/v1", "kind": "Blob", "metadata": {"name": "b"}, '
            '"a": {"b": [{"c": "d"}]}}'))
        got = json.loads(self.k("get", "-n", "mon", "blob", "b", "-o", "json"))
        self.assertEqual(got["a"], {"b": [{"c": "d"}]})
        self.k("delete", "crd", "blobs.open.example.dev", "--timeout=30s")
