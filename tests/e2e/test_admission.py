"""Admission end to end on the real server: a quota stops the 11th pod (real kubectl), 20
concurrent creates against a quota of 10 leave exactly 10 (real Python client), and pods get
the default service account, its API-access volume, priority and default tolerations."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from kubernetes import client
from kubernetes.client.rest import ApiException
from twisted.trial import unittest

from tests.e2e.harness import shared_server, unique_namespace

QUOTA = """apiVersion: v1
kind: ResourceQuota
metadata: {name: pods-quota}
spec:
  hard: {pods: "10"}
"""


class QuotaTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()

    def test_quota_stops_the_eleventh_pod(self) -> None:
        ns = unique_namespace(self.server, "quota")
        self.server.kubectl("apply", "-n", ns, "-f", "-", input=QUOTA)
        for i in range(10):
            self.server.kubectl("run", f"p{i}", "-n", ns, "--image=nginx", "--restart=Never")
        res = self.server.kubectl("run", "p10", "-n", ns, "--image=nginx", "--restart=Never", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn('Error from server (Forbidden): pods "p10" is forbidden: exceeded quota: pods-quota, '
                      'requested: pods=1, used: pods=10, limited: pods=10', res.stderr)
        q = self.server.kubectl_json("get", "resourcequota", "pods-quota", "-n", ns)
        self.assertEqual(q["status"], {"hard": {"pods": "10"}, "used": {"pods": "10"}})
        self.server.kubectl("delete", "pod", "p0", "-n", ns, "--grace-period=0", "--force")
        # The freed slot is usable once the delete is recounted.
        self.server.kubectl("run", "p10", "-n", ns, "--image=nginx", "--restart=Never")

    def test_concurrent_creates_never_exceed_the_quota(self) -> None:
        ns = unique_namespace(self.server, "quota-race")
        api_client = self.server.client()
        self.addCleanup(api_client.close)
        core = client.CoreV1Api(api_client)
        core.create_namespaced_resource_quota(ns, client.V1ResourceQuota(
            metadata=client.V1ObjectMeta(name="q"), spec=client.V1ResourceQuotaSpec(hard={"pods": "10"})))

        def create(i: int) -> int:
            try:
                core.create_namespaced_pod(ns, client.V1Pod(
                    metadata=client.V1ObjectMeta(name=f"p{i}"),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")])))
                return 201
            except ApiException as e:
                self.assertIn("exceeded quota: q", json.loads(e.body)["message"])
                return e.status

        with ThreadPoolExecutor(max_workers=20) as pool:
            codes = list(pool.map(create, range(20)))
        self.assertEqual(sorted(codes), [201] * 10 + [403] * 10)
        self.assertEqual(len(core.list_namespaced_pod(ns).items), 10)
        self.assertEqual(core.read_namespaced_resource_quota("q", ns).status.used, {"pods": "10"})


class PodDefaultsTests(unittest.TestCase):
    def test_default_service_account_priority_and_tolerations(self) -> None:
        server = shared_server()
        ns = unique_namespace(server, "sa")
        server.kubectl("run", "p", "-n", ns, "--image=nginx", "--restart=Never")
        pod = server.kubectl_json("get", "pod", "p", "-n", ns)
        spec = pod["spec"]
        self.assertEqual(spec["serviceAccountName"], "default")
        self.assertEqual(spec["priority"], 0)
        vol = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
        self.assertEqual(len(vol), 1)
        self.assertEqual(len(vol[0]["name"]), len("kube-api-access-") + 5)
        sources = vol[0]["projected"]["sources"]
        self.assertEqual(sources[0], {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}})
        self.assertEqual(sources[1]["configMap"]["name"], "kube-root-ca.crt")
        self.assertEqual(spec["containers"][0]["volumeMounts"], [{
            "name": vol[0]["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
        tols = {(t["key"], t.get("tolerationSeconds")) for t in spec["tolerations"]}
        self.assertEqual(tols, {("node.kubernetes.io/not-ready", 300), ("node.kubernetes.io/unreachable", 300)})
        res = server.kubectl("run", "q", "-n", ns, "--image=nginx", "--restart=Never",
                             "--overrides", json.dumps({"spec": {"serviceAccountName": "ghost"}}), check=False)
        self.assertIn(f'pods "q" is forbidden: error looking up service account {ns}/ghost: '
                      'serviceaccount "ghost" not found', res.stderr)
