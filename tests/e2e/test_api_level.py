"""API level v1.34 with real kubectl against the real server: the discovery table, the objects
kube-apiserver creates at start, and everyday commands on the newly served kind families.

The expected tables in tests/e2e/data/ were printed by kubectl 1.33 against a real
kube-apiserver v1.34.4 (default flags, on etcd) built by the interop tooling."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml
from twisted.trial import unittest

from tests.e2e.harness import shared_server, unique_namespace

DATA = Path(__file__).parent / "data"
KUBECTL_127 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27"


def rows(text: str) -> list[list[str]]:
    """A kubectl table as cells, cut at the header's column starts (empty cells kept)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header = lines[0]
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 2:i] == "  ")]
    out = []
    for ln in lines:
        cells = [ln[a:b].strip() for a, b in zip(starts, starts[1:] + [len(ln) + 1], strict=True)]
        out.append(cells)
    return out


class DiscoveryTableTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()

    def test_api_resources_as_kube_apiserver_v1_34(self) -> None:
        got = rows(self.server.kubectl("api-resources").stdout)
        want = rows((DATA / "api-resources-v1.34.txt").read_text())
        self.assertEqual(got, want)

    def test_api_versions_as_kube_apiserver_v1_34(self) -> None:
        got = self.server.kubectl("api-versions").stdout.split()
        self.assertEqual(got, (DATA / "api-versions-v1.34.txt").read_text().split())

    def test_local_apiservices_and_flowcontrol_bootstrap(self) -> None:
        got = self.server.kubectl("get", "apiservices", "-o", "name").stdout.split()
        self.assertEqual(got, (DATA / "apiservices-v1.34.txt").read_text().split())
        table = rows(self.server.kubectl("get", "apiservices").stdout)
        self.assertEqual(table[1][:3], ["v1.", "Local", "True"])
        got = self.server.kubectl("get", "flowschemas,prioritylevelconfigurations", "-o", "name").stdout.split()
        self.assertEqual(sorted(got), sorted((DATA / "flowcontrol-v1.34.txt").read_text().split()))
        cm = json.loads(self.server.kubectl("get", "configmap", "-n", "kube-system", "-o", "json",
                                            "kube-apiserver-legacy-service-account-token-tracking").stdout)
        self.assertRegex(cm["data"]["since"], r"^\d{4}-\d{2}-\d{2}$")
        pcs = rows(self.server.kubectl("get", "priorityclasses").stdout)
        self.assertEqual([r[:3] for r in pcs[1:]], [["system-cluster-critical", "2000000000", "false"],
                                                     ["system-node-critical", "2000001000", "false"]])

    def test_version(self) -> None:
        doc = json.loads(self.server.kubectl("get", "--raw", "/version").stdout)
        self.assertEqual((doc["major"], doc["minor"]), ("1", "34"))
        self.assertTrue(doc["gitVersion"].startswith("v1.34."))


class KindFamilyTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()
        self.ns = unique_namespace(self.server)

    def k(self, *args: str, **kw: object) -> subprocess.CompletedProcess:
        return self.server.kubectl(*args, "-n", self.ns, **kw)  # type: ignore[arg-type]

    def test_create_role_and_rolebinding(self) -> None:
        self.k("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
        self.k("create", "rolebinding", "rb", "--role=pod-reader", "--user=alice", "--serviceaccount=x:y")
        role = json.loads(self.k("get", "role", "pod-reader", "-o", "json").stdout)
        self.assertEqual(role["rules"], [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}])
        table = rows(self.k("get", "rolebinding", "rb", "-o", "wide").stdout)
        self.assertEqual(table[0], ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"])
        self.assertEqual([table[1][i] for i in (0, 1, 3, 5)], ["rb", "Role/pod-reader", "alice", "x/y"])
        bad = self.k("apply", "-f", "-", check=False, input=yaml.safe_dump({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "bad"},
            "rules": [{"apiGroups": [""], "resources": ["pods"]}]}))
        self.assertIn("rules[0].verbs: Required value: verbs must contain at least one value", bad.stderr)
        r = self.k("patch", "rolebinding", "rb", "--type=merge", "-p", '{"roleRef":{"name":"other"}}', check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot change roleRef", r.stderr)

    def test_storageclass(self) -> None:
        name = f"sc-{self.ns}"
        self.server.kubectl("apply", "-f", "-", input=yaml.safe_dump({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "example.com/fast"}))
        try:
            table = rows(self.server.kubectl("get", "storageclass", name).stdout)
            self.assertEqual(table[0], ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                                        "ALLOWVOLUMEEXPANSION", "AGE"])
            self.assertEqual(table[1][:5], [f"{name} (default)", "example.com/fast", "Delete", "Immediate", "false"])
            r = self.server.kubectl("patch", "storageclass", name, "--type=merge", "-p",
                                    '{"provisioner":"other"}', check=False)
            self.assertIn("provisioner: Forbidden: updates to provisioner are forbidden.", r.stderr)
        finally:
            self.server.kubectl("delete", "storageclass", name, check=False)

    def test_hpa_through_v1_and_v2(self) -> None:
        self.k("apply", "-f", "-", input=yaml.safe_dump({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                     "metrics": [
                         {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                    "averageUtilization": 60}}},
                         {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                                   "target": {"type": "AverageValue", "averageValue": "10"}}}]}}))
        v1 = json.loads(self.k("get", "horizontalpodautoscalers.v1.autoscaling", "h", "-o", "json").stdout)
        self.assertEqual(v1["spec"]["targetCPUUtilizationPercentage"], 60)
        self.assertEqual(v1["spec"]["minReplicas"], 1)
        self.assertEqual(json.loads(v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"]),
                         [{"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}])
        # A write through v1 keeps the v2-only metric.
        v1["spec"]["maxReplicas"] = 7
        self.k("replace", "-f", "-", input=json.dumps(v1))
        v2 = json.loads(self.k("get", "horizontalpodautoscalers.v2.autoscaling", "h", "-o", "json").stdout)
        self.assertEqual(v2["spec"]["maxReplicas"], 7)
        self.assertEqual([m["type"] for m in v2["spec"]["metrics"]], ["Pods", "Resource"])
        self.assertFalse([a for a in v2["metadata"].get("annotations", {}) if a.startswith("autoscaling.alpha")])
        table = rows(self.k("get", "hpa").stdout)
        self.assertEqual(table[0], ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"])
        self.assertEqual(table[1][:2], ["h", "Deployment/d"])

    def test_create_pdb_and_invalid(self) -> None:
        self.k("create", "poddisruptionbudget", "p", "--selector=app=x", "--min-available=1")
        table = rows(self.k("get", "pdb").stdout)
        self.assertEqual(table[0], ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"])
        self.assertEqual(table[1][:4], ["p", "1", "N/A", "0"])
        r = self.k("patch", "pdb", "p", "--type=merge", "-p", '{"spec":{"maxUnavailable":1}}', check=False)
        self.assertIn("minAvailable and maxUnavailable cannot be both set", r.stderr)
        status = self.k("patch", "pdb", "p", "--subresource=status", "--type=merge", "-p",
                        '{"status":{"disruptionsAllowed":3,"currentHealthy":4,"desiredHealthy":1,'
                        '"expectedPods":4}}')
        self.assertEqual(status.returncode, 0)
        self.assertEqual(rows(self.k("get", "pdb").stdout)[1][3], "3")
        # A main-resource write does not change the status.
        self.k("patch", "pdb", "p", "--type=merge", "-p", '{"status":{"disruptionsAllowed":9}}')
        self.assertEqual(rows(self.k("get", "pdb").stdout)[1][3], "3")

    def test_ingress_and_networkpolicy(self) -> None:
        self.k("create", "ingress", "web", "--rule=example.com/=svc:80")
        table = rows(self.k("get", "ingress").stdout)
        self.assertEqual(table[0], ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"])
        self.assertEqual(table[1][:5], ["web", "<none>", "example.com", "", "80"])
        self.k("apply", "-f", "-", input=yaml.safe_dump({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
            "spec": {"podSelector": {"matchLabels": {"app": "db"}}}}))
        np = json.loads(self.k("get", "netpol", "np", "-o", "json").stdout)
        self.assertEqual(np["spec"]["policyTypes"], ["Ingress"])

    def test_csr_approval(self) -> None:
        name = f"csr-{self.ns}"
        self.server.kubectl("apply", "-f", "-", input=yaml.safe_dump({
            "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
            "spec": {"request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K",
                     "signerName": "example.com/signer", "usages": ["client auth"], "username": "mallory"}}))
        try:
            self.assertEqual(rows(self.server.kubectl("get", "csr", name).stdout)[1][-1], "Pending")
            # The requester is who sent it (the plain port's admin), whatever the body claimed.
            spec = json.loads(self.server.kubectl("get", "csr", name, "-o", "json").stdout)["spec"]
            self.assertEqual((spec["username"], spec["groups"]), ("system:admin", ["system:masters",
                                                                                   "system:authenticated"]))
            self.server.kubectl("certificate", "approve", name)
            self.assertEqual(rows(self.server.kubectl("get", "csr", name).stdout)[1][-1], "Approved")
        finally:
            self.server.kubectl("delete", "csr", name, check=False)

    def test_review_kinds_are_create_only(self) -> None:
        r = self.server.kubectl("get", "tokenreviews", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("the server does not allow this method on the requested resource", r.stderr)

    def test_explain_shows_types(self) -> None:
        out = self.server.kubectl("explain", "pods.spec.containers.resources").stdout
        self.assertIn("limits\t<map[string]Quantity>", out)
        self.assertIn("claims\t<[]ResourceClaim>", out)
        out = self.server.kubectl("explain", "pdb.spec").stdout
        self.assertIn("minAvailable\t<IntOrString>", out)

    def test_strict_validation_rejects_unknown_fields(self) -> None:
        r = self.k("apply", "--validate=strict", "-f", "-", check=False, input=yaml.safe_dump({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": f"pc-{self.ns}"},
            "value": 10, "bogus": True}))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('unknown field "bogus"', r.stderr)

    def test_python_client_lists_apiservices(self) -> None:
        from kubernetes import client as k8s

        api = k8s.ApiregistrationV1Api(self.server.client())
        names = [s.metadata.name for s in api.list_api_service().items]
        self.assertIn("v1.", names)
        self.assertIn("v2.autoscaling", names)


class Kubectl127Tests(unittest.TestCase):
    def setUp(self) -> None:
        if not os.path.exists(KUBECTL_127):
            raise unittest.SkipTest("kubectl 1.27 not installed")
        self.server = shared_server()
        self.ns = unique_namespace(self.server)

    def test_everyday_commands(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.server.kubeconfig)}

        def k(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([KUBECTL_127, "--context", "plain", *args], env=env, capture_output=True,
                                  text=True, timeout=60, check=True)
        k("create", "role", "r", "-n", self.ns, "--verb=get", "--resource=pods")
        k("create", "poddisruptionbudget", "p", "-n", self.ns, "--selector=app=x", "--max-unavailable=1")
        self.assertIn("p ", k("get", "pdb", "-n", self.ns).stdout)
        k("get", "storageclass")
        self.assertIn("No resources found", k("get", "hpa", "-n", self.ns).stderr)
        self.assertIn("No resources found", k("get", "ingress", "-n", self.ns).stderr)
        self.assertIn("<IntOrString>", k("explain", "pdb.spec.maxUnavailable").stdout)
