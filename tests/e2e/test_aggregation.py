"""The aggregation layer end to end: a metrics-server-shaped extension (tests/support/
extension_server.py) in a TestHost namespace behind an APIService, driven with real kubectl,
curl and the official Python client.

There is no kube-proxy here, so a ClusterIP leads nowhere: the server runs with
--enable-aggregator-routing=true and the test writes the EndpointSlice that points the
Service at the TestHost address.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Any

from cryptography.hazmat.primitives import serialization
from twisted.trial import unittest

from kubeapi.auth.authn import pki
from tests.auth import e2e_support as sup
from tests.e2e.harness import REPO, ServerProcess, shared_server, unique_namespace
from tests.support import testhosts
from tests.support.tls import generate_self_signed

GV = "metrics.k8s.io/v1beta1"
APISERVICE = "v1beta1.metrics.k8s.io"
ALICE, BOB = "alice-token-0001", "bob-token-0002"  # alice: no RBAC for metrics; bob: may read them
NODES = {"agg-node-a": {"cpu": "250m", "memory": "512Mi"}, "agg-node-b": {"cpu": "1", "memory": "1Gi"}}


def _yaml_docs(*docs: dict[str, Any]) -> str:
    return "\n---\n".join(json.dumps(d) for d in docs)


class World:
    """The server, the extension in its namespace, and the objects that tie them (once per module)."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="kubeapi-aggr-")
        self.host = testhosts.TestHost.create()
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        d = self.dir
        front_ca = pki.make_ca("front-proxy-ca")
        self.front_ca_file = os.path.join(d, "front-proxy-ca.crt")
        with open(self.front_ca_file, "wb") as f:
            f.write(front_ca[0].public_bytes(serialization.Encoding.PEM))
        self.proxy_cert, self.proxy_key = sup.client_cert(d, "front-proxy-client", front_ca, "front-proxy-client")
        self.serving_pem, key_pem = generate_self_signed(["metrics-server.kube-system.svc", self.host.address])
        self.serving_cert, self.serving_key = os.path.join(d, "ext.crt"), os.path.join(d, "ext.key")
        with open(self.serving_cert, "wb") as f:
            f.write(self.serving_pem)
        with open(self.serving_key, "wb") as f:
            f.write(key_pem)
        self.metrics = os.path.join(d, "metrics.json")
        self.ns = ""
        self.ext_log = os.path.join(d, "extension.log")
        tokens = os.path.join(d, "tokens.csv")
        with open(tokens, "w") as f:
            f.write(f'{ALICE},alice,uid-alice,"team-a"\n{BOB},bob,uid-bob,"readers,team-b"\n')
        self.server = ServerProcess(
            "--authorization-mode=Node,RBAC", f"--token-auth-file={tokens}",
            f"--requestheader-client-ca-file={self.front_ca_file}",
            "--requestheader-allowed-names=front-proxy-client", "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group", "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={self.proxy_cert}", f"--proxy-client-key-file={self.proxy_key}",
            "--enable-aggregator-routing=true")
        self.server.start()
        self.ca_file = os.path.join(self.server.cert_dir, "ca.crt")
        self.ns = unique_namespace(self.server, "aggr")
        with open(self.metrics, "w") as f:
            json.dump({"nodes": NODES, "pods": {self.ns: {"web": {"nginx": {"cpu": "5m", "memory": "20Mi"}}}}}, f)
        self.start_extension()
        self.server.kubectl("apply", "-f", "-", input=_yaml_docs(*self._objects()))
        for name in NODES:  # kubectl top nodes reads allocatable for its percentages
            self.server.kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps(
                {"status": {"capacity": {"cpu": "2", "memory": "4Gi"}, "allocatable": {"cpu": "2", "memory": "4Gi"}}}))
        self.wait_available("True")

    def _objects(self) -> list[dict[str, Any]]:
        ca = base64.b64encode(self.serving_pem).decode()
        objs: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "metrics-server", "namespace": "kube-system"},
             "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 443}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": "metrics-server-1", "namespace": "kube-system",
                          "labels": {"kubernetes.io/service-name": "metrics-server"}},
             "addressType": "IPv4", "endpoints": [{"addresses": [self.host.address], "conditions": {"ready": True}}],
             "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]},
            {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": APISERVICE},
             "spec": {"service": {"name": "metrics-server", "namespace": "kube-system", "port": 443},
                      "group": "metrics.k8s.io", "version": "v1beta1", "caBundle": ca,
                      "groupPriorityMinimum": 100, "versionPriority": 100}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "metrics-reader"},
             "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["nodes", "pods"], "verbs": ["get", "list",
                                                                                               "watch"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "metrics-reader-bob"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "metrics-reader"},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]},
        ]
        for name in NODES:
            objs.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        objs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": self.ns},
                     "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}})
        return objs

    def start_extension(self) -> None:
        self.ext = self.host.spawn_python(
            "tests.support.extension_server", f"--address={self.host.address}", "--port=443",
            f"--cert={self.serving_cert}", f"--key={self.serving_key}", f"--client-ca={self.front_ca_file}",
            f"--metrics={self.metrics}", f"--log={self.ext_log}",
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "extension.err"), "ab"),
            cwd=str(REPO))  # `-m tests...` must not find another directory's tests package
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.ext.poll() is not None:
                raise RuntimeError(f"extension server exited: {open(os.path.join(self.dir, 'extension.err')).read()}")
            try:
                socket.create_connection((self.host.address, 443), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("extension server did not listen in 20s")

    def stop_extension(self) -> None:
        self.ext.kill()
        self.ext.wait(10)

    def apiservice(self) -> dict[str, Any]:
        return self.server.kubectl_json("get", "apiservice", APISERVICE)  # type: ignore[no-any-return]

    def available(self) -> dict[str, Any]:
        for c in (self.apiservice().get("status") or {}).get("conditions") or []:
            if c["type"] == "Available":
                return c  # type: ignore[no-any-return]
        return {}

    def wait_available(self, status: str, timeout: float = 45.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        cond: dict[str, Any] = {}
        while time.monotonic() < deadline:
            cond = self.available()
            if cond.get("status") == status:
                return cond
            time.sleep(0.3)
        raise AssertionError(f"APIService never became Available={status}: {cond}\n{self.server.log()}")

    def poke(self) -> None:
        """An APIService change makes the availability controller check at once (as upstream's informer)."""
        self.server.kubectl("annotate", "--overwrite", "apiservice", APISERVICE, f"poke={time.monotonic_ns()}")

    def ext_requests(self) -> list[dict[str, Any]]:
        try:
            with open(self.ext_log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def curl(self, path: str, **kw: Any) -> tuple[int, Any, int]:
        kw.setdefault("cacert", self.ca_file)
        return sup.curl(self.server.secure_url + path, **kw)

    def close(self) -> None:
        if getattr(self, "server", None) is not None:
            self.server.cleanup()
        self.host.close()
        shutil.rmtree(self.dir, ignore_errors=True)


_world: World | None = None


def world() -> World:
    global _world
    if _world is None:
        _world = World()
        atexit.register(_world.close)
    return _world


SKIP = testhosts.skip_reason()


class AggregatedMetricsTests(unittest.TestCase):
    """metrics.k8s.io served by the extension, seen through kubeapi."""

    skip = SKIP
    timeout = 240

    def setUp(self) -> None:
        self.w = world()

    def test_apiservice_available(self) -> None:
        out = self.w.server.kubectl("get", "apiservice", APISERVICE).stdout
        self.assertIn("kube-system/metrics-server", out)
        self.assertEqual(out.splitlines()[1].split()[2], "True")
        cond = self.w.available()
        self.assertEqual((cond["reason"], cond["message"]), ("Passed", "all checks passed"))
        metrics = self.w.server.kubectl("get", "--raw", "/metrics").stdout
        self.assertIn(f'aggregator_unavailable_apiservice{{name="{APISERVICE}"}} 0.0', metrics)
        self.assertIn('aggregator_unavailable_apiservice{name="v1.apps"} 0.0', metrics)

    def test_get_raw_nodes(self) -> None:
        doc = json.loads(self.w.server.kubectl("get", "--raw", f"/apis/{GV}/nodes").stdout)
        self.assertEqual(doc["kind"], "NodeMetricsList")
        self.assertEqual(sorted(i["metadata"]["name"] for i in doc["items"]), sorted(NODES))
        one = json.loads(self.w.server.kubectl("get", "--raw", f"/apis/{GV}/nodes/agg-node-a").stdout)
        self.assertEqual(one["usage"], NODES["agg-node-a"])

    def test_extension_error_passes_through(self) -> None:
        p = self.w.server.kubectl("get", "--raw", f"/apis/{GV}/nodes/nosuch", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('nodemetrics "nosuch" not found', p.stderr)

    def test_top_nodes(self) -> None:
        out = self.w.server.kubectl("top", "nodes").stdout
        rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
        self.assertEqual(rows["agg-node-a"][1], "250m")
        self.assertEqual(rows["agg-node-b"][1], "1000m")
        self.assertEqual(rows["agg-node-b"][3], "1024Mi")

    def test_top_pods(self) -> None:
        out = self.w.server.kubectl("top", "pods", "-n", self.w.ns).stdout
        self.assertEqual(out.splitlines()[1].split(), ["web", "5m", "20Mi"])

    def test_api_resources_lists_metrics(self) -> None:
        out = self.w.server.kubectl("api-resources", "--api-group=metrics.k8s.io").stdout
        names = sorted(line.split()[0] for line in out.splitlines()[1:])
        self.assertEqual(names, ["nodes", "pods"])
        self.assertIn("metrics.k8s.io/v1beta1", self.w.server.kubectl("api-versions").stdout.split())

    def test_legacy_discovery(self) -> None:
        code, _, body = self.w.server.raw("GET", "/apis")
        groups = {g["name"]: g for g in json.loads(body)["groups"]}
        self.assertEqual(groups["metrics.k8s.io"]["preferredVersion"], {"groupVersion": GV, "version": "v1beta1"})
        self.assertEqual(list(groups)[-1], "metrics.k8s.io")  # groupPriorityMinimum 100 sorts last
        code, _, body = self.w.server.raw("GET", "/apis/metrics.k8s.io")
        self.assertEqual((code, json.loads(body)["kind"]), (200, "APIGroup"))
        paths = json.loads(self.w.server.raw("GET", "/")[2])["paths"]
        self.assertIn("/apis/metrics.k8s.io", paths)
        self.assertIn("/apis/metrics.k8s.io/v1beta1", paths)

    def test_aggregated_discovery(self) -> None:
        accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        _, headers, body = self.w.server.raw("GET", "/apis", headers={"Accept": accept})
        items = {i["metadata"]["name"]: i for i in json.loads(body)["items"]}
        version = items["metrics.k8s.io"]["versions"][0]
        self.assertEqual((version["version"], version["freshness"]), ("v1beta1", "Current"))
        self.assertEqual(sorted(r["resource"] for r in version["resources"]), ["nodes", "pods"])

    def test_openapi_and_explain(self) -> None:
        _, _, body = self.w.server.raw("GET", "/openapi/v2")
        self.assertIn("io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics", json.loads(body)["definitions"])
        _, _, body = self.w.server.raw("GET", "/openapi/v3")
        url = json.loads(body)["paths"]["apis/metrics.k8s.io/v1beta1"]["serverRelativeURL"]
        code, _, doc = self.w.server.raw("GET", url)
        self.assertEqual(code, 200)
        self.assertIn("io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics", json.loads(doc)["components"]["schemas"])
        out = self.w.server.kubectl("explain", "nodes", "--api-version=metrics.k8s.io/v1beta1").stdout
        self.assertIn("NodeMetrics sets resource usage metrics of a node.", out)

    def test_identity_headers_and_no_token(self) -> None:
        code, body, _ = self.w.curl(f"/apis/{GV}/nodes/agg-node-b", token=BOB)
        self.assertEqual(code, 200, body)
        seen = [r for r in self.w.ext_requests() if r["uri"] == f"/apis/{GV}/nodes/agg-node-b"][-1]
        h = seen["headers"]
        self.assertEqual(h["x-remote-user"], ["bob"])
        self.assertEqual(h["x-remote-uid"], ["uid-bob"])
        self.assertEqual(sorted(h["x-remote-group"]), ["readers", "system:authenticated", "team-b"])
        self.assertNotIn("authorization", h)
        self.assertEqual(seen["client_cn"], "front-proxy-client")
        self.assertIn("audit-id", h)

    def test_impersonated_user_is_forwarded(self) -> None:
        out = self.w.server.kubectl("get", "--raw", f"/apis/{GV}/nodes/agg-node-a", "--as=bob",
                                    "--as-group=impersonated-group", context="tls").stdout
        self.assertEqual(json.loads(out)["metadata"]["name"], "agg-node-a")
        seen = [r for r in self.w.ext_requests() if r["uri"] == f"/apis/{GV}/nodes/agg-node-a"][-1]
        self.assertEqual(seen["headers"]["x-remote-user"], ["bob"])
        self.assertIn("impersonated-group", seen["headers"]["x-remote-group"])
        self.assertNotIn("impersonate-user", seen["headers"])

    def test_forbidden_never_reaches_extension(self) -> None:
        path = f"/apis/{GV}/namespaces/{self.w.ns}/pods/web?alice=1"
        code, body, _ = self.w.curl(path, token=ALICE)
        self.assertEqual(code, 403)
        self.assertEqual(body["reason"], "Forbidden")
        self.assertEqual(body["message"], f'pods.metrics.k8s.io "web" is forbidden: User "alice" cannot get '
                                          f'resource "pods" in API group "metrics.k8s.io" in the namespace '
                                          f'"{self.w.ns}"')
        self.assertFalse([r for r in self.w.ext_requests() if "alice=1" in r["uri"]])

    def test_watch_is_streamed(self) -> None:
        req = urllib.request.Request(self.w.server.url + f"/apis/{GV}/nodes?watch=true")
        with urllib.request.urlopen(req, timeout=20) as r:
            started = time.monotonic()
            first = json.loads(r.readline())
            first_at = time.monotonic() - started
            second = json.loads(r.readline())
            second_at = time.monotonic() - started
        self.assertEqual((first["type"], second["type"]), ("ADDED", "MODIFIED"))
        self.assertLess(first_at, second_at - 0.5)  # the first event came before the extension's second

    def test_untrusted_serving_certificate(self) -> None:
        """The caBundle is what the proxy trusts (the availability probe, as upstream's, does not verify)."""
        other, _ = generate_self_signed(["metrics-server.kube-system.svc"])
        good = base64.b64encode(self.w.serving_pem).decode()
        patch = {"spec": {"caBundle": base64.b64encode(other).decode()}}
        self.w.server.kubectl("patch", "apiservice", APISERVICE, "--type=merge", "-p", json.dumps(patch))
        try:
            deadline = time.monotonic() + 10
            while True:
                code, _, body = self.w.server.raw("GET", f"/apis/{GV}/nodes")
                if code != 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assertEqual((code, body), (503, b"tls: failed to verify certificate: x509: certificate signed by "
                                                 b"unknown authority\n"))
        finally:
            self.w.server.kubectl("patch", "apiservice", APISERVICE, "--type=merge", "-p",
                                  json.dumps({"spec": {"caBundle": good}}))
        _wait_for(lambda: self.w.server.raw("GET", f"/apis/{GV}/nodes")[0] == 200)

    def test_request_body_is_forwarded(self) -> None:
        body = {"apiVersion": GV, "kind": "PodMetrics", "metadata": {"name": "x" * 2000}}
        code, _, got = self.w.server.raw("POST", f"/apis/{GV}/namespaces/{self.w.ns}/pods", body)
        echo = json.loads(got)
        self.assertEqual((code, echo["kind"]), (201, "Echo"))
        self.assertEqual(json.loads(echo["body"]), body)

    def test_redirect_is_not_followed(self) -> None:
        code, headers, body = self.w.server.raw("GET", f"/apis/{GV}/namespaces/{self.w.ns}/pods/redirect-me")
        self.assertEqual((code, body), (502, b"the backend attempted to redirect this request, which is not "
                                              b"permitted"))

    def test_python_client_lists_apiservices(self) -> None:
        from kubernetes import client

        api = client.ApiregistrationV1Api(self.w.server.client())
        items = {s.metadata.name: s for s in api.list_api_service().items}
        svc = items[APISERVICE]
        self.assertEqual(svc.spec.service.name, "metrics-server")
        self.assertEqual([(c.type, c.status) for c in svc.status.conditions], [("Available", "True")])
        self.assertEqual(items["v1.apps"].status.conditions[0].reason, "Local")

    def test_endpoint_slice_change_is_checked_at_once(self) -> None:
        def ready(value: bool) -> None:
            patch = {"endpoints": [{"addresses": [self.w.host.address], "conditions": {"ready": value}}]}
            self.w.server.kubectl("patch", "endpointslice", "-n", "kube-system", "metrics-server-1", "--type=merge",
                                  "-p", json.dumps(patch))

        ready(False)
        try:
            cond = self.w.wait_available("False", timeout=15)  # well before the 30 s resync
            self.assertEqual((cond["reason"], cond["message"]), (
                "MissingEndpoints", 'endpointslices for service/metrics-server in "kube-system" have no addresses '
                                    'with port name "https"'))
        finally:
            ready(True)
        self.w.wait_available("True", timeout=15)

    def test_missing_service_is_unavailable_alone(self) -> None:
        name = "v1.broken.example.com"
        svc = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": name},
               "spec": {"service": {"name": "nosuch", "namespace": "kube-system"}, "group": "broken.example.com",
                        "version": "v1", "insecureSkipTLSVerify": True, "groupPriorityMinimum": 50,
                        "versionPriority": 10}}
        self.w.server.kubectl("apply", "-f", "-", input=json.dumps(svc))
        try:
            cond = _wait_for(lambda: next((c for c in (_get_json(self.w.server, "apiservice", name) or {})
                                           .get("status", {}).get("conditions", []) if c["type"] == "Available"),
                                          None))
            self.assertEqual((cond["status"], cond["reason"], cond["message"]),
                             ("False", "ServiceNotFound", 'service/nosuch in "kube-system" is not present'))
            code, headers, body = self.w.server.raw("GET", "/apis/broken.example.com/v1/things")
            self.assertEqual((code, body), (503, b"service unavailable\n"))
            self.assertEqual(headers["Content-Type"], "text/plain; charset=utf-8")
            out = self.w.server.kubectl("get", "--raw", f"/apis/{GV}/nodes/agg-node-a").stdout  # unaffected
            self.assertEqual(json.loads(out)["metadata"]["name"], "agg-node-a")
        finally:
            self.w.server.kubectl("delete", "apiservice", name)

    def test_z_unavailable_extension(self) -> None:
        """Last (trial runs tests by name): the extension goes away, then comes back."""
        w = self.w
        w.stop_extension()
        try:
            w.poke()
            cond = w.wait_available("False")
            self.assertEqual(cond["reason"], "FailedDiscoveryCheck")
            url = f"https://{w.host.address}:443/apis/metrics.k8s.io/v1beta1"
            self.assertEqual(cond["message"], f'failing or missing response from {url}: Get "{url}": dial tcp '
                                              f'{w.host.address}:443: connect: connection refused')
            out = w.server.kubectl("get", "apiservice", APISERVICE).stdout
            self.assertIn("False (FailedDiscoveryCheck)", out)
            metrics = w.server.kubectl("get", "--raw", "/metrics").stdout
            self.assertIn(f'aggregator_unavailable_apiservice{{name="{APISERVICE}"}} 1.0', metrics)
            code, headers, body = w.server.raw("GET", f"/apis/{GV}/nodes")
            self.assertEqual((code, body), (503, b"service unavailable\n"))
            p = w.server.kubectl("top", "nodes", check=False)
            self.assertNotEqual(p.returncode, 0)
            # Aggregated discovery marks the group Stale, so kubectl finds no metrics API (as upstream).
            self.assertIn("Metrics API not available", p.stderr)
            out = w.server.kubectl("get", "pods", "-n", w.ns).stdout  # other groups are unaffected
            self.assertIn("web", out)
        finally:
            w.start_extension()
            w.poke()
            w.wait_available("True")


class CRDAPIServiceTests(unittest.TestCase):
    """CRD groups get automanaged local APIServices, removed with their last CRD."""

    timeout = 120

    def test_crd_group_gets_apiservice(self) -> None:
        server = shared_server()
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "widgets.aggr.example.com"},
               "spec": {"group": "aggr.example.com", "scope": "Namespaced",
                        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {"type": "object"}}},
                                     {"name": "v1beta1", "served": False, "storage": False,
                                      "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
        server.kubectl("apply", "-f", "-", input=json.dumps(crd))
        try:
            svc = _wait_for(lambda: _get_json(server, "apiservice", "v1.aggr.example.com"))
            self.assertEqual(svc["metadata"]["labels"], {"kube-aggregator.kubernetes.io/automanaged": "true"})
            self.assertEqual((svc["spec"]["groupPriorityMinimum"], svc["spec"]["versionPriority"]), (1000, 100))
            self.assertNotIn("service", svc["spec"])
            cond = _wait_for(lambda: ((_get_json(server, "apiservice", "v1.aggr.example.com") or {})
                                      .get("status") or {}).get("conditions"))
            self.assertEqual((cond[0]["status"], cond[0]["reason"]), ("True", "Local"))
            self.assertIsNone(_get_json(server, "apiservice", "v1beta1.aggr.example.com"))
        finally:
            server.kubectl("delete", "crd", "widgets.aggr.example.com", "--wait=false")
        _wait_for(lambda: _get_json(server, "apiservice", "v1.aggr.example.com") is None or None)


def _get_json(server: ServerProcess, *args: str) -> Any:
    p = server.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def _wait_for(fn: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")
