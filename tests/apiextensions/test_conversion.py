"""Webhook conversion against a real Twisted HTTPS webhook on 127.0.0.1: ConversionReview v1,
caBundle trust, reads and writes and watches through a non-storage version."""

from __future__ import annotations

import base64
import copy
from typing import Any

import orjson
from twisted.internet import ssl
from twisted.web.resource import Resource
from twisted.web.server import Site

from tests.apiextensions.helpers import CRD_PATH, SCHEMA, CRDServerTestCase, crd, gizmo
from tests.server.support import reactor
from tests.support.net import free_port
from tests.support.tls import generate_self_signed

V1 = "/apis/example.dev/v1/namespaces/default/gizmos"
V2 = "/apis/example.dev/v2/namespaces/default/gizmos"


def _v2_schema() -> dict[str, Any]:
    s = copy.deepcopy(SCHEMA)
    spec = s["properties"]["spec"]
    spec["properties"]["amount"] = spec["properties"].pop("size")
    spec["x-kubernetes-validations"] = []
    return s


class Converter(Resource):
    """v1 spec.size <-> v2 spec.amount; records what it was asked."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.reviews: list[dict[str, Any]] = []
        self.fail = False

    def render_POST(self, request: Any) -> bytes:
        review = orjson.loads(request.content.read())
        self.reviews.append(review)
        req = review["request"]
        out = []
        for o in req["objects"]:
            o = copy.deepcopy(o)
            spec = o.setdefault("spec", {})
            if req["desiredAPIVersion"] == "example.dev/v2" and "size" in spec:
                spec["amount"] = spec.pop("size")
            elif req["desiredAPIVersion"] == "example.dev/v1" and "amount" in spec:
                spec["size"] = spec.pop("amount")
            o["apiVersion"] = req["desiredAPIVersion"]
            out.append(o)
        result = {"status": "Failure", "message": "refused"} if self.fail else {"status": "Success"}
        request.setHeader(b"content-type", b"application/json")
        return orjson.dumps({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
                             "response": {"uid": req["uid"], "convertedObjects": out, "result": result}})


class WebhookConversionTests(CRDServerTestCase):
    async def setUp(self) -> None:  # type: ignore[override]
        await self.start_crd_server()
        cert, key = generate_self_signed(["127.0.0.1"])
        self.converter = Converter()
        port = free_port()
        listening = reactor.listenSSL(port, Site(self.converter),
                                      ssl.PrivateCertificate.loadPEM(key + cert).options(),
                                      interface="127.0.0.1")
        self.addCleanup(listening.stopListening)
        v1 = {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)}}
        v2 = {"name": "v2", "served": True, "storage": False, "schema": {"openAPIV3Schema": _v2_schema()}}
        body = crd(versions=[v1, v2])
        body["spec"]["conversion"] = {"strategy": "Webhook", "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {"url": f"https://127.0.0.1:{port}/convert",
                             "caBundle": base64.b64encode(cert).decode()}}}
        await self.create_crd(body)

    async def test_reads_and_writes_through_the_webhook(self) -> None:
        code, out, _ = await self.call("POST", V1, gizmo("a", size=2))
        self.assertEqual(code, 201, out)
        self.assertEqual(self.converter.reviews, [])  # the storage version needs no conversion
        code, got, _ = await self.call("GET", V2 + "/a")
        self.assertEqual(code, 200, got)
        self.assertEqual((got["apiVersion"], got["spec"].get("amount"), "size" in got["spec"]),
                         ("example.dev/v2", 2, False))
        review = self.converter.reviews[-1]
        self.assertEqual((review["apiVersion"], review["kind"]), ("apiextensions.k8s.io/v1", "ConversionReview"))
        self.assertEqual(review["request"]["desiredAPIVersion"], "example.dev/v2")
        code, out, _ = await self.call("POST", V2, {"apiVersion": "example.dev/v2", "kind": "Gizmo",
                                                    "metadata": {"name": "b"}, "spec": {"amount": 3}})
        self.assertEqual(code, 201, out)
        self.assertEqual(out["spec"]["amount"], 3)
        stored = await self.storage.get("/registry/example.dev/gizmos/default/b")
        assert stored is not None
        self.assertIn(b'"size":3', stored.value)
        self.assertIn(b'"apiVersion":"example.dev/v1"', stored.value)
        code, lst, _ = await self.call("GET", V2)
        self.assertEqual(sorted(i["spec"]["amount"] for i in lst["items"]), [2, 3])
        code, out, _ = await self.call("PATCH", V2 + "/b", raw=b'{"spec":{"amount":5}}',
                                       headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual((code, out["spec"]["amount"]), (200, 5))
        code, v1obj, _ = await self.call("GET", V1 + "/b")
        self.assertEqual(v1obj["spec"]["size"], 5)

    async def test_watch_converts_in_order(self) -> None:
        stream = await self.open_stream(V2 + "?watch=1")
        for i in range(3):
            await self.call("POST", V1, gizmo(f"w{i}", size=i + 1))
        events = await stream.wait_events(3)
        self.assertEqual([(e["object"]["metadata"]["name"], e["object"]["spec"]["amount"]) for e in events],
                         [("w0", 1), ("w1", 2), ("w2", 3)])

    async def test_webhook_failure_is_500(self) -> None:
        await self.call("POST", V1, gizmo("f", size=1))
        self.converter.fail = True
        code, out, _ = await self.call("GET", V2 + "/f")
        self.assertEqual(code, 500)
        self.assertIn("conversion webhook for example.dev/v1, Kind=Gizmo failed", out["message"])

    async def test_untrusted_certificate_is_refused(self) -> None:
        code, cur, _ = await self.call("GET", CRD_PATH + "/gizmos.example.dev")
        other, _ = generate_self_signed(["127.0.0.1"])
        cur["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] = base64.b64encode(other).decode()
        code, out, _ = await self.call("PUT", CRD_PATH + "/gizmos.example.dev", cur)
        self.assertEqual(code, 200, out)
        await self.call("POST", V1, gizmo("t", size=1))
        code, out, _ = await self.call("GET", V2 + "/t")
        self.assertEqual(code, 500)
