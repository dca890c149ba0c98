"""Real kubectl against the real server: the everyday work the foundation issue lists."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time

import yaml
from twisted.trial import unittest

from tests.e2e.harness import kubectl_binary, shared_server, unique_namespace


class DiscoveryTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()

    def raw(self, path: str, context: str = "plain") -> dict:
        return json.loads(self.server.kubectl("get", "--raw", path, context=context).stdout)

    def test_root_lists_paths(self) -> None:
        paths = self.raw("/")["paths"]
        for p in ("/api", "/api/v1", "/apis", "/apis/apps/v1", "/healthz", "/version", "/readyz"):
            self.assertIn(p, paths)

    def test_api_versions(self) -> None:
        doc = self.raw("/api")
        self.assertEqual(doc["kind"], "APIVersions")
        self.assertEqual(doc["versions"], ["v1"])
        self.assertEqual(doc["serverAddressByClientCIDRs"][0]["clientCIDR"], "0.0.0.0/0")
        self.assertTrue(doc["serverAddressByClientCIDRs"][0]["serverAddress"].endswith(
            f":{self.server.secure_port}"))

    def test_api_groups(self) -> None:
        doc = self.raw("/apis")
        self.assertEqual(doc["kind"], "APIGroupList")
        groups = {g["name"]: g for g in doc["groups"]}
        for name in ("apps", "batch", "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io"):
            self.assertIn(name, groups)
        self.assertEqual(groups["apps"]["preferredVersion"], {"groupVersion": "apps/v1", "version": "v1"})

    def test_core_resource_list(self) -> None:
        doc = self.raw("/api/v1")
        self.assertEqual(doc["kind"], "APIResourceList")
        res = {r["name"]: r for r in doc["resources"]}
        pods = res["pods"]
        self.assertEqual(pods["kind"], "Pod")
        self.assertEqual(pods["singularName"], "pod")
        self.assertTrue(pods["namespaced"])
        self.assertIn("po", pods["shortNames"])
        self.assertIn("all", pods["categories"])
        self.assertEqual(sorted(pods["verbs"]), sorted(
            ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]))
        self.assertIn("pods/status", res)
        self.assertFalse(res["nodes"]["namespaced"])
        self.assertEqual(res["namespaces"]["shortNames"], ["ns"])

    def test_apps_resource_list(self) -> None:
        res = {r["name"]: r for r in self.raw("/apis/apps/v1")["resources"]}
        self.assertEqual(res["deployments"]["shortNames"], ["deploy"])
        self.assertEqual(res["deployments/scale"]["kind"], "Scale")
        self.assertEqual(res["deployments/scale"]["group"], "autoscaling")

    def test_version(self) -> None:
        doc = self.raw("/version")
        self.assertEqual((doc["major"], doc["minor"]), ("1", "34"))
        self.assertTrue(doc["gitVersion"].startswith("v1.34"))

    def test_tls_listener_with_self_signed_certificate(self) -> None:
        doc = self.raw("/api", context="tls")
        self.assertEqual(doc["kind"], "APIVersions")
        out = self.server.kubectl("get", "namespaces", context="tls").stdout
        self.assertIn("kube-system", out)

    def test_api_resources_and_versions(self) -> None:
        out = self.server.kubectl("api-resources").stdout
        lines = {line.split()[0]: line for line in out.splitlines()[1:]}
        self.assertIn("deployments", lines)
        self.assertIn("deploy", lines["deployments"])
        self.assertIn("apps/v1", lines["deployments"])
        self.assertIn("configmaps", lines)
        versions = self.server.kubectl("api-versions").stdout.split()
        for gv in ("v1", "apps/v1", "batch/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1",
                   "events.k8s.io/v1"):
            self.assertIn(gv, versions)

    def test_aggregated_discovery(self) -> None:
        accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        status, headers, body = self.server.raw("GET", "/apis", headers={"Accept": accept})
        self.assertEqual(status, 200)
        self.assertIn("apidiscovery.k8s.io", headers.get("Content-Type", ""))
        doc = json.loads(body)
        self.assertEqual(doc["kind"], "APIGroupDiscoveryList")
        apps = [g for g in doc["items"] if g["metadata"]["name"] == "apps"][0]
        deploy = [r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments"][0]
        self.assertEqual(deploy["responseKind"]["kind"], "Deployment")
        self.assertEqual(deploy["scope"], "Namespaced")
        self.assertIn("scale", [s["subresource"] for s in deploy["subresources"]])

    def test_bootstrap_objects(self) -> None:
        nss = self.server.kubectl("get", "ns", "-o", "name").stdout.split()
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.assertIn(f"namespace/{ns}", nss)
        svc = self.server.kubectl_json("get", "svc", "kubernetes", "-n", "default")
        self.assertEqual(svc["spec"]["clusterIP"], "10.0.0.1")
        self.assertEqual(svc["spec"]["ports"][0]["port"], 443)
        ep = self.server.kubectl_json("get", "endpoints", "kubernetes", "-n", "default")
        self.assertEqual(ep["subsets"][0]["addresses"][0]["ip"], "127.0.0.1")
        self.assertEqual(ep["subsets"][0]["ports"][0]["port"], self.server.secure_port)


class EverydayWorkTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()
        self.ns = unique_namespace(self.server)

    def k(self, *args: str, **kw):  # type: ignore[no-untyped-def]
        return self.server.kubectl("-n", self.ns, *args, **kw)

    def test_configmap_secret_lifecycle(self) -> None:
        self.k("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two")
        cm = json.loads(self.k("get", "configmap", "cfg", "-o", "json").stdout)
        self.assertEqual(cm["data"], {"a": "1", "b": "two"})
        self.assertTrue(cm["metadata"]["uid"])
        self.assertTrue(cm["metadata"]["resourceVersion"].isdigit())
        self.k("create", "secret", "generic", "s1", "--from-literal=password=hunter2")
        sec = yaml.safe_load(self.k("get", "secret", "s1", "-o", "yaml").stdout)
        self.assertEqual(sec["type"], "Opaque")
        self.assertEqual(sec["data"]["password"], "aHVudGVyMg==")
        out = self.k("get", "configmaps").stdout
        self.assertRegex(out, r"NAME\s+DATA\s+AGE")
        self.assertRegex(out, r"cfg\s+2\s+\d+s")
        dup = self.k("create", "configmap", "cfg", "--from-literal=a=1", check=False)
        self.assertNotEqual(dup.returncode, 0)
        self.assertIn('configmaps "cfg" already exists', dup.stderr)
        self.k("delete", "configmap", "cfg")
        gone = self.k("get", "configmap", "cfg", check=False)
        self.assertIn('configmaps "cfg" not found', gone.stderr)

    def test_run_pod_and_wide_output(self) -> None:
        self.k("run", "nginx", "--image=nginx", "--labels=app=web")
        pod = json.loads(self.k("get", "pod", "nginx", "-o", "json").stdout)
        self.assertEqual(pod["spec"]["containers"][0]["image"], "nginx")
        self.assertEqual(pod["spec"]["containers"][0]["imagePullPolicy"], "Always")
        self.assertEqual(pod["spec"]["restartPolicy"], "Always")
        self.assertEqual(pod["status"]["phase"], "Pending")
        out = self.k("get", "pods", "-o", "wide").stdout
        header = out.splitlines()[0].split()
        self.assertEqual(header[:5], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"])
        self.assertIn("NODE", header)
        self.assertRegex(out, r"nginx\s+0/1\s+Pending\s+0")
        self.assertIn("nginx", self.k("get", "pods", "-l", "app=web", "-o", "name").stdout)
        self.assertEqual(self.k("get", "pods", "-l", "app=db", "-o", "name").stdout.strip(), "")
        self.assertIn("nginx", self.k("get", "pods", "--field-selector=status.phase=Pending",
                                      "-o", "name").stdout)
        described = self.k("describe", "pod", "nginx").stdout
        self.assertIn("Name:", described)
        self.assertIn("nginx", described)

    def test_deployment_expose_scale_rollout(self) -> None:
        self.k("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
        dep = json.loads(self.k("get", "deploy", "web", "-o", "json").stdout)
        self.assertEqual(dep["spec"]["replicas"], 2)
        self.assertEqual(dep["spec"]["strategy"]["type"], "RollingUpdate")
        self.assertEqual(dep["metadata"]["generation"], 1)
        self.k("expose", "deployment", "web", "--port=80", "--target-port=8080")
        svc = json.loads(self.k("get", "svc", "web", "-o", "json").stdout)
        self.assertRegex(svc["spec"]["clusterIP"], r"^10\.0\.0\.\d+$")
        self.assertNotEqual(svc["spec"]["clusterIP"], "10.0.0.1")
        self.assertEqual(svc["spec"]["selector"], {"app": "web"})
        self.assertRegex(self.k("get", "svc", "web").stdout, r"web\s+ClusterIP\s+10\.0\.0\.\d+\s+<none>\s+80/TCP")
        self.k("scale", "deployment", "web", "--replicas=3")
        dep = json.loads(self.k("get", "deploy", "web", "-o", "json").stdout)
        self.assertEqual(dep["spec"]["replicas"], 3)
        self.assertEqual(dep["metadata"]["generation"], 2)
        # A controller would write this status; the test plays that part.
        status = {"status": {
            "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
            "availableReplicas": 3,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ]}}
        self.k("patch", "deployment", "web", "--subresource=status", "--type=merge", "-p", json.dumps(status))
        out = self.k("rollout", "status", "deployment/web", "--timeout=20s").stdout
        self.assertIn('deployment "web" successfully rolled out', out)
        self.assertRegex(self.k("get", "deploy", "web").stdout, r"web\s+3/3\s+3\s+3")
        everything = self.server.kubectl("get", "all", "-A").stdout
        self.assertIn("deployment.apps/web", everything)
        self.assertIn("service/web", everything)

    def test_label_annotate_edit_replace(self) -> None:
        self.k("create", "configmap", "cfg", "--from-literal=key=value1")
        self.k("label", "configmap", "cfg", "tier=backend")
        self.k("annotate", "configmap", "cfg", "owner=team-a")
        cm = json.loads(self.k("get", "cm", "cfg", "-o", "json").stdout)
        self.assertEqual(cm["metadata"]["labels"], {"tier": "backend"})
        self.assertEqual(cm["metadata"]["annotations"]["owner"], "team-a")
        self.k("label", "configmap", "cfg", "tier-")
        cm = json.loads(self.k("get", "cm", "cfg", "-o", "json").stdout)
        self.assertNotIn("tier", cm["metadata"].get("labels") or {})
        editor = os.path.join(self.server.tmp, f"editor-{self.ns}.sh")
        with open(editor, "w") as f:
            f.write("#!/bin/sh\nsed -i 's/value1/value2/' \"$1\"\n")
        os.chmod(editor, stat.S_IRWXU)
        self.k("edit", "configmap", "cfg", env={"EDITOR": editor, "KUBE_EDITOR": editor})
        cm = json.loads(self.k("get", "cm", "cfg", "-o", "json").stdout)
        self.assertEqual(cm["data"]["key"], "value2")
        cm["data"]["key"] = "value3"
        self.k("replace", "-f", "-", input=json.dumps(cm))
        self.assertEqual(json.loads(self.k("get", "cm", "cfg", "-o", "json").stdout)["data"]["key"], "value3")
        # Replacing with the old resourceVersion again is a conflict.
        stale = self.k("replace", "-f", "-", input=json.dumps(cm), check=False)
        self.assertNotEqual(stale.returncode, 0)
        self.assertIn("the object has been modified", stale.stderr)

    def test_apply_multi_document_twice(self) -> None:
        manifest = f"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: {self.ns}
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: {self.ns}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: app}}
  template:
    metadata:
      labels: {{app: app}}
    spec:
      containers:
      - name: app
        image: busybox:1.36
        env:
        - name: MODE
          value: fast
---
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: {self.ns}
spec:
  selector: {{app: app}}
  ports:
  - port: 80
"""
        first = self.server.kubectl("apply", "-f", "-", input=manifest).stdout
        self.assertIn("configmap/app-config created", first)
        self.assertIn("deployment.apps/app created", first)
        self.assertIn("service/app created", first)
        second = self.server.kubectl("apply", "-f", "-", input=manifest).stdout
        self.assertIn("configmap/app-config unchanged", second)
        self.assertIn("deployment.apps/app unchanged", second)
        self.assertIn("service/app unchanged", second)
        changed = manifest.replace("value: fast", "value: slow")
        third = self.server.kubectl("apply", "-f", "-", input=changed).stdout
        self.assertIn("deployment.apps/app configured", third)
        dep = json.loads(self.k("get", "deploy", "app", "-o", "json").stdout)
        self.assertEqual(dep["spec"]["template"]["spec"]["containers"][0]["env"],
                         [{"name": "MODE", "value": "slow"}])
        self.assertEqual(dep["metadata"]["generation"], 2)

    def test_watch_sees_events_as_they_happen(self) -> None:
        cmd = [kubectl_binary(), f"--kubeconfig={self.server.kubeconfig}", "-n", self.ns,
               "get", "configmaps", "-w", "--output-watch-events", "--request-timeout=30s"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, HOME=self.server.tmp))
        self.addCleanup(proc.kill)
        time.sleep(1.0)  # let the watch be established before the writes
        self.k("create", "configmap", "w1", "--from-literal=a=1")
        self.k("label", "configmap", "w1", "x=y")
        self.k("delete", "configmap", "w1")
        lines: list[str] = []
        deadline = time.monotonic() + 20
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        while time.monotonic() < deadline and not any(line.startswith("DELETED") for line in lines):
            chunk = proc.stdout.readline()
            if chunk:
                lines.append(chunk)
            else:
                time.sleep(0.05)
        events = [line.split()[0] for line in lines if line.split() and "w1" in line]
        self.assertEqual(events[:1], ["ADDED"])
        self.assertIn("MODIFIED", events)
        self.assertEqual(events[-1], "DELETED")

    def test_delete_all_and_wait_for_delete(self) -> None:
        for i in range(3):
            self.k("create", "configmap", f"c{i}", f"--from-literal=i={i}")
        waiter = subprocess.Popen(
            [kubectl_binary(), f"--kubeconfig={self.server.kubeconfig}", "-n", self.ns, "wait",
             "--for=delete", "configmap/c0", "--timeout=30s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, HOME=self.server.tmp))
        self.addCleanup(waiter.kill)
        time.sleep(0.5)
        self.k("delete", "configmaps", "--all")
        out, err = waiter.communicate(timeout=30)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertEqual(self.k("get", "configmaps", "-o", "name").stdout.strip(), "")

    def test_node_port_services(self) -> None:
        self.k("create", "service", "nodeport", "np", "--tcp=80:8080")
        port = json.loads(self.k("get", "svc", "np", "-o", "json").stdout)["spec"]["ports"][0]["nodePort"]
        self.assertTrue(30000 <= port <= 32767, port)
        self.assertRegex(self.k("get", "svc", "np").stdout, rf"np\s+NodePort\s+10\.0\.0\.\d+\s+<none>\s+80:{port}/TCP")
        taken = self.k("create", "service", "nodeport", "np2", "--tcp=81:8080", f"--node-port={port}", check=False)
        self.assertNotEqual(taken.returncode, 0)
        self.assertIn(f'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: {port}: '
                      "provided port is already allocated", taken.stderr)
        self.k("delete", "svc", "np")
        self.k("create", "service", "nodeport", "np3", "--tcp=82:8080", f"--node-port={port}")

    def test_unknown_fields_follow_field_validation(self) -> None:
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "strict"}, "data": {"a": "b"},
               "bogus": 1}
        p = self.k("create", "-f", "-", input=json.dumps(doc), check=False)  # kubectl asks for Strict
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
                      'unknown field "bogus"', p.stderr)
        path = f"/api/v1/namespaces/{self.ns}/configmaps"
        status, headers, body = self.server.raw("POST", path, doc)  # no directive: Warn
        self.assertEqual(status, 201)
        self.assertEqual(headers.get("Warning"), r'299 - "unknown field \"bogus\""')
        self.assertNotIn("bogus", json.loads(body))
        doc["metadata"]["name"] = "ignored"
        status, headers, body = self.server.raw("POST", path + "?fieldValidation=Ignore", doc)
        self.assertEqual(status, 201)
        self.assertNotIn("Warning", headers)
        self.assertNotIn("bogus", json.loads(self.k("get", "cm", "ignored", "-o", "json").stdout))
        bad_type = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typed"}, "data": ["x"]}
        status, _, body = self.server.raw("POST", path, bad_type)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["reason"], "BadRequest")

    def test_invalid_object_is_422_naming_the_field(self) -> None:
        bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}
        p = self.k("create", "-f", "-", input=json.dumps(bad), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"', p.stderr)

    def test_namespace_delete_removes_contents(self) -> None:
        ns = unique_namespace(self.server, "doomed")
        self.server.kubectl("-n", ns, "create", "configmap", "x", "--from-literal=a=b")
        self.server.kubectl("delete", "namespace", ns, "--timeout=30s")
        p = self.server.kubectl("get", "namespace", ns, check=False)
        self.assertIn(f'namespaces "{ns}" not found', p.stderr)
