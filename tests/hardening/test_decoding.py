"""Bodies and parameters decoded as Go decodes them: integer ranges, type meta defaulting,
typed options, duplicate fields, nesting, warning caps, query parameters and metadata."""

from __future__ import annotations

from typing import Any

import orjson

from tests.hardening.support import CONFIGMAPS, DEPLOYMENTS, BuiltinServerTestCase, deployment, nested


class IntegerRanges(BuiltinServerTestCase):
    async def test_int32_out_of_range_is_400_naming_the_field(self) -> None:
        await self.start()
        code, body, _ = await self.call("POST", DEPLOYMENTS, deployment("d1", 2 ** 40))
        self.assertEqual(code, 400, body)
        self.assertIn("DeploymentSpec.spec.replicas of type int32", body["message"])
        self.assertIn(str(2 ** 40), body["message"])
        code, _, _ = await self.call("GET", DEPLOYMENTS + "/d1")
        self.assertEqual(code, 404)  # nothing was stored

    async def test_port_and_int64_fields(self) -> None:
        await self.start()
        d = deployment("d2")
        d["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 2 ** 32 + 80}]
        code, body, _ = await self.call("POST", DEPLOYMENTS, d)
        self.assertEqual(code, 400, body)
        self.assertIn("containerPort of type int32", body["message"])
        d = deployment("d3")
        d["metadata"]["generation"] = 2 ** 63
        code, body, _ = await self.call("POST", DEPLOYMENTS, d)
        self.assertEqual(code, 400, body)
        self.assertIn("ObjectMeta.metadata.generation of type int64", body["message"])

    async def test_beyond_64_bits_anywhere_is_400(self) -> None:
        await self.start()
        big = str(2 ** 70).encode()
        raw = b'{"metadata":{"name":"c1"},"data":{"x":"y"},"extra":' + big + b"}"
        code, body, _ = await self.call("POST", CONFIGMAPS, raw=raw)
        self.assertEqual(code, 400, body)
        raw = (b'{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d4"},"spec":{"replicas":'
               + big + b'}}')
        code, body, _ = await self.call("POST", DEPLOYMENTS, raw=raw)
        self.assertEqual(code, 400, body)
        code, body, _ = await self.call("POST", CONFIGMAPS, raw=b"metadata:\n  name: y1\nx: " + big,
                                        headers={"Content-Type": "application/yaml"})
        self.assertEqual(code, 400, body)
        for q in ("limit", "resourceVersion", "timeoutSeconds"):
            code, body, _ = await self.call("GET", f"{CONFIGMAPS}?{q}={2 ** 70}")
            self.assertEqual(code, 400, (q, body))
            self.assertEqual(body["kind"], "Status")
        code, body, _ = await self.call("GET", f"{CONFIGMAPS}?limit={2 ** 63}")
        self.assertEqual(code, 400, body)
        self.assertIn("value out of range", body["message"])
        # merge patch carrying one
        code, _, _ = await self.call("POST", CONFIGMAPS, {"metadata": {"name": "p1"}})
        self.assertEqual(code, 201)
        code, body, _ = await self.call("PATCH", CONFIGMAPS + "/p1", raw=b'{"data":{"a":' + big + b"}}",
                                        headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual(code, 400, body)


class TypeMeta(BuiltinServerTestCase):
    async def test_empty_or_missing_is_defaulted_from_the_url(self) -> None:
        await self.start()
        for i, tm in enumerate(({"apiVersion": "", "kind": ""}, {}, {"kind": ""}, {"apiVersion": ""})):
            d = deployment(f"t{i}")
            d.pop("apiVersion")
            d.pop("kind")
            d.update(tm)
            code, body, _ = await self.call("POST", DEPLOYMENTS, d)
            self.assertEqual(code, 201, (tm, body))
            self.assertEqual((body["apiVersion"], body["kind"]), ("apps/v1", "Deployment"))

    async def test_not_a_string_is_400(self) -> None:
        await self.start()
        for bad in (5, True, {"a": 1}, ["x"]):
            d = deployment("n")
            d["kind"] = bad
            code, body, _ = await self.call("POST", DEPLOYMENTS, d)
            self.assertEqual(code, 400, (bad, body))
            d = deployment("n")
            d["apiVersion"] = bad
            code, body, _ = await self.call("POST", DEPLOYMENTS, d)
            self.assertEqual(code, 400, (bad, body))


class TypedOptions(BuiltinServerTestCase):
    async def test_dry_run_as_a_string_is_400_and_nothing_is_deleted(self) -> None:
        await self.start()
        code, _, _ = await self.call("POST", CONFIGMAPS, {"metadata": {"name": "keep"}})
        self.assertEqual(code, 201)
        code, body, _ = await self.call("DELETE", CONFIGMAPS + "/keep", {"dryRun": "All"})
        self.assertEqual(code, 400, body)
        self.assertIn("DeleteOptions.dryRun", body["message"])
        code, _, _ = await self.call("GET", CONFIGMAPS + "/keep")
        self.assertEqual(code, 200)

    async def test_wrong_types_in_delete_options(self) -> None:
        await self.start()
        code, _, _ = await self.call("POST", CONFIGMAPS, {"metadata": {"name": "k2"}})
        for body in ({"gracePeriodSeconds": "5"}, {"orphanDependents": "yes"}, {"propagationPolicy": 1},
                     {"preconditions": "x"}, {"preconditions": {"uid": 5}}, {"dryRun": [1]},
                     {"gracePeriodSeconds": 2 ** 63}):
            code, got, _ = await self.call("DELETE", CONFIGMAPS + "/k2", body)
            self.assertEqual(code, 400, (body, got))
        code, _, _ = await self.call("DELETE", CONFIGMAPS, {"dryRun": "All"})
        self.assertEqual(code, 400)
        code, _, _ = await self.call("GET", CONFIGMAPS + "/k2")
        self.assertEqual(code, 200)

    async def test_query_option_types(self) -> None:
        await self.start()
        for q in ("limit=abc", "timeoutSeconds=1.5", "limit=1_0", "resourceVersion=abc"):
            code, body, _ = await self.call("GET", f"{CONFIGMAPS}?{q}")
            self.assertEqual(code, 400, (q, body))
        code, body, _ = await self.call("POST", CONFIGMAPS + "?fieldManager=" + "m" * 129,
                                        {"metadata": {"name": "fm"}})
        self.assertEqual(code, 422, body)
        self.assertIn("fieldManager", body["message"])
        code, body, _ = await self.call("POST", CONFIGMAPS + "?fieldManager=" + "m" * 128,
                                        {"metadata": {"name": "fm"}})
        self.assertEqual(code, 201, body)


class DuplicateFields(BuiltinServerTestCase):
    RAW = b'{"metadata":{"name":"dup","name":"dup"},"data":{"a":"1","a":"2"}}'

    async def test_strict_refuses_naming_the_fields(self) -> None:
        await self.start()
        code, body, _ = await self.call("POST", CONFIGMAPS + "?fieldValidation=Strict", raw=self.RAW)
        self.assertEqual(code, 400, body)
        self.assertIn('duplicate field "metadata.name"', body["message"])
        self.assertIn('duplicate field "data.a"', body["message"])
        self.assertIn("strict decoding error", body["message"])

    async def test_reported_in_document_order(self) -> None:
        # Go meets and reports duplicate and unknown fields in the order the body has them.
        await self.start()
        raw = b'{"metadata":{"name":"ord"},"bogus":1,"data":{"a":"1","a":"2"},"zzz":2}'
        code, body, _ = await self.call("POST", CONFIGMAPS + "?fieldValidation=Strict", raw=raw)
        self.assertEqual(code, 400, body)
        self.assertEqual(body["message"], 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict '
                                          'decoding error: unknown field "bogus", duplicate field "data.a", '
                                          'unknown field "zzz"')

    async def test_warn_warns_and_keeps_the_last(self) -> None:
        await self.start()
        code, body, headers = await self.call("POST", CONFIGMAPS + "?fieldValidation=Warn", raw=self.RAW)
        self.assertEqual(code, 201, body)
        self.assertEqual(body["data"], {"a": "2"})
        warnings = headers.getRawHeaders("warning", [])
        self.assertTrue(any('duplicate field \\"data.a\\"' in w for w in warnings), warnings)

    async def test_ignore_is_silent(self) -> None:
        await self.start()
        code, _, headers = await self.call("POST", CONFIGMAPS + "?fieldValidation=Ignore", raw=self.RAW)
        self.assertEqual(code, 201)
        self.assertEqual(headers.getRawHeaders("warning", []), [])


class Nesting(BuiltinServerTestCase):
    async def test_ten_thousand_deep_is_400(self) -> None:
        await self.start()
        for ctype, raw in (("application/json", b'{"metadata":{"name":"deep"},"data":' + nested(10_000) + b"}"),
                           ("application/yaml", b"metadata: {name: deep}\nx: " + b"[" * 10_000 + b"]" * 10_000)):
            code, body, _ = await self.call("POST", CONFIGMAPS, raw=raw, headers={"Content-Type": ctype})
            self.assertEqual(code, 400, (ctype, body))
            self.assertEqual(body["kind"], "Status")
        code, _, _ = await self.call("POST", CONFIGMAPS, {"metadata": {"name": "p"}})
        code, body, _ = await self.call("PATCH", CONFIGMAPS + "/p", raw=b'{"x":' + nested(10_000) + b"}",
                                        headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual(code, 400, body)

    async def test_no_recursion_error_below_the_limit(self) -> None:
        """Bodies just under the limit go through every path: create, get (JSON, YAML), list,
        each patch type; none may be a 500 (deepcopy and patch code once recursed per level)."""
        from kubeapi.server.strictjson import MAX_DEPTH

        await self.start()
        # A ConfigMap's extra fields are dropped; the Deployment's annotations are strings, so
        # use a patch to reach depth through unknown fields and server-side paths too.
        for depth in (MAX_DEPTH - 3, MAX_DEPTH):
            raw = b'{"metadata":{"name":"n%d"},"x":' % depth + nested(depth - 1) + b"}"
            code, body, _ = await self.call("POST", CONFIGMAPS, raw=raw)
            self.assertIn(code, (201, 400), body)
            self.assertNotEqual(code // 100, 5)
        code, _, _ = await self.call("POST", CONFIGMAPS, {"metadata": {"name": "q"}})
        for ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            raw = b'{"metadata":{"annotations":{"a":"b"}},"x":' + nested(MAX_DEPTH - 2) + b"}"
            code, body, _ = await self.call("PATCH", CONFIGMAPS + "/q", raw=raw, headers={"Content-Type": ctype})
            self.assertLess(code, 500, (ctype, body))
        ops = orjson.dumps([{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}])
        code, body, _ = await self.call("PATCH", CONFIGMAPS + "/q", raw=ops,
                                        headers={"Content-Type": "application/json-patch+json"})
        self.assertLess(code, 500, body)
        for accept in ("application/json", "application/yaml"):
            code, _, _ = await self.call("GET", CONFIGMAPS, headers={"Accept": accept})
            self.assertEqual(code, 200)


class Warnings(BuiltinServerTestCase):
    async def test_unknown_field_warnings_are_capped(self) -> None:
        await self.start()
        body: dict[str, Any] = {"metadata": {"name": "w"}}
        for i in range(500):
            body[f"unknown{i:04d}" + "x" * 40] = i
        code, got, headers = await self.call("POST", CONFIGMAPS, body)
        self.assertEqual(code, 201, got)
        warnings = headers.getRawHeaders("warning", [])
        self.assertLessEqual(len(warnings), 100)
        self.assertLess(sum(len(w) for w in warnings), 8 * 1024)
        self.assertGreater(len(warnings), 0)

    async def test_strict_error_lists_at_most_100_fields(self) -> None:
        await self.start()
        body: dict[str, Any] = {"metadata": {"name": "w"}}
        for i in range(300):
            body[f"u{i}"] = i
        code, got, _ = await self.call("POST", CONFIGMAPS + "?fieldValidation=Strict", body)
        self.assertEqual(code, 400)
        self.assertEqual(got["message"].count("unknown field"), 100)


class QueryAndMetadata(BuiltinServerTestCase):
    async def test_resource_version_on_get(self) -> None:
        await self.start()
        code, _, _ = await self.call("POST", CONFIGMAPS, {"metadata": {"name": "g"}})
        code, body, _ = await self.call("GET", CONFIGMAPS + "/g?resourceVersion=abc")
        self.assertEqual(code, 400, body)
        code, body, _ = await self.call("GET", CONFIGMAPS + "/g?resourceVersion=0")
        self.assertEqual(code, 200, body)
        code, body, _ = await self.call("GET", f"{CONFIGMAPS}?resourceVersion={2 ** 64}")
        self.assertEqual(code, 400, body)

    async def test_metadata_resource_version_garbage_on_create_is_ignored(self) -> None:
        await self.start()
        code, body, _ = await self.call("POST", CONFIGMAPS, {"metadata": {"name": "rv", "resourceVersion": "abc"}})
        self.assertEqual(code, 201, body)
        self.assertNotEqual(body["metadata"]["resourceVersion"], "abc")

    async def test_negative_timeout_ends_the_watch_at_once(self) -> None:
        import time

        await self.start()
        t0 = time.monotonic()
        code, _, _ = await self.call("GET", CONFIGMAPS + "?watch=true&timeoutSeconds=-5")
        self.assertEqual(code, 200)
        self.assertLess(time.monotonic() - t0, 5)
