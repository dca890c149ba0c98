"""A real AdmissionReview webhook over HTTPS on loopback (Twisted), for the webhook tests:
``/mutate`` adds a label with a JSONPatch, ``/deny`` refuses objects labelled deny=yes."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from twisted.internet import reactor, ssl
from twisted.web.resource import Resource
from twisted.web.server import Site

from tests.support.tls import generate_self_signed


class _Hook(Resource):
    isLeaf = True

    def __init__(self, seen: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__()
        self.seen = seen

    def render_POST(self, request: Any) -> bytes:
        review = orjson.loads(request.content.read())
        path = request.path.decode()
        self.seen.append((path, review))
        req = review["request"]
        resp: dict[str, Any] = {"uid": req["uid"], "allowed": True}
        obj = req.get("object") or {}
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if path == "/mutate":
            ops: list[dict[str, Any]] = []
            if not labels:
                ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
            ops.append({"op": "add", "path": "/metadata/labels/mutated-by", "value": "webhook"})
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(orjson.dumps(ops)).decode()
        elif path == "/deny" and labels.get("deny") == "yes":
            resp = {"uid": req["uid"], "allowed": False,
                    "status": {"code": 403, "message": "objects labelled deny=yes are not welcome"}}
        elif path == "/badcode" and labels.get("deny") == "yes":
            resp = {"uid": req["uid"], "allowed": False, "status": {"reason": "NoReason"}}
        request.setHeader(b"content-type", b"application/json")
        return orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp})


def start(test: Any) -> tuple[str, str, list[tuple[str, dict[str, Any]]]]:
    """(base URL, caBundle base64, requests seen); stopped at the test's cleanup."""
    cert_pem, key_pem = generate_self_signed(["127.0.0.1", "localhost"])
    seen: list[tuple[str, dict[str, Any]]] = []
    cert = ssl.PrivateCertificate.loadPEM(key_pem + b"\n" + cert_pem)
    port = reactor.listenSSL(0, Site(_Hook(seen)), cert.options(), interface="127.0.0.1")  # type: ignore[attr-defined]
    test.addCleanup(port.stopListening)
    return f"https://127.0.0.1:{port.getHost().port}", base64.b64encode(cert_pem).decode(), seen


def configuration(kind: str, name: str, url: str, ca: str, **hook: Any) -> dict[str, Any]:
    """A Mutating/ValidatingWebhookConfiguration with one webhook on pods and configmaps."""
    wh = {"name": name, "clientConfig": {"url": url, "caBundle": ca}, "sideEffects": "None",
          "admissionReviewVersions": ["v1"], "failurePolicy": "Fail", "timeoutSeconds": 5,
          "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                     "resources": ["pods", "configmaps"]}], **hook}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": name.split(".")[0]}, "webhooks": [wh]}
