"""The webhook backend against a real Twisted HTTPS server on loopback receiving EventLists."""

from __future__ import annotations

import base64
import json
import os
import tempfile
import time
from typing import Any

import orjson
from twisted.internet import defer, ssl, task
from twisted.web import resource
from twisted.web.server import Site

from kubeapi.audit.config import build_auditor
from kubeapi.options import Options
from tests.audit.helpers import W
from tests.server.support import ServerTestCase, reactor
from tests.support import tls as certs
from tests.support.net import free_port


class Receiver(resource.Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.lists: list[dict[str, Any]] = []
        self.auth: list[str] = []

    def render_POST(self, request: Any) -> bytes:
        self.auth.append((request.getHeader("authorization") or b"").decode() if isinstance(
            request.getHeader("authorization"), bytes) else request.getHeader("authorization") or "")
        self.lists.append(orjson.loads(request.content.read()))
        request.setHeader(b"content-type", b"application/json")
        return b"{}"

    def events(self) -> list[dict[str, Any]]:
        return [e for lst in self.lists for e in lst["items"]]


class Webhook(ServerTestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="kubeapi-auditwh-")
        self.policy = os.path.join(self.tmp, "policy.yaml")
        with open(self.policy, "w") as f:
            f.write("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")

    def tearDown(self) -> None:
        if getattr(self, "auditor", None) is not None:
            self.auditor.stop()

    def tls_receiver(self) -> tuple[Receiver, str, bytes]:
        cert, key = certs.generate_self_signed(["127.0.0.1", "localhost"])
        opts = ssl.PrivateCertificate.loadPEM(key + cert).options()
        rec = Receiver()
        port = reactor.listenSSL(0, Site(rec), opts, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return rec, f"https://127.0.0.1:{port.getHost().port}/audit", cert

    def kubeconfig(self, server: str, ca: bytes | None) -> str:
        cluster: dict[str, Any] = {"server": server}
        if ca:
            cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "hook",
               "clusters": [{"name": "hook", "cluster": cluster}],
               "users": [{"name": "hook", "user": {"token": "hook-token"}}],
               "contexts": [{"name": "hook", "context": {"cluster": "hook", "user": "hook"}}]}
        path = os.path.join(self.tmp, "webhook.kubeconfig")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    async def boot(self, *flags: str) -> None:
        o = Options()
        o.parseOptions([f"--audit-policy-file={self.policy}", "--secure-port=16443", *flags])
        server = await self.start_server()
        self.registry = server.metrics.registry
        self.auditor = build_auditor(o, self.registry, reactor)
        assert self.auditor is not None
        server.audit = self.auditor

    async def wait(self, cond: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond() and time.monotonic() < deadline:
            await task.deferLater(reactor, 0.05, lambda: None)

    def test_batch_delivers_event_lists_over_tls(self) -> defer.Deferred[None]:
        async def go() -> None:
            rec, url, ca = self.tls_receiver()
            await self.boot(f"--audit-webhook-config-file={self.kubeconfig(url, ca)}",
                            "--audit-webhook-batch-max-wait=0.2s", "--audit-webhook-batch-max-size=5")
            ids = []
            for _ in range(12):
                code, _, headers = await self.call("GET", W)
                self.assertEqual(code, 200)
                ids.append(headers.getRawHeaders("audit-id")[0])
            await self.wait(lambda: len(rec.events()) >= 24)
            self.assertTrue(all(lst["kind"] == "EventList" and lst["apiVersion"] == "audit.k8s.io/v1"
                                for lst in rec.lists))
            self.assertTrue(all(len(lst["items"]) <= 5 for lst in rec.lists))
            got = [(e["auditID"], e["stage"]) for e in rec.events()]
            for aid in ids:
                self.assertEqual(got.count((aid, "RequestReceived")), 1)
                self.assertEqual(got.count((aid, "ResponseComplete")), 1)
            self.assertEqual(set(rec.auth), {"Bearer hook-token"})

        return defer.ensureDeferred(go())

    def test_blocking_mode_delivers_before_the_reply(self) -> defer.Deferred[None]:
        async def go() -> None:
            rec, url, ca = self.tls_receiver()
            await self.boot(f"--audit-webhook-config-file={self.kubeconfig(url, ca)}",
                            "--audit-webhook-mode=blocking")
            _, _, headers = await self.call("GET", W)
            aid = headers.getRawHeaders("audit-id")[0]
            self.assertEqual([e["stage"] for e in rec.events() if e["auditID"] == aid],
                             ["RequestReceived", "ResponseComplete"])

        return defer.ensureDeferred(go())

    def test_unreachable_webhook_never_blocks_and_drops_counted(self) -> defer.Deferred[None]:
        async def go() -> None:
            dead = f"https://127.0.0.1:{free_port()}/audit"
            await self.boot(f"--audit-webhook-config-file={self.kubeconfig(dead, None)}",
                            "--audit-webhook-batch-buffer-size=10", "--audit-webhook-batch-max-size=2",
                            "--audit-webhook-batch-max-wait=0s", "--audit-webhook-initial-backoff=5s")
            started = time.monotonic()
            for _ in range(50):
                code, _, _ = await self.call("GET", W)
                self.assertEqual(code, 200)
            self.assertLess(time.monotonic() - started, 10)
            sink = self.auditor.backends[0]
            self.assertLessEqual(len(sink.buffer.buffer), 10)  # bounded
            dropped = self.registry.get_sample_value("apiserver_audit_error_total", {"plugin": "webhook"})
            self.assertGreaterEqual(dropped, 100 - 10 - 2)
            self.assertEqual(self.registry.get_sample_value("apiserver_audit_event_total"), 100)
            code, text, _ = await self.call("GET", "/metrics")
            self.assertIn('apiserver_audit_error_total{plugin="webhook"}', text)

        return defer.ensureDeferred(go())
