"""The real kube-scheduler, kube-controller-manager and kwok nodes run on kubeapi.

One cluster per test class (embedded store, then etcd); each test works in its own
namespace and asserts with real kubectl what a user of a real cluster would see.  When a
test fails the cluster's directory (kubeapi's and every component's log) is kept and its
paths printed.  Without the binaries from ``interop/build.sh`` every test skips with one
line naming that command.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
import uuid
from typing import Any, ClassVar

from twisted.trial import unittest

from tests.interop.cluster import NODE_LABEL, Cluster, skip_reason

SKIP = skip_reason()


def _failures(result: Any) -> int:
    return len(getattr(result, "failures", ())) + len(getattr(result, "errors", ()))


class ClusterTests:
    """Mixed into a TestCase that provides ``make_cluster``."""

    cluster: Cluster
    skip = SKIP

    # -- fixture: one cluster per class, started by its first test, stopped after its last
    # (trial has no setUpClass; atexit covers a run of only some of the tests) -------------

    _started: ClassVar[dict[type, Cluster | BaseException]] = {}
    _finished: ClassVar[dict[type, int]] = {}

    @classmethod
    def make_cluster(cls) -> Cluster:
        raise NotImplementedError

    @classmethod
    def _cluster(cls) -> Cluster:
        got = ClusterTests._started.get(cls)
        if got is None:
            cluster = cls.make_cluster()
            atexit.register(cls._stop_cluster, cluster)
            try:
                cluster.start()
                cluster.wait_ready(timeout=180)
                got = cluster
            except BaseException as e:  # noqa: BLE001 - every later test reports the same cause
                cluster.keep_logs = True
                got = e
                sys.stderr.write(f"\ninterop: cluster did not come up; logs kept: {cluster.log_paths()}\n")
                cluster.stop()
            ClusterTests._started[cls] = got
        if isinstance(got, BaseException):
            raise AssertionError(f"the cluster did not come up: {got}")
        return got

    @staticmethod
    def _stop_cluster(cluster: Cluster) -> None:
        if os.environ.get("KUBEAPI_INTEROP_KEEP"):
            cluster.keep_logs = True
        if cluster.keep_logs and cluster.dir.exists():
            sys.stderr.write(f"\ninterop: component logs kept: {' '.join(cluster.log_paths())}\n")
        cluster.stop()

    def setUp(self) -> None:
        self.cluster = type(self)._cluster()

    def run(self, result: Any) -> None:
        """Run the test; keep the logs if it failed; stop the cluster after the class's last."""
        cls = type(self)
        before = _failures(result)
        super().run(result)  # type: ignore[misc]
        got = ClusterTests._started.get(cls)
        if not isinstance(got, Cluster):
            return
        if _failures(result) > before:
            got.keep_logs = True
        ClusterTests._finished[cls] = ClusterTests._finished.get(cls, 0) + 1
        if ClusterTests._finished[cls] == len([n for n in dir(cls) if n.startswith("test_")]):
            self._stop_cluster(got)

    # -- helpers -----------------------------------------------------------------------------

    def kubectl(self, *args: str, **kw: Any) -> Any:
        return self.cluster.kubectl(*args, **kw)

    def get(self, *args: str, **kw: Any) -> Any:
        return self.cluster.get(*args, **kw)

    def namespace(self) -> str:
        """A fresh namespace, once KCM's service-account controller has given it ``default``."""
        ns = f"it-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "namespace", ns)
        self.cluster.wait_for(f"ServiceAccount {ns}/default", lambda: self.kubectl(
            "get", "serviceaccount", "default", "-n", ns, check=False).returncode == 0, 60)
        return ns

    def rollout(self, ns: str, what: str, timeout: int = 120) -> None:
        self.kubectl("rollout", "status", what, "-n", ns, f"--timeout={timeout}s", timeout=timeout + 15)

    def pods(self, ns: str, selector: str) -> list[dict[str, Any]]:
        return list(self.get("pods", "-n", ns, "-l", selector).get("items", []))

    def wait_gone(self, ns: str, kind: str, selector: str, timeout: float = 90) -> None:
        self.cluster.wait_for(f"no {kind} with {selector} in {ns}",
                              lambda: not self.get(kind, "-n", ns, "-l", selector).get("items"), timeout)

    # -- the bullets of the issue ------------------------------------------------------------

    def test_a_control_plane(self) -> None:
        """Leaders hold their Leases; KCM made `default` and `kube-root-ca.crt` everywhere."""
        for name in ("kube-scheduler", "kube-controller-manager"):
            lease = self.get("lease", "-n", "kube-system", name)
            self.assertTrue(lease["spec"].get("holderIdentity"), lease)
        ns = self.namespace()
        for n in ("default", "kube-system", ns):
            self.cluster.wait_for(f"ConfigMap {n}/kube-root-ca.crt", lambda n=n: "ca.crt" in self.get(
                "configmap", "kube-root-ca.crt", "-n", n, check=False).get("data", {}), 60)
            self.kubectl("get", "serviceaccount", "default", "-n", n)
        for node in self.cluster.node_names:  # kwok holds them under its own identity
            self.cluster.wait_for(f"Lease kube-node-lease/{node} renewed", lambda node=node: bool(self.get(
                "lease", "-n", "kube-node-lease", node, check=False).get("spec", {}).get("renewTime")), 60)

    def test_deployment_rollout(self) -> None:
        """create → 3/3 Running on kwok nodes, bound by the scheduler; scale; set image; undo."""
        ns = self.namespace()
        self.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", ns)
        self.rollout(ns, "deployment/web")
        dep = self.get("deployment", "web", "-n", ns)
        self.assertEqual(dep["status"].get("availableReplicas"), 3, dep["status"])
        pods = self.pods(ns, "app=web")
        self.assertEqual(len(pods), 3)
        for p in pods:
            self.assertEqual(p["status"]["phase"], "Running", p["status"])
            self.assertIn(p["spec"].get("nodeName"), self.cluster.node_names)
            scheduled = [c for c in p["status"].get("conditions", []) if c["type"] == "PodScheduled"]
            self.assertEqual([c["status"] for c in scheduled], ["True"], p["status"])
        log = self.cluster.components["kube-scheduler"].log()
        for p in pods:
            self.assertIn(f'pod="{ns}/{p["metadata"]["name"]}"', log)

        self.kubectl("scale", "deployment/web", "--replicas=5", "-n", ns)
        self.rollout(ns, "deployment/web")
        self.assertEqual(self.get("deployment", "web", "-n", ns)["status"].get("availableReplicas"), 5)

        self.kubectl("set", "image", "deployment/web", "nginx=nginx:1.27", "-n", ns)
        self.rollout(ns, "deployment/web")
        rss = self.get("replicasets", "-n", ns, "-l", "app=web")["items"]
        self.assertEqual(len(rss), 2, [r["metadata"]["name"] for r in rss])
        images = {p["spec"]["containers"][0]["image"] for p in self.pods(ns, "app=web")
                  if not p["metadata"].get("deletionTimestamp")}
        self.assertEqual(images, {"nginx:1.27"})

        self.kubectl("rollout", "undo", "deployment/web", "-n", ns)
        self.rollout(ns, "deployment/web")
        dep = self.get("deployment", "web", "-n", ns)
        self.assertEqual(dep["spec"]["template"]["spec"]["containers"][0]["image"], "nginx")
        self.assertEqual(dep["status"].get("availableReplicas"), 5, dep["status"])

    def test_job_completes(self) -> None:
        ns = self.namespace()
        self.kubectl("create", "job", "once", "--image=busybox", "-n", ns, "--", "true")
        self.kubectl("wait", "--for=condition=Complete", "job/once", "-n", ns, "--timeout=120s", timeout=135)
        job = self.get("job", "once", "-n", ns)
        self.assertEqual(job["status"].get("succeeded"), 1, job["status"])

    def test_cronjob_creates_jobs(self) -> None:
        ns = self.namespace()
        self.kubectl("create", "cronjob", "tick", "--image=busybox", "--schedule=* * * * *", "-n", ns,
                     "--", "true")

        def owned_job() -> bool:
            return any(ref.get("kind") == "CronJob" and ref.get("name") == "tick"
                       for j in self.get("jobs", "-n", ns).get("items", [])
                       for ref in j["metadata"].get("ownerReferences", []))
        self.cluster.wait_for("a Job created by CronJob tick", owned_job, 100, 2)

    def test_statefulset_rollout(self) -> None:
        ns = self.namespace()
        sts = {
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": ns},
            "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "db", "image": "postgres"}]}}},
        }
        self.kubectl("apply", "-f", "-", input=json.dumps(sts))
        self.rollout(ns, "statefulset/db")
        names = sorted(p["metadata"]["name"] for p in self.pods(ns, "app=db"))
        self.assertEqual(names, ["db-0", "db-1"])

    def test_daemonset_one_pod_per_node(self) -> None:
        ns = self.namespace()
        ds = {
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"nodeSelector": {NODE_LABEL[0]: NODE_LABEL[1]},
                                           "containers": [{"name": "agent", "image": "busybox"}]}}},
        }
        self.kubectl("apply", "-f", "-", input=json.dumps(ds))
        self.rollout(ns, "daemonset/agent")
        nodes = sorted(p["spec"].get("nodeName") for p in self.pods(ns, "app=agent"))
        self.assertEqual(nodes, sorted(self.cluster.node_names))

    def test_service_endpointslices(self) -> None:
        ns = self.namespace()
        self.kubectl("create", "deployment", "api", "--image=nginx", "--replicas=2", "--port=80", "-n", ns)
        self.kubectl("expose", "deployment/api", "--port=80", "-n", ns)
        self.rollout(ns, "deployment/api")

        def ready_endpoints() -> int:
            slices = self.get("endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=api")
            return sum(1 for s in slices.get("items", []) for e in s.get("endpoints") or []
                       if e.get("conditions", {}).get("ready"))
        self.cluster.wait_for("2 ready endpoints in Service api's EndpointSlices",
                              lambda: ready_endpoints() == 2, 60)
        slices = self.get("endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=api")["items"]
        self.assertEqual({s["metadata"]["labels"].get("endpointslice.kubernetes.io/managed-by")
                          for s in slices}, {"endpointslice-controller.k8s.io"})

    def _deployment_for_gc(self, ns: str, name: str) -> None:
        self.kubectl("create", "deployment", name, "--image=nginx", "--replicas=2", "-n", ns)
        self.rollout(ns, f"deployment/{name}")
        self.assertTrue(self.get("replicasets", "-n", ns, "-l", f"app={name}")["items"])

    def test_gc_background(self) -> None:
        ns = self.namespace()
        self._deployment_for_gc(ns, "bg")
        self.kubectl("delete", "deployment", "bg", "-n", ns, "--cascade=background")
        self.wait_gone(ns, "replicasets", "app=bg")
        self.wait_gone(ns, "pods", "app=bg")

    def test_gc_foreground(self) -> None:
        ns = self.namespace()
        self._deployment_for_gc(ns, "fg")
        # kubectl waits for the Deployment itself to go, which the GC allows only after its
        # dependents are gone.
        self.kubectl("delete", "deployment", "fg", "-n", ns, "--cascade=foreground", "--timeout=90s",
                     timeout=105)
        self.assertFalse(self.get("replicasets", "-n", ns, "-l", "app=fg")["items"])
        self.wait_gone(ns, "pods", "app=fg", 60)

    def test_namespace_deletion(self) -> None:
        """KCM's namespace controller empties and finalizes it (kubeapi's own one is off)."""
        ns = self.namespace()
        self.kubectl("create", "configmap", "c", "--from-literal=a=b", "-n", ns)
        self.kubectl("create", "deployment", "d", "--image=nginx", "--replicas=1", "-n", ns)
        self.rollout(ns, "deployment/d")
        self.kubectl("delete", "namespace", ns, "--timeout=120s", timeout=135)
        p = self.kubectl("get", "namespace", ns, check=False)
        self.assertIn("NotFound", p.stderr)

    def test_z_node_lifecycle(self) -> None:
        """A node whose kwok stops goes NotReady, is tainted, and its pods are evicted."""
        ns = self.namespace()
        node = f"kwok-doomed-{uuid.uuid4().hex[:4]}"
        kwok = self.cluster.kwok(f"kwok-{node}", node)
        self.cluster.components[kwok.name] = kwok
        kwok.start()
        self.cluster.create_node(node, node, pool="doomed")
        try:
            self.cluster.wait_for(f"node {node} Ready", lambda: self.cluster.nodes_ready([node]), 60)
            pod = {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "victim", "namespace": ns},
                "spec": {"nodeSelector": {NODE_LABEL[0]: "doomed"},
                         "tolerations": [{"key": f"node.kubernetes.io/{t}", "operator": "Exists",
                                          "effect": "NoExecute", "tolerationSeconds": 5}
                                         for t in ("not-ready", "unreachable")],
                         "containers": [{"name": "c", "image": "nginx"}]},
            }
            self.kubectl("apply", "-f", "-", input=json.dumps(pod))
            self.kubectl("wait", "--for=condition=Ready", "pod/victim", "-n", ns, "--timeout=60s", timeout=75)
            kwok.stop()
            stopped = time.monotonic()

            def not_ready() -> bool:
                n = self.get("node", node)
                return any(c["type"] == "Ready" and c["status"] != "True" for c in n["status"]["conditions"])
            self.cluster.wait_for(f"node {node} NotReady", not_ready, 90, 2)
            taints = {t["key"] for t in self.get("node", node)["spec"].get("taints", [])}
            self.assertTrue(taints & {"node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"}, taints)
            self.cluster.wait_for("pod victim evicted", lambda: bool(self.get(
                "pod", "victim", "-n", ns, check=False).get("metadata", {}).get("deletionTimestamp", "gone")), 60, 2)
            self.assertLess(time.monotonic() - stopped, 150)
        finally:
            kwok.stop()
            self.kubectl("delete", "node", node, "--wait=false", check=False)

    def test_zz_component_logs_clean(self) -> None:
        """No error-level line in the components' logs that points at the API server."""
        errors = self.cluster.errors_pointing_at_server()
        self.assertEqual(errors, [], "\n".join(errors[:40]))


class EmbeddedStoreCluster(ClusterTests, unittest.TestCase):
    @classmethod
    def make_cluster(cls) -> Cluster:
        return Cluster()


class EtcdCluster(ClusterTests, unittest.TestCase):
    @classmethod
    def make_cluster(cls) -> Cluster:
        from tests.support.etcd import EtcdCluster as Etcd

        etcd = Etcd(1).start_blocking()
        cluster = Cluster(etcd_servers=etcd.endpoints)
        cluster.cleanups.append(etcd.stop)
        return cluster
