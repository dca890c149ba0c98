"""GET /openapi/v2 negotiation: JSON by default, gnostic protobuf for kubectl 1.27/1.28, 406 otherwise."""

from __future__ import annotations

from typing import Any

import orjson
from twisted.internet import defer

from kubeapi.openapi import doc_hash
from tests.openapi.gnostic_proto import parse
from tests.server.support import ServerTestCase

PB = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
PB_OLD = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"  # what kubectl 1.27/1.28 send


class OpenAPIV2Tests(ServerTestCase):
    async def get(self, accept: str | None) -> tuple[int, Any, Any]:
        return await self.call("GET", "/openapi/v2", headers={"Accept": accept} if accept is not None else {})

    def header(self, headers: Any, name: str) -> str:
        return headers.getRawHeaders(name, [""])[0]

    async def _protobuf_for_old_kubectl(self) -> None:
        await self.start_server()
        code, body, headers = await self.get(PB_OLD)
        self.assertEqual(code, 200)
        self.assertEqual(self.header(headers, "content-type"), PB)
        self.assertEqual(self.header(headers, "vary"), "Accept")
        doc = parse("Document", body)
        self.assertEqual(doc.swagger, "2.0")
        names = [d.name for d in doc.definitions.additional_properties]
        self.assertIn("io.k8s.api.core.v1.ConfigMap", names)
        self.assertIn("/api/v1/namespaces/{namespace}/configmaps/{name}", [p.name for p in doc.paths.path])

        code, json_body, json_headers = await self.get("application/json")
        self.assertEqual(code, 200)
        self.assertEqual(self.header(json_headers, "content-type"), "application/json")
        # One ETag for both encodings: the SHA-512 of the JSON document, quoted.
        etag = f'"{doc_hash(orjson.dumps(json_body))}"'
        self.assertEqual(self.header(json_headers, "etag"), etag)
        self.assertEqual(self.header(headers, "etag"), etag)
        self.assertEqual(names, list(json_body["definitions"]))

        code, body2, _ = await self.get(PB)
        self.assertEqual(code, 200)
        self.assertEqual(body2, body)

    def test_protobuf_for_old_kubectl(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._protobuf_for_old_kubectl())

    async def _negotiation(self) -> None:
        await self.start_server()
        cases = [
            (None, "application/json"),
            ("*/*", "application/json"),
            ("application/*", "application/json"),
            ("application/json, */*", "application/json"),
            (f"{PB_OLD}, application/json", PB),
            (f"application/json;q=0.5, {PB}", PB),
            (f"*/*, {PB}", PB),  # specific types before wildcards at equal q
        ]
        for accept, ctype in cases:
            code, _, headers = await self.get(accept)
            self.assertEqual((accept, code, self.header(headers, "content-type")), (accept, 200, ctype))
        for accept in ("application/yaml", "application/vnd.kubernetes.protobuf", "text/plain"):
            code, body, _ = await self.get(accept)
            self.assertEqual((accept, code), (accept, 406))
            self.assertIn("NotAcceptable", body if isinstance(body, str) else body["reason"])

    def test_negotiation(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._negotiation())

    async def _v3_unchanged(self) -> None:
        await self.start_server()
        code, body, headers = await self.call("GET", "/openapi/v3", headers={"Accept": "application/json"})
        self.assertEqual(code, 200)
        self.assertIn("paths", body)
        code, _, _ = await self.call("GET", "/openapi/v3", headers={"Accept": PB_OLD})
        self.assertEqual(code, 406)

    def test_v3_unchanged(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._v3_unchanged())
