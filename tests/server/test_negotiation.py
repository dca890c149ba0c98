"""Accept negotiation and body decoding, as functions and through a running server."""

from __future__ import annotations

import orjson
from twisted.internet import defer
from twisted.trial import unittest

from kubeapi.errors import StatusError
from kubeapi.server import negotiation as n
from tests.server.support import ServerTestCase

TABLE_V1 = "application/json;as=Table;v=v1;g=meta.k8s.io"
RESOURCE_AS = frozenset({"Table", "PartialObjectMetadata", "PartialObjectMetadataList"})


def bomb(levels: int = 9) -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


class AcceptMatrix(unittest.TestCase):
    def check(self, accept: str | None, media: str, convert: str = "", version: str = "") -> None:
        out = n.negotiate(accept, RESOURCE_AS)
        self.assertEqual((out.media_type, out.convert, out.version), (media, convert, version), accept)

    def test_matrix(self) -> None:
        self.check(None, n.JSON)
        self.check("", n.JSON)
        self.check("*/*", n.JSON)
        self.check("application/json", n.JSON)
        self.check("application/yaml", n.YAML)
        self.check("application/json;q=0.5, application/yaml", n.YAML)
        self.check("application/yaml;q=0.1, application/json;q=0.9", n.JSON)
        self.check("application/vnd.kubernetes.protobuf, application/json", n.JSON)
        self.check("application/vnd.kubernetes.protobuf, */*", n.JSON)
        self.check(TABLE_V1 + ", application/json", n.JSON, "Table", "v1")
        self.check("application/json;as=Table;v=v1beta1;g=meta.k8s.io", n.JSON, "Table", "v1beta1")
        self.check("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", n.JSON,
                   "PartialObjectMetadataList", "v1")
        self.check("application/json;as=Table;v=v9;g=meta.k8s.io, application/json", n.JSON)
        self.check("application/json;as=Bogus;v=v1;g=meta.k8s.io, application/yaml", n.YAML)

    def test_not_acceptable(self) -> None:
        for accept in ("application/vnd.kubernetes.protobuf", "text/html", "application/json;q=0",
                       "application/json;as=Table;v=v9;g=meta.k8s.io"):
            with self.assertRaises(StatusError) as cm:
                n.negotiate(accept, RESOURCE_AS)
            self.assertEqual(cm.exception.code, 406, accept)
            self.assertEqual(cm.exception.reason, "NotAcceptable")

    def test_discovery_content_type_echoes_profile(self) -> None:
        out = n.negotiate("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
                          frozenset({"APIGroupDiscoveryList"}))
        self.assertEqual(out.content_type, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")


class BodyDecoding(unittest.TestCase):
    def code(self, ctype: str | None, body: bytes, limit: int = 1 << 20) -> int:
        try:
            n.decode_body(ctype, body, limit)
        except StatusError as e:
            return e.code
        return 200

    def test_json_and_yaml(self) -> None:
        self.assertEqual(n.decode_body("application/json", b'{"a": 1}', 100), {"a": 1})
        obj = n.decode_body("application/yaml", b"a: 1\nt: 2024-01-01T00:00:00Z\n", 100)
        self.assertEqual(obj, {"a": 1, "t": "2024-01-01T00:00:00Z"})

    def test_refusals(self) -> None:
        # Malformed protobuf: 400 once kubeapi.protobuf decodes, 415 while it cannot; never 500.
        self.assertIn(self.code("application/vnd.kubernetes.protobuf", b"\x00"), (400, 415))
        self.assertEqual(self.code("text/html", b"<p>"), 415)
        self.assertEqual(self.code("application/json", b"{" * 10, limit=5), 413)
        self.assertEqual(self.code("application/json", b"{not json"), 400)
        self.assertEqual(self.code("application/json", b"[1]"), 400)
        deep = b'{"a":' * 2000 + b"1" + b"}" * 2000
        self.assertEqual(self.code("application/json", deep), 400)
        self.assertEqual(self.code("application/yaml", bomb()), 400)
        self.assertEqual(self.code("application/yaml", b"a: [" * 5000), 400)

    def test_bounded_depth_still_accepted(self) -> None:
        ok = b'{"a":' * 50 + b"1" + b"}" * 50
        self.assertEqual(self.code("application/json", ok), 200)

    def test_small_aliases_are_fine(self) -> None:
        obj = n.decode_body("application/yaml", b"x: &v {a: 1}\ny: *v\n", 1000)
        self.assertEqual(obj["y"], {"a": 1})

    def test_apply_patch_yaml_becomes_json(self) -> None:
        ptype, body = n.normalize_patch("application/apply-patch+yaml", b"metadata:\n  name: x\n", 1000)
        self.assertEqual(ptype, "application/apply-patch+yaml")
        self.assertEqual(orjson.loads(body), {"metadata": {"name": "x"}})


class NegotiationOverHTTP(ServerTestCase):
    def test_server_answers_and_keeps_serving(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.start_server()
            path = "/api/v1/namespaces"
            await self.call("POST", path, {"metadata": {"name": "default"}})
            cm_path = "/api/v1/namespaces/default/configmaps"

            # Protobuf only, for a kind the codec does not know (a custom resource): 406, in JSON.
            code, body, _ = await self.call("GET", "/apis/example.com/v1/gadgets",
                                            headers={"Accept": "application/vnd.kubernetes.protobuf"})
            self.assertEqual((code, body["reason"]), (406, "NotAcceptable"))

            code, body, _ = await self.call("POST", cm_path, raw=b"\x0a\x00",
                                            headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
            self.assertIn((code, body["reason"]), ((415, "UnsupportedMediaType"), (400, "BadRequest")))
            code, body, _ = await self.call("POST", cm_path, raw=b"<p>", headers={"Content-Type": "text/html"})
            self.assertEqual((code, body["reason"]), (415, "UnsupportedMediaType"))

            big = {"metadata": {"name": "big"}, "data": {"x": "y" * (3 * 1024 * 1024)}}
            code, body, _ = await self.call("POST", cm_path, big)
            self.assertEqual((code, body["reason"]), (413, "RequestEntityTooLarge"))
            code, body, _ = await self.call("POST", cm_path, big, secure=True)  # plain Site
            self.assertEqual((code, body["reason"]), (413, "RequestEntityTooLarge"))

            code, body, _ = await self.call("POST", cm_path, raw=bomb(), headers={"Content-Type": "application/yaml"})
            self.assertEqual((code, body["reason"]), (400, "BadRequest"))
            self.assertIn("excessive aliasing", body["message"])

            deep = b'{"metadata":{"name":"d"},"data":' + b'{"a":' * 3000 + b"1" + b"}" * 3001
            code, body, _ = await self.call("POST", cm_path, raw=deep)
            self.assertEqual((code, body["reason"]), (400, "BadRequest"))

            code, body, headers = await self.call(
                "POST", cm_path, raw=b"metadata:\n  name: from-yaml\ndata:\n  k: v\n",
                headers={"Content-Type": "application/yaml", "Accept": "application/yaml"})
            self.assertEqual(code, 201)
            self.assertEqual(headers.getRawHeaders("content-type"), ["application/yaml"])
            self.assertIn("name: from-yaml", body)

            code, body, _ = await self.call("GET", cm_path + "/from-yaml")
            self.assertEqual((code, body["data"]), (200, {"k": "v"}))

            code, body, _ = await self.call("GET", cm_path + "/from-yaml?pretty=true")
            self.assertEqual(code, 200)

        return defer.ensureDeferred(go())

    def test_pretty_output_is_indented(self) -> defer.Deferred[None]:
        async def go() -> None:
            import treq

            await self.start_server()
            resp = await treq.get(self.url + "/version?pretty=true", pool=self.pool)
            text = (await resp.content()).decode()
            self.assertIn('\n  "major": "1"', text)

        return defer.ensureDeferred(go())
