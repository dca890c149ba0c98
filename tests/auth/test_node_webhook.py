"""The Node authorizer's graph (kept from watches on pods / PVs over real SQLite) and the
Webhook authorizer against a real Twisted HTTPS server on loopback."""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
import yaml
from twisted.internet import reactor as _reactor
from twisted.internet import ssl
from twisted.trial import unittest
from twisted.web.resource import Resource
from twisted.web.server import Site

from kubeapi.auth.authorizer import Attributes, Decision, EvaluationError, PrivilegedGroups, Union
from kubeapi.auth.node import NodeAuthorizer, NodeGraph
from kubeapi.auth.user import UserInfo
from kubeapi.auth.webhook_authz import WebhookAuthorizer, WebhookClient
from tests.support.storage import open_sqlite
from tests.support.tls import generate_self_signed
from tests.support.waiting import eventually

reactor: Any = _reactor
KUBELET = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))


def a(verb: str, resource: str, name: str = "", ns: str = "", sub: str = "", group: str = "",
      user: UserInfo = KUBELET, field_selector: str = "") -> Attributes:
    return Attributes(user=user, verb=verb, is_resource_request=True, namespace=ns, api_group=group,
                      resource=resource, subresource=sub, name=name, field_selector=field_selector)


def pod(name: str, node: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "x"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}], **spec}}


class NodeAuthorizerTests(unittest.TestCase):
    async def setUp(self) -> None:  # type: ignore[override]
        self.storage = await open_sqlite(self)
        self.graph = NodeGraph(self.storage, "/registry", reactor)
        await self.graph.start()
        self.addCleanup(self.graph.stop)
        self.authz = NodeAuthorizer(self.graph)

    async def put(self, key: str, obj: dict[str, Any]) -> None:
        kv = await self.storage.get(key)
        if kv is None:
            await self.storage.create(key, orjson.dumps(obj))
        else:
            await self.storage.update(key, orjson.dumps(obj), kv.mod_revision)

    def decide(self, attrs: Attributes) -> tuple[Decision, str]:
        return self.authz.decide(attrs)

    async def test_graph(self) -> None:
        await self.put("/registry/pods/x/p1", pod(
            "p1", "n1", serviceAccountName="sa1", imagePullSecrets=[{"name": "pull"}],
            volumes=[{"name": "v", "secret": {"secretName": "s1"}},
                     {"name": "c", "configMap": {"name": "cm1"}},
                     {"name": "d", "persistentVolumeClaim": {"claimName": "pvc1"}},
                     {"name": "e", "projected": {"sources": [{"secret": {"name": "proj"}}]}}],
            containers=[{"name": "c", "image": "i", "env": [
                {"name": "E", "valueFrom": {"secretKeyRef": {"name": "envsec", "key": "k"}}}]}]))
        await self.put("/registry/pods/x/p2", pod("p2", "n2", volumes=[{"name": "v", "secret": {"secretName": "s2"}}]))
        await self.put("/registry/persistentvolumes/pv1", {
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv1"},
            "spec": {"claimRef": {"namespace": "x", "name": "pvc1"},
                     "csi": {"driver": "d", "volumeHandle": "h",
                             "nodePublishSecretRef": {"namespace": "infra", "name": "csi-secret"}}}})
        self.assertTrue(await eventually(lambda: "pv1" in self.graph.pvs and ("x", "p2") in self.graph.pods, 5))
        for name in ("s1", "pull", "proj", "envsec"):
            self.assertEqual(self.decide(a("get", "secrets", name, "x"))[0], Decision.ALLOW, name)
        self.assertEqual(self.decide(a("get", "configmaps", "cm1", "x"))[0], Decision.ALLOW)
        self.assertEqual(self.decide(a("get", "persistentvolumeclaims", "pvc1", "x"))[0], Decision.ALLOW)
        self.assertEqual(self.decide(a("get", "persistentvolumes", "pv1"))[0], Decision.ALLOW)
        self.assertEqual(self.decide(a("get", "secrets", "csi-secret", "infra"))[0], Decision.ALLOW)
        self.assertEqual(self.decide(a("create", "serviceaccounts", "sa1", "x", "token"))[0], Decision.ALLOW)
        # Another node's secret, and an unrelated one, are refused with upstream's reason.
        self.assertEqual(self.decide(a("get", "secrets", "s2", "x")),
                         (Decision.NO_OPINION, "no relationship found between node 'n1' and this object"))
        self.assertEqual(self.decide(a("get", "secrets", "s1", "y"))[0], Decision.NO_OPINION)
        self.assertEqual(self.decide(a("list", "secrets", "", "x")), (Decision.NO_OPINION, "No Object name found"))
        self.assertEqual(self.decide(a("update", "secrets", "s1", "x")),
                         (Decision.NO_OPINION, "can only read resources of this type"))
        self.assertEqual(self.decide(a("list", "persistentvolumes")),
                         (Decision.NO_OPINION, "can only get individual resources of this type"))
        # Moving the pod to n2 moves the access with it (the watch updates the graph).
        await self.put("/registry/pods/x/p1", pod("p1", "n2", volumes=[{"name": "v", "secret": {"secretName": "s1"}}]))
        self.assertTrue(await eventually(lambda: self.graph.pods.get(("x", "p1"), ("",))[0] == "n2", 5))
        self.assertEqual(self.decide(a("get", "secrets", "s1", "x"))[0], Decision.NO_OPINION)
        await self.storage.delete("/registry/pods/x/p2")
        self.assertTrue(await eventually(lambda: ("x", "p2") not in self.graph.pods, 5))
        n2 = UserInfo("system:node:n2", groups=("system:nodes",))
        self.assertEqual(self.decide(a("get", "secrets", "s2", "x", user=n2))[0], Decision.NO_OPINION)
        self.assertEqual(self.decide(a("get", "secrets", "s1", "x", user=n2))[0], Decision.ALLOW)

    async def test_own_objects_and_rules(self) -> None:
        await self.put("/registry/pods/x/p1", pod("p1", "n1"))
        self.assertTrue(await eventually(lambda: ("x", "p1") in self.graph.pods, 5))
        allow = [a("get", "nodes", "n1"), a("update", "nodes", "n1", sub="status"), a("create", "nodes"),
                 a("get", "leases", "n1", "kube-node-lease", group="coordination.k8s.io"),
                 a("list", "pods", field_selector="spec.nodeName=n1"), a("get", "pods", "p1", "x"),
                 a("patch", "pods", "p1", "x", "status"), a("list", "services"), a("watch", "services"),
                 a("get", "endpoints", "e", "x"), a("create", "events", ns="x")]
        for attrs in allow:
            self.assertEqual(self.decide(attrs)[0], Decision.ALLOW, attrs)
        self.assertEqual(self.decide(a("get", "nodes", "n2")),
                         (Decision.NO_OPINION, "node 'n1' cannot read 'n2', only its own Node object"))
        self.assertEqual(self.decide(a("list", "nodes")),
                         (Decision.NO_OPINION, "node 'n1' cannot read all nodes, only its own Node object"))
        self.assertEqual(self.decide(a("list", "pods")),
                         (Decision.NO_OPINION, "can only list/watch pods with spec.nodeName field selector"))
        self.assertEqual(self.decide(a("update", "leases", "n2", "kube-node-lease", group="coordination.k8s.io")),
                         (Decision.NO_OPINION,
                          "can only access node lease with the same name as the requesting node"))
        self.assertEqual(self.decide(a("delete", "namespaces", "x"))[0], Decision.NO_OPINION)
        # Not a node: no opinion at all.
        self.assertEqual(self.decide(a("get", "secrets", "s1", "x", user=UserInfo("system:node:n1"))),
                         (Decision.NO_OPINION, ""))


def _webhook_server(test: unittest.TestCase, answer: Any) -> tuple[str, list[dict[str, Any]]]:
    """An HTTPS SubjectAccessReview webhook on loopback; returns (kubeconfig path, requests seen)."""
    cert_pem, key_pem = generate_self_signed(["127.0.0.1", "localhost"])
    seen: list[dict[str, Any]] = []

    class Review(Resource):
        isLeaf = True

        def render_POST(self, request: Any) -> bytes:
            body = orjson.loads(request.content.read())
            seen.append(body)
            request.setHeader(b"content-type", b"application/json")
            return orjson.dumps({"apiVersion": body["apiVersion"], "kind": "SubjectAccessReview",
                                 "status": answer(body["spec"])})

    cert = ssl.PrivateCertificate.loadPEM(key_pem + b"\n" + cert_pem)
    port = reactor.listenSSL(0, Site(Review()), cert.options(), interface="127.0.0.1")
    test.addCleanup(port.stopListening)
    path = os.path.join(test.mktemp())
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "w",
           "clusters": [{"name": "w", "cluster": {"server": f"https://127.0.0.1:{port.getHost().port}/authorize",
                                                 "certificate-authority-data":
                                                     base64.b64encode(cert_pem).decode()}}],
           "users": [{"name": "w", "user": {"token": "secret"}}],
           "contexts": [{"name": "w", "context": {"cluster": "w", "user": "w"}}]}
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path, seen


class WebhookTests(unittest.TestCase):
    async def test_decisions_and_cache(self) -> None:
        def answer(spec: dict[str, Any]) -> dict[str, Any]:
            if spec["user"] == "alice":
                return {"allowed": True, "reason": "alice may"}
            if spec["user"] == "mallory":
                return {"allowed": False, "denied": True, "reason": "never"}
            return {"allowed": False}

        path, seen = _webhook_server(self, answer)
        now = [1000.0]
        wh = WebhookAuthorizer(WebhookClient(path, reactor), authorized_ttl=60, unauthorized_ttl=5,
                               now=lambda: now[0])
        attrs = a("get", "pods", "p", "x", user=UserInfo("alice", groups=("devs",)))
        self.assertEqual(await wh.authorize(attrs), (Decision.ALLOW, "alice may"))
        self.assertEqual(seen[0]["apiVersion"], "authorization.k8s.io/v1")
        self.assertEqual(seen[0]["spec"], {"user": "alice", "groups": ["devs"], "resourceAttributes": {
            "namespace": "x", "verb": "get", "resource": "pods", "name": "p"}})
        self.assertEqual(await wh.authorize(attrs), (Decision.ALLOW, "alice may"))
        self.assertEqual(len(seen), 1)  # cached
        now[0] += 61
        await wh.authorize(attrs)
        self.assertEqual(len(seen), 2)  # expired
        self.assertEqual(await wh.authorize(a("get", "pods", "p", "x", user=UserInfo("bob"))),
                         (Decision.NO_OPINION, ""))
        # DENY stops the chain; NO_OPINION lets the next authorizer answer.
        chain = Union([wh, PrivilegedGroups(("ops",))])
        self.assertEqual((await chain.authorize(a("get", "pods", user=UserInfo("mallory", groups=("ops",)))))[0],
                         Decision.DENY)
        self.assertEqual((await chain.authorize(a("get", "pods", user=UserInfo("bob", groups=("ops",)))))[0],
                         Decision.ALLOW)
        await chain.authorize(a("get", "pods", user=UserInfo("bob", groups=("ops",))))
        # The groups are part of the question: bob alone and bob in ops were asked once each.
        self.assertEqual(len([s for s in seen if s["spec"]["user"] == "bob"]), 2)

    async def test_unreachable_webhook_is_an_error(self) -> None:
        path, _ = _webhook_server(self, lambda spec: {"allowed": True})
        with open(path) as f:
            cfg = yaml.safe_load(f)
        cfg["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
            generate_self_signed(["127.0.0.1"])[0]).decode()  # a CA that did not sign the server
        with open(path, "w") as f:
            yaml.safe_dump(cfg, f)
        wh = WebhookAuthorizer(WebhookClient(path, reactor))
        chain = Union([wh])
        with self.assertRaises(EvaluationError) as e:
            await chain.authorize(a("get", "pods"))
        self.assertEqual(e.exception.code, 500)
        self.assertIn("certificate verify failed", e.exception.message)
        # A later authorizer that allows still wins.
        chain = Union([wh, PrivilegedGroups(("system:nodes",))])
        self.assertEqual((await chain.authorize(a("get", "pods")))[0], Decision.ALLOW)
