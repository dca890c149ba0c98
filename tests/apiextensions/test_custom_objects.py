"""Custom objects through the whole pipeline: defaulting, pruning, schema and CEL validation,
status and scale subresources, patch types, content types, selectors, Table output, dryRun."""

from __future__ import annotations

import json

from tests.apiextensions.helpers import CRDServerTestCase, gizmo

NS = "/apis/example.dev/v1/namespaces/default/gizmos"
MERGE = {"Content-Type": "application/merge-patch+json"}


class CustomObjectTests(CRDServerTestCase):
    async def setUp(self) -> None:  # type: ignore[override]
        await self.start_crd_server()
        await self.create_crd()

    async def test_defaults_and_pruning_with_warning(self) -> None:
        body = gizmo(ports=[{"name": "http"}], extra="x", free={"any": {"thing": 1}})
        body["unknownTop"] = 1
        code, out, headers = await self.call("POST", NS, body)
        self.assertEqual(code, 201, out)
        self.assertEqual(out["spec"], {"size": 1, "maxSize": 10, "ports": [{"name": "http", "number": 80}],
                                       "free": {"any": {"thing": 1}}})
        self.assertNotIn("unknownTop", out)
        self.assertEqual(out["metadata"]["generation"], 1)
        warnings = headers.getRawHeaders("warning", [])
        self.assertIn('299 - "unknown field \\"spec.extra\\""', warnings)
        code, stored, _ = await self.call("GET", NS + "/g1")
        self.assertEqual(stored["spec"]["size"], 1)

    async def test_strict_field_validation(self) -> None:
        code, out, _ = await self.call("POST", NS + "?fieldValidation=Strict", gizmo(bogus=1))
        self.assertEqual(code, 400)
        self.assertEqual(out["message"], 'Gizmo in version "v1" cannot be handled as a Gizmo: strict decoding '
                                         'error: unknown field "spec.bogus"')

    async def test_unknown_metadata_fields(self) -> None:
        # metadata is an ObjectMeta whatever the CRD's schema says: its unknown fields are
        # refused (Strict), or warned about and dropped, like any other.
        body = gizmo(bogus=1)
        body["metadata"]["bogusMeta"] = 1
        code, out, _ = await self.call("POST", NS + "?fieldValidation=Strict", body)
        self.assertEqual(code, 400)
        self.assertEqual(out["message"], 'Gizmo in version "v1" cannot be handled as a Gizmo: strict decoding '
                                         'error: unknown field "metadata.bogusMeta", unknown field "spec.bogus"')
        code, out, headers = await self.call("POST", NS, body)
        self.assertEqual(code, 201, out)
        self.assertNotIn("bogusMeta", out["metadata"])
        self.assertIn('299 - "unknown field \\"metadata.bogusMeta\\""', headers.getRawHeaders("warning", []))

    async def test_apply_refuses_undeclared_fields(self) -> None:
        # Server-side apply types the configuration first: an undeclared field is an error in
        # every fieldValidation mode, named in structured-merge-diff's notation.
        config = (b"apiVersion: example.dev/v1\nkind: Gizmo\nmetadata: {name: ap, bogusMeta: 1}\n"
                  b"spec:\n  ports: [{name: http, extra: 1}]\n  typo: 2\n")
        for mode in ("Strict", "Warn", "Ignore"):
            code, out, _ = await self.call("PATCH", f"{NS}/ap?fieldManager=m&fieldValidation={mode}", raw=config,
                                           headers={"Content-Type": "application/apply-patch+yaml"})
            self.assertEqual(code, 400, mode)
            self.assertEqual(out["message"], (
                "failed to create typed patch object (/ap; example.dev/v1, Kind=Gizmo): errors:\n"
                "  .metadata.bogusMeta: field not declared in schema\n"
                '  .spec.ports[name="http"].extra: field not declared in schema\n'
                "  .spec.typo: field not declared in schema"))
        code, _, _ = await self.call("GET", NS + "/ap")
        self.assertEqual(code, 404)

    async def test_duplicate_yaml_keys(self) -> None:
        # Go's YAML decoder names each key given twice by its line: refused under Strict,
        # warned about under Warn, for a YAML create and for an applied configuration alike.
        doc = b"apiVersion: example.dev/v1\nkind: Gizmo\nmetadata:\n  name: dup\nspec:\n  size: 1\n  size: 2\n"
        yaml_ct = {"Content-Type": "application/yaml"}
        apply_ct = {"Content-Type": "application/apply-patch+yaml"}
        code, out, _ = await self.call("POST", NS + "?fieldValidation=Strict", raw=doc, headers=yaml_ct)
        self.assertEqual((code, out["message"]), (400, 'Gizmo in version "v1" cannot be handled as a Gizmo: strict '
                                                       'decoding error: yaml: unmarshal errors:\n  line 7: key '
                                                       '"size" already set in map'))
        code, out, _ = await self.call("PATCH", NS + "/dup?fieldManager=m&fieldValidation=Strict", raw=doc,
                                       headers=apply_ct)
        self.assertEqual((code, out["message"]), (400, "error strict decoding YAML: error converting YAML to JSON: "
                                                       'yaml: unmarshal errors:\n  line 7: key "size" already set '
                                                       "in map"))
        code, out, headers = await self.call("PATCH", NS + "/dup?fieldManager=m", raw=doc, headers=apply_ct)
        self.assertEqual((code, out["spec"]["size"]), (201, 2))
        self.assertEqual(headers.getRawHeaders("warning"), ['299 - "line 7: key \\"size\\" already set in map"'])

    async def test_schema_errors(self) -> None:
        code, out, _ = await self.call("POST", NS, gizmo(size="big", color="green", label="TooLongName", note=None,
                                                         port=True, ports=[{"name": "a"}, {"name": "a"}]))
        self.assertEqual(code, 422)
        msg = out["message"]
        self.assertIn('spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"',
                      msg)
        self.assertIn('spec.color: Unsupported value: "green": supported values: "red", "blue"', msg)
        self.assertIn("spec.label: Too long: may not be more than 8 bytes", msg)
        self.assertIn("spec.label: Invalid value: \"TooLongName\": spec.label in body should match '^[a-z]+$'", msg)
        self.assertIn('spec.ports[1]: Duplicate value: {"name": "a"}', msg)
        self.assertIn("spec.port: Invalid value", msg)
        self.assertNotIn("spec.note", msg)  # nullable
        self.assertEqual(out["details"]["kind"], "Gizmo")
        self.assertEqual(out["details"]["group"], "example.dev")

    async def test_cel_rules_and_transition_rules(self) -> None:
        code, out, _ = await self.call("POST", NS, gizmo(size=20))
        self.assertEqual(code, 422)
        self.assertIn('spec: Invalid value: "object": size must not exceed maxSize', out["message"])
        code, out, _ = await self.call("POST", NS, gizmo(size=5))
        self.assertEqual(code, 201, out)
        code, out, _ = await self.call("PATCH", NS + "/g1", raw=b'{"spec":{"size":3}}', headers=MERGE)
        self.assertEqual(code, 422)
        self.assertIn('spec.size: Invalid value: "integer": size may not shrink', out["message"])
        code, out, _ = await self.call("PATCH", NS + "/g1", raw=b'{"spec":{"size":6}}', headers=MERGE)
        self.assertEqual((code, out["spec"]["size"], out["metadata"]["generation"]), (200, 6, 2))

    async def test_status_subresource(self) -> None:
        body = gizmo(size=2)
        body["status"] = {"phase": "ignored"}
        code, out, _ = await self.call("POST", NS, body)
        self.assertNotIn("status", out)
        code, out, _ = await self.call("PATCH", NS + "/g1/status", raw=b'{"status":{"phase":"Ready","replicas":2}}',
                                       headers=MERGE)
        self.assertEqual(code, 200, out)
        self.assertEqual(out["status"], {"phase": "Ready", "replicas": 2})
        self.assertEqual(out["metadata"]["generation"], 1)
        code, out, _ = await self.call("PATCH", NS + "/g1/status", raw=b'{"status":{"replicas":"x"}}',
                                       headers=MERGE)
        self.assertEqual(code, 422)

    async def test_scale_subresource(self) -> None:
        await self.call("POST", NS, gizmo(size=2))
        code, sc, _ = await self.call("GET", NS + "/g1/scale")
        self.assertEqual((code, sc["kind"], sc["apiVersion"], sc["spec"]), (200, "Scale", "autoscaling/v1",
                                                                             {"replicas": 2}))
        sc["spec"]["replicas"] = 4
        code, out, _ = await self.call("PUT", NS + "/g1/scale", sc)
        self.assertEqual((code, out["spec"]["replicas"]), (200, 4))
        code, obj, _ = await self.call("GET", NS + "/g1")
        self.assertEqual(obj["spec"]["size"], 4)
        code, out, _ = await self.call("PATCH", NS + "/g1/scale", raw=b'{"spec":{"replicas":1}}', headers=MERGE)
        self.assertEqual(code, 422)  # the CEL transition rule guards the spec through /scale too

    async def test_patch_types_and_content_types(self) -> None:
        await self.call("POST", NS, gizmo(size=2))
        code, out, _ = await self.call("PATCH", NS + "/g1", raw=b'{"spec":{"size":3}}',
                                       headers={"Content-Type": "application/strategic-merge-patch+json"})
        self.assertEqual(code, 415)
        self.assertEqual(out["message"], "the body of the request was in an unknown format - accepted media "
                                         "types include: application/json-patch+json, "
                                         "application/merge-patch+json, application/apply-patch+yaml")
        code, out, _ = await self.call("PATCH", NS + "/g1", raw=b'[{"op":"replace","path":"/spec/size","value":4}]',
                                       headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual((code, out["spec"]["size"]), (200, 4))
        code, out, _ = await self.call("GET", NS + "/g1", headers={"Accept": "application/vnd.kubernetes.protobuf"})
        self.assertEqual(code, 406)
        code, out, _ = await self.call("POST", NS, raw=b"k8s\x00junk",
                                       headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
        self.assertEqual(code, 415)
        code, out, _ = await self.call("GET", NS + "/g1", headers={
            "Accept": "application/vnd.kubernetes.protobuf, application/json"})
        self.assertEqual(code, 200)

    async def test_field_selectors_and_table(self) -> None:
        await self.call("POST", NS, gizmo("r", size=1, color="red"))
        await self.call("POST", NS, gizmo("b", size=2, color="blue"))
        code, lst, _ = await self.call("GET", NS + "?fieldSelector=spec.color%3Dred")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["r"])
        code, lst, _ = await self.call("GET", NS + "?fieldSelector=metadata.name%3Db")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["b"])
        code, out, _ = await self.call("GET", NS + "?fieldSelector=spec.size%3D1")
        self.assertEqual(code, 400)
        self.assertIn('field label not supported: spec.size', out["message"])
        code, tbl, _ = await self.call("GET", NS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
        self.assertEqual([c["name"] for c in tbl["columnDefinitions"]], ["Name", "Size", "Phase"])
        self.assertEqual([r["cells"] for r in tbl["rows"]], [["b", 2, "<none>"], ["r", 1, "<none>"]])

    async def test_dry_run_and_watch(self) -> None:
        stream = await self.open_stream(NS + "?watch=1&resourceVersion=0")
        code, out, _ = await self.call("POST", NS + "?dryRun=All", gizmo(size=1))
        self.assertEqual(code, 201)
        code, _, _ = await self.call("GET", NS + "/g1")
        self.assertEqual(code, 404)
        await self.call("POST", NS, gizmo(size=1))
        await self.call("DELETE", NS + "/g1")
        events = await stream.wait_events(2)
        self.assertEqual([(e["type"], e["object"]["kind"], e["object"]["spec"]["maxSize"]) for e in events],
                         [("ADDED", "Gizmo", 10), ("DELETED", "Gizmo", 10)])

    async def test_apply_creates_and_keys_lists(self) -> None:
        body = json.dumps(gizmo(size=1, ports=[{"name": "a"}])).encode()
        code, out, _ = await self.call("PATCH", NS + "/g1?fieldManager=me", raw=body,
                                       headers={"Content-Type": "application/apply-patch+yaml"})
        self.assertEqual(code, 201, out)
        self.assertEqual(out["spec"]["ports"], [{"name": "a", "number": 80}])
