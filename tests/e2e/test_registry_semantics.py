"""Real kubectl and the real Python client against the real server: server-side apply with
two managers (conflict, force), kubectl delete --cascade leaving the garbage collector's
finalizers, binding and eviction through the client."""

from __future__ import annotations

import json

from kubernetes import client
from kubernetes.client.rest import ApiException
from twisted.trial import unittest

from tests.e2e.harness import shared_server, unique_namespace

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx}]
"""


class ServerSideApplyTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()
        self.ns = unique_namespace(self.server, "ssa")

    def apply(self, replicas: int, *extra: str, check: bool = True) -> object:
        return self.server.kubectl("apply", "--server-side", "-n", self.ns, *extra, "-f", "-",
                                   input=DEPLOYMENT.replace("REPLICAS", str(replicas)), check=check)

    def get(self) -> dict:
        return self.server.kubectl_json("get", "deployment", "web", "-n", self.ns, "--show-managed-fields")

    def test_twice_then_conflict_then_force(self) -> None:
        first = self.apply(2)
        self.assertIn("deployment.apps/web serverside-applied", first.stdout)  # type: ignore[attr-defined]
        rv = self.get()["metadata"]["resourceVersion"]
        self.apply(2)
        again = self.get()
        self.assertEqual(again["metadata"]["resourceVersion"], rv)  # identical apply writes nothing
        [entry] = again["metadata"]["managedFields"]
        self.assertEqual((entry["manager"], entry["operation"], entry["fieldsType"]),
                         ("kubectl", "Apply", "FieldsV1"))
        self.assertIn("f:replicas", entry["fieldsV1"]["f:spec"])

        p = self.apply(3, "--field-manager=other", check=False)
        self.assertNotEqual(p.returncode, 0)  # type: ignore[attr-defined]
        self.assertIn('error: Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas',
                      p.stderr)  # type: ignore[attr-defined]
        self.assertEqual(self.get()["spec"]["replicas"], 2)

        self.apply(3, "--field-manager=other", "--force-conflicts")
        forced = self.get()
        self.assertEqual(forced["spec"]["replicas"], 3)
        owners = {e["manager"]: e["fieldsV1"]["f:spec"] for e in forced["metadata"]["managedFields"]}
        self.assertIn("f:replicas", owners["other"])
        self.assertNotIn("f:replicas", owners["kubectl"])


class CascadeTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()
        self.ns = unique_namespace(self.server, "gc")

    def test_cascade_flags_leave_upstreams_finalizers(self) -> None:
        for name in ("fg", "or", "bg"):
            self.server.kubectl("create", "deployment", name, "--image=nginx", "-n", self.ns)
        self.server.kubectl("delete", "deployment", "fg", "-n", self.ns, "--cascade=foreground", "--wait=false")
        self.server.kubectl("delete", "deployment", "or", "-n", self.ns, "--cascade=orphan", "--wait=false")
        self.server.kubectl("delete", "deployment", "bg", "-n", self.ns, "--cascade=background")
        fg = self.server.kubectl_json("get", "deployment", "fg", "-n", self.ns)
        self.assertEqual(fg["metadata"]["finalizers"], ["foregroundDeletion"])
        self.assertIn("deletionTimestamp", fg["metadata"])
        orphan = self.server.kubectl_json("get", "deployment", "or", "-n", self.ns)
        self.assertEqual(orphan["metadata"]["finalizers"], ["orphan"])
        gone = self.server.kubectl("get", "deployment", "bg", "-n", self.ns, check=False)
        self.assertIn('deployments.apps "bg" not found', gone.stderr)
        # What the garbage collector does when it is done: drop its finalizer; the object goes.
        self.server.kubectl("patch", "deployment", "or", "-n", self.ns, "--type=json",
                            "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        self.assertIn("not found", self.server.kubectl("get", "deployment", "or", "-n", self.ns,
                                                       check=False).stderr)


class PythonClientPodWritesTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()
        self.ns = unique_namespace(self.server, "pods")
        self.api_client = self.server.client()
        self.addCleanup(self.api_client.close)
        self.core = client.CoreV1Api(self.api_client)

    def pod(self, name: str) -> client.V1Pod:
        return self.core.create_namespaced_pod(self.ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": "web"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")])))

    def test_binding(self) -> None:
        self.pod("p")
        body = client.V1Binding(metadata=client.V1ObjectMeta(name="p"),
                                target=client.V1ObjectReference(kind="Node", name="node-1"))
        resp = self.core.create_namespaced_pod_binding("p", self.ns, body, _preload_content=False)
        self.assertEqual(resp.status, 201)
        self.assertEqual(json.loads(resp.data)["status"], "Success")
        got = self.core.read_namespaced_pod("p", self.ns)
        self.assertEqual(got.spec.node_name, "node-1")
        self.assertEqual([(c.type, c.status) for c in got.status.conditions], [("PodScheduled", "True")])
        with self.assertRaises(ApiException) as again:
            self.core.create_namespaced_pod_binding("p", self.ns, body, _preload_content=False)
        self.assertEqual(again.exception.status, 409)

    def test_eviction_without_budget_deletes_the_pod(self) -> None:
        self.pod("free")
        self.core.patch_namespaced_pod_status("free", self.ns, {"status": {
            "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
        self.core.create_namespaced_pod_eviction("free", self.ns, client.V1Eviction(
            metadata=client.V1ObjectMeta(name="free", namespace=self.ns)))
        with self.assertRaises(ApiException) as gone:
            self.core.read_namespaced_pod("free", self.ns)
        self.assertEqual(gone.exception.status, 404)

    def test_eviction_blocked_by_budget(self) -> None:
        policy = client.PolicyV1Api(self.api_client)
        try:
            policy.list_namespaced_pod_disruption_budget(self.ns)
        except ApiException as e:
            if e.status == 404:
                raise unittest.SkipTest("policy/v1 PodDisruptionBudget is not served by this build") from None
            raise
        self.pod("p")
        self.core.patch_namespaced_pod_status("p", self.ns, {"status": {
            "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
        pdb = policy.create_namespaced_pod_disruption_budget(self.ns, client.V1PodDisruptionBudget(
            metadata=client.V1ObjectMeta(name="budget"),
            spec=client.V1PodDisruptionBudgetSpec(min_available=1, selector=client.V1LabelSelector(
                match_labels={"app": "web"}))))
        # What the disruption controller would report for one healthy pod and minAvailable 1.
        policy.patch_namespaced_pod_disruption_budget_status("budget", self.ns, {"status": {
            "observedGeneration": pdb.metadata.generation, "disruptionsAllowed": 0, "currentHealthy": 1,
            "desiredHealthy": 1, "expectedPods": 1}})
        eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name="p", namespace=self.ns))
        with self.assertRaises(ApiException) as blocked:
            self.core.create_namespaced_pod_eviction("p", self.ns, eviction)
        self.assertEqual(blocked.exception.status, 429)
        status = json.loads(blocked.exception.body)
        self.assertEqual(status["message"], "Cannot evict pod as it would violate the pod's disruption budget.")
        self.assertEqual(status["details"]["causes"][0]["reason"], "DisruptionBudget")
        self.assertEqual(self.core.read_namespaced_pod("p", self.ns).metadata.name, "p")
        policy.delete_namespaced_pod_disruption_budget("budget", self.ns)
        self.core.create_namespaced_pod_eviction("p", self.ns, eviction)
        with self.assertRaises(ApiException) as gone:
            self.core.read_namespaced_pod("p", self.ns)
        self.assertEqual(gone.exception.status, 404)
