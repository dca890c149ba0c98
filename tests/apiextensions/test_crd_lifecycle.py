"""CRDs over HTTP against a real in-process server: establishing, discovery, OpenAPI,
validation of CRDs themselves, deletion through the cleanup finalizer."""

from __future__ import annotations

import copy

import orjson
from twisted.internet import defer

from tests.apiextensions.helpers import CRD_PATH, SCHEMA, CRDServerTestCase, crd, gizmo

NS = "/apis/example.dev/v1/namespaces/default/gizmos"


class LifecycleTests(CRDServerTestCase):
    async def test_established_and_discovered(self) -> None:
        await self.start_crd_server()
        await self.create_crd()
        code, got, _ = await self.call("GET", CRD_PATH + "/gizmos.example.dev")
        conds = {c["type"]: (c["status"], c["reason"]) for c in got["status"]["conditions"]}
        self.assertEqual(conds, {"NamesAccepted": ("True", "NoConflicts"),
                                 "Established": ("True", "InitialNamesAccepted")})
        self.assertEqual(got["status"]["acceptedNames"]["kind"], "Gizmo")
        self.assertEqual(got["status"]["storedVersions"], ["v1"])
        self.assertIn(CRD_PATH[6:].split("/customresource")[0].split("/")[0], "apiextensions.k8s.io")
        code, res, _ = await self.call("GET", "/apis/example.dev/v1")
        self.assertEqual(code, 200)
        by_name = {r["name"]: r for r in res["resources"]}
        self.assertEqual(set(by_name), {"gizmos", "gizmos/status", "gizmos/scale"})
        self.assertEqual(by_name["gizmos"]["shortNames"], ["gz"])
        self.assertEqual(by_name["gizmos"]["categories"], ["all"])
        self.assertEqual(by_name["gizmos"]["singularName"], "gizmo")
        code, groups, _ = await self.call("GET", "/apis")
        self.assertIn("example.dev", [g["name"] for g in groups["groups"]])
        code, agg, _ = await self.call("GET", "/apis", headers={
            "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
        self.assertEqual(code, 200)
        self.assertIn("example.dev", [g["metadata"]["name"] for g in agg["items"]])

    async def test_openapi_v3_publishes_the_schema(self) -> None:
        await self.start_crd_server()
        await self.create_crd()
        code, doc, _ = await self.call("GET", "/openapi/v3/apis/example.dev/v1")
        self.assertEqual(code, 200)
        schemas = doc["components"]["schemas"]
        name = next(k for k in schemas if k.endswith(".Gizmo"))
        self.assertIn("maxSize", schemas[name]["properties"]["spec"]["properties"])
        code, v2, _ = await self.call("GET", "/openapi/v2")
        self.assertTrue(any(k.endswith(".Gizmo") for k in v2["definitions"]))

    async def test_non_structural_schema_is_refused(self) -> None:
        await self.start_crd_server()
        body = crd()
        schema = body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        schema["properties"]["spec"]["properties"]["bad"] = {"properties": {"x": {"type": "string"}}}
        schema["properties"]["spec"]["anyOf"] = [{"type": "object"}]
        code, out, _ = await self.call("POST", CRD_PATH, body)
        self.assertEqual(code, 422)
        self.assertIn("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[bad].type: "
                      "Required value: must not be empty for specified object fields", out["message"])
        self.assertIn("spec.versions[0].schema.openAPIV3Schema.properties[spec].anyOf[0].type: "
                      "Forbidden: must be empty to be structural", out["message"])

    async def test_crd_name_and_storage_checks(self) -> None:
        await self.start_crd_server()
        body = crd()
        body["metadata"]["name"] = "wrong.example.dev"
        body["spec"]["versions"][0]["storage"] = False
        code, out, _ = await self.call("POST", CRD_PATH, body)
        self.assertEqual(code, 422)
        self.assertIn('metadata.name: Invalid value: "wrong.example.dev": must be spec.names.plural+"."+spec.group',
                      out["message"])
        self.assertIn("must have exactly one version marked as storage version", out["message"])

    async def test_cel_compile_error_and_cost(self) -> None:
        await self.start_crd_server()
        body = crd()
        spec = body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        spec["x-kubernetes-validations"] = [{"rule": "self.nosuch > 1"}]
        code, out, _ = await self.call("POST", CRD_PATH, body)
        self.assertEqual(code, 422)
        self.assertIn("x-kubernetes-validations[0].rule", out["message"])
        self.assertIn("compilation failed", out["message"])
        spec["properties"]["tags"] = {"type": "array", "items": {"type": "string"}}
        spec["x-kubernetes-validations"] = [{"rule": "self.tags.all(a, self.tags.all(b, a.matches(b)))"}]
        code, out, _ = await self.call("POST", CRD_PATH, body)
        self.assertEqual(code, 422)
        self.assertIn("estimated rule cost exceeds budget by factor of", out["message"])
        spec["properties"]["tags"]["maxItems"] = 5
        spec["properties"]["tags"]["items"]["maxLength"] = 10
        code, out, _ = await self.call("POST", CRD_PATH, body)
        self.assertEqual(code, 201, out)

    async def test_names_conflict(self) -> None:
        await self.start_crd_server()
        await self.create_crd()
        other = crd(plural="gizmos", kind="Other")
        other["metadata"]["name"] = "gizmos.example.dev"
        second = crd(plural="gadgets", kind="Gizmo", singular="gadget", shortNames=["gd"])
        await self.create_crd(second)
        code, got, _ = await self.call("GET", CRD_PATH + "/gadgets.example.dev")
        conds = {c["type"]: (c["status"], c["reason"]) for c in got["status"]["conditions"]}
        self.assertEqual(conds["NamesAccepted"], ("False", "KindConflict"))
        self.assertEqual(conds["Established"][0], "False")
        code, _, _ = await self.call("GET", "/apis/example.dev/v1/namespaces/default/gadgets")
        self.assertEqual(code, 404)

    async def test_delete_while_the_status_changes(self) -> None:
        # A delete that loses a race with a status write is retried, never a 500.
        await self.start_crd_server()
        await self.create_crd()
        path = CRD_PATH + "/gizmos.example.dev"
        patches = [self.call("PATCH", path + "/status", raw=orjson.dumps(
            {"status": {"conditions": [{"type": f"Touch{i}", "status": "True", "reason": "Test", "message": "",
                                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}),
            headers={"Content-Type": "application/merge-patch+json"}) for i in range(30)]
        calls = [*patches[:15], self.call("DELETE", path), *patches[15:]]
        results = await defer.gatherResults([defer.ensureDeferred(c) for c in calls])
        self.assertEqual(results[15][0], 200, results[15][1])

    async def test_delete_removes_objects_then_the_crd_and_ends_watches(self) -> None:
        await self.start_crd_server()
        await self.create_crd()
        for n in ("a", "b"):
            code, out, _ = await self.call("POST", NS, gizmo(n, size=1))
            self.assertEqual(code, 201, out)
        stream = await self.open_stream(NS + "?watch=1")
        await stream.wait_events(2)
        code, out, _ = await self.call("DELETE", CRD_PATH + "/gizmos.example.dev")
        self.assertEqual(code, 200)
        self.assertIn("customresourcecleanup.apiextensions.k8s.io", out["metadata"]["finalizers"])
        term = [c for c in out["status"]["conditions"] if c["type"] == "Terminating"]
        self.assertEqual(term[0]["status"], "True")

        async def gone() -> bool:
            code, _, _ = await self.call("GET", CRD_PATH + "/gizmos.example.dev")
            return code == 404

        await self.wait_for(gone)
        await stream.wait_end()
        types = [e["type"] for e in stream.events()]
        self.assertEqual(types, ["ADDED", "ADDED", "DELETED", "DELETED"])
        code, _, _ = await self.call("GET", NS)
        self.assertEqual(code, 404)
        # Objects are really gone from storage: a new CRD of the same name starts empty.
        await self.create_crd()
        code, lst, _ = await self.call("GET", NS)
        self.assertEqual(lst["items"], [])

    async def test_terminating_refuses_create(self) -> None:
        await self.start_crd_server()
        await self.create_crd()
        obj = gizmo("held", size=1)
        obj["metadata"]["finalizers"] = ["example.dev/hold"]
        await self.call("POST", NS, obj)
        await self.call("DELETE", CRD_PATH + "/gizmos.example.dev")

        async def terminating() -> bool:
            code, out, _ = await self.call("POST", NS, gizmo("new", size=1))
            return code == 405 and out
        out = await self.wait_for(terminating)
        self.assertEqual(out["message"], "create not allowed while custom resource definition is terminating")

        async def held_is_deleting() -> bool:
            code, held, _ = await self.call("GET", NS + "/held")
            return code == 200 and bool(held["metadata"].get("deletionTimestamp"))
        await self.wait_for(held_is_deleting)
        await self.call("PATCH", NS + "/held", raw=b'{"metadata":{"finalizers":null}}',
                        headers={"Content-Type": "application/merge-patch+json"})
        self.controller._retry("gizmos.example.dev")

        async def gone() -> bool:
            code, _, _ = await self.call("GET", CRD_PATH + "/gizmos.example.dev")
            return code == 404
        await self.wait_for(gone)

    async def test_versions_none_conversion_and_stored_versions(self) -> None:
        await self.start_crd_server()
        v1 = {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)}}
        v2 = {"name": "v2", "served": True, "storage": False, "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)}}
        v1beta1 = {"name": "v1beta1", "served": False, "storage": False,
                   "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)}}
        body = crd(versions=[v1beta1, v1, v2])
        await self.create_crd(body)
        code, grp, _ = await self.call("GET", "/apis/example.dev")
        self.assertEqual([v["version"] for v in grp["versions"]], ["v2", "v1"])
        self.assertEqual(grp["preferredVersion"]["version"], "v2")
        code, _, _ = await self.call("GET", "/apis/example.dev/v1beta1/namespaces/default/gizmos")
        self.assertEqual(code, 404)
        await self.call("POST", NS, gizmo("x", size=2))
        code, got, _ = await self.call("GET", "/apis/example.dev/v2/namespaces/default/gizmos/x")
        self.assertEqual((code, got["apiVersion"], got["spec"]["size"]), (200, "example.dev/v2", 2))
        stored = await self.storage.get("/registry/example.dev/gizmos/default/x")
        assert stored is not None
        self.assertIn(b'"apiVersion":"example.dev/v1"', stored.value)
        # Switch the storage version: storedVersions keeps both.
        code, cur, _ = await self.call("GET", CRD_PATH + "/gizmos.example.dev")
        cur["spec"]["versions"][1]["storage"] = False
        cur["spec"]["versions"][2]["storage"] = True
        code, upd, _ = await self.call("PUT", CRD_PATH + "/gizmos.example.dev", cur)
        self.assertEqual(code, 200, upd)
        self.assertEqual(upd["status"]["storedVersions"], ["v1", "v2"])

    async def test_webhook_conversion_needs_a_client_config(self) -> None:
        await self.start_crd_server()
        v1 = {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)}}
        bad = crd(versions=[v1])
        bad["spec"]["conversion"] = {"strategy": "Webhook"}
        code, out, _ = await self.call("POST", CRD_PATH, bad)
        self.assertEqual(code, 422)
        self.assertIn("spec.conversion.webhook: Required value: must be specified if strategy=Webhook", out["message"])

    async def test_readyz_waits_for_the_first_sync(self) -> None:
        await self.start_crd_server()

        async def synced() -> bool:
            code, body, _ = await self.call("GET", "/readyz?verbose")
            return code == 200 and "[+]poststarthook/crd-informer-synced ok" in body
        await self.wait_for(synced)
