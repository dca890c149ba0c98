"""/openapi/v2 as gnostic's protobuf: what kubectl 1.27/1.28 decode, checked by the protobuf runtime."""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
import yaml
from twisted.trial import unittest

from kubeapi.api import builtin_catalog
from kubeapi.openapi import OpenAPIDocs, doc_hash, encode_v2
from tests.openapi.fixtures import catalog
from tests.openapi.gnostic_proto import parse, unknown_field_paths


def _named(pairs: Any, name: str) -> Any:
    for p in pairs:
        if p.name == name:
            return p.value
    raise AssertionError(f"{name} not among {[p.name for p in pairs][:20]}")


def _ext(msg: Any, name: str) -> Any:
    """A vendor extension's value, read the way kube-openapi does: YAML-unmarshal Any.yaml."""
    return yaml.safe_load(_named(msg.vendor_extension, name).yaml)


@cache
def _builtin() -> tuple[OpenAPIDocs, bytes, Any]:
    """The built-in catalog's documents, encoded and decoded once for the whole class."""
    docs = OpenAPIDocs(builtin_catalog())
    pb = docs.v2_protobuf()
    return docs, pb, parse("Document", pb)


class BuiltinDocumentTests(unittest.TestCase):
    def setUp(self) -> None:
        self.docs, self.pb, self.doc = _builtin()

    def test_every_byte_is_described_and_reencodes_identically(self) -> None:
        self.assertEqual(unknown_field_paths(self.doc), [])
        self.assertEqual(self.doc.SerializeToString(deterministic=True), self.pb)

    def test_header_and_security(self) -> None:
        self.assertEqual(self.doc.swagger, "2.0")
        self.assertEqual(self.doc.info.title, "Kubernetes")
        bearer = _named(self.doc.security_definitions.additional_properties, "BearerToken")
        self.assertEqual(bearer.WhichOneof("oneof"), "api_key_security")
        key = bearer.api_key_security
        self.assertEqual((key.type, key.name, getattr(key, "in")), ("apiKey", "authorization", "header"))
        [req] = self.doc.security
        self.assertEqual([p.name for p in req.additional_properties], ["BearerToken"])
        self.assertEqual(list(req.additional_properties[0].value.value), [])

    def test_configmap_definition_with_gvk(self) -> None:
        cm = _named(self.doc.definitions.additional_properties, "io.k8s.api.core.v1.ConfigMap")
        self.assertEqual(list(cm.type.value), ["object"])
        self.assertEqual(_ext(cm, "x-kubernetes-group-version-kind"),
                         [{"group": "", "kind": "ConfigMap", "version": "v1"}])
        props = cm.properties.additional_properties
        self.assertEqual(_named(props, "metadata")._ref, "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        data = _named(props, "data")
        self.assertEqual(data.additional_properties.WhichOneof("oneof"), "schema")
        self.assertEqual(list(data.additional_properties.schema.type.value), ["string"])
        self.assertEqual(list(_named(props, "immutable").type.value), ["boolean"])

    def test_definitions_in_document_order(self) -> None:
        json_doc = orjson.loads(self.docs.v2())
        self.assertEqual([p.name for p in self.doc.definitions.additional_properties], list(json_doc["definitions"]))
        self.assertEqual([p.name for p in self.doc.paths.path], list(json_doc["paths"]))

    def test_patch_merge_key_on_containers(self) -> None:
        spec = _named(self.doc.definitions.additional_properties, "io.k8s.api.core.v1.PodSpec")
        containers = _named(spec.properties.additional_properties, "containers")
        self.assertEqual(list(containers.type.value), ["array"])
        self.assertEqual(_ext(containers, "x-kubernetes-patch-merge-key"), "name")
        self.assertEqual(_ext(containers, "x-kubernetes-patch-strategy"), "merge")
        self.assertEqual(_ext(containers, "x-kubernetes-list-map-keys"), ["name"])
        [item] = containers.items.schema
        self.assertEqual(item._ref, "#/definitions/io.k8s.api.core.v1.Container")
        container = _named(self.doc.definitions.additional_properties, "io.k8s.api.core.v1.Container")
        self.assertEqual(list(container.required), ["name"])
        self.assertEqual(list(_named(container.properties.additional_properties, "image").type.value), ["string"])

    def test_operation_parameters_and_responses(self) -> None:
        item = _named(self.doc.paths.path, "/api/v1/namespaces/{namespace}/configmaps")
        post = item.post
        self.assertEqual(post.operation_id, "createCoreV1NamespacedConfigMap")
        self.assertEqual(_ext(post, "x-kubernetes-action"), "post")
        self.assertEqual(_ext(post, "x-kubernetes-group-version-kind"),
                         {"group": "", "kind": "ConfigMap", "version": "v1"})
        body = post.parameters[0].parameter
        self.assertEqual(body.WhichOneof("oneof"), "body_parameter")
        self.assertEqual(body.body_parameter.schema._ref, "#/definitions/io.k8s.api.core.v1.ConfigMap")
        self.assertTrue(body.body_parameter.required)
        query = [p.parameter.non_body_parameter for p in post.parameters[1:]]
        self.assertTrue(query)
        self.assertTrue(all(q.WhichOneof("oneof") == "query_parameter_sub_schema" for q in query))
        self.assertIn("fieldManager", [q.query_parameter_sub_schema.name for q in query])
        [ns] = [p.parameter.non_body_parameter.path_parameter_sub_schema for p in item.parameters
                if p.parameter.non_body_parameter.path_parameter_sub_schema.name == "namespace"]
        self.assertTrue(ns.required)
        self.assertEqual(ns.type, "string")
        created = _named(post.responses.response_code, "201")
        self.assertEqual(created.response.schema.schema._ref, "#/definitions/io.k8s.api.core.v1.ConfigMap")
        unauthorized = _named(post.responses.response_code, "401")
        self.assertEqual(unauthorized.response.description, "Unauthorized")
        self.assertFalse(unauthorized.response.HasField("schema"))

    def test_cached_until_invalidated(self) -> None:
        self.assertIs(self.docs.v2_protobuf(), self.pb)
        self.assertEqual(self.docs.v2_etag(), doc_hash(self.docs.v2()))
        docs = OpenAPIDocs(catalog())
        first = docs.v2_protobuf()
        docs.invalidate()
        again = docs.v2_protobuf()
        self.assertIsNot(again, first)
        self.assertEqual(again, first)


class OneofAndProto3Tests(unittest.TestCase):
    """gnostic's mapping rules on hand-made documents."""

    def schema(self, node: dict[str, Any]) -> Any:
        doc = parse("Document", encode_v2({"definitions": {"t": node}}))
        self.assertEqual(unknown_field_paths(doc), [])
        return doc.definitions.additional_properties[0].value

    def test_additional_properties_false_is_written(self) -> None:
        s = self.schema({"type": "object", "additionalProperties": False})
        self.assertEqual(s.additional_properties.WhichOneof("oneof"), "boolean")
        self.assertFalse(s.additional_properties.boolean)
        self.assertEqual(self.schema({"additionalProperties": True}).additional_properties.boolean, True)

    def test_zero_values_are_left_out_empty_objects_kept(self) -> None:
        s = self.schema({"minimum": 0, "maxLength": 0, "uniqueItems": False, "format": "", "properties": {}})
        self.assertTrue(s.HasField("properties"))
        self.assertEqual(s.SerializeToString(), b"\xca\x01\x00")  # properties (25), empty
        s = self.schema({"minimum": 1.5, "maxLength": 63, "uniqueItems": True})
        self.assertEqual((s.minimum, s.max_length, s.unique_items), (1.5, 63, True))

    def test_free_form_values_become_yaml_any(self) -> None:
        s = self.schema({"type": ["string", "null"], "enum": ["a", 1, None], "default": {"k": [1, "two"]},
                         "example": "x", "allOf": [{"$ref": "#/definitions/u"}]})
        self.assertEqual(list(s.type.value), ["string", "null"])
        self.assertEqual([yaml.safe_load(a.yaml) for a in s.enum], ["a", 1, None])
        self.assertEqual(yaml.safe_load(s.default.yaml), {"k": [1, "two"]})
        self.assertEqual(yaml.safe_load(s.example.yaml), "x")
        self.assertEqual(s.all_of[0]._ref, "#/definitions/u")

    def test_keys_gnostic_has_no_field_for_are_dropped(self) -> None:
        s = self.schema({"anyOf": [{"type": "integer"}], "nullable": True, "x-kubernetes-int-or-string": True})
        self.assertEqual([e.name for e in s.vendor_extension], ["x-kubernetes-int-or-string"])
        self.assertEqual(s, self.schema({"x-kubernetes-int-or-string": True}))

    def test_parameter_and_response_oneofs(self) -> None:
        doc = parse("Document", encode_v2({"paths": {"/p": {
            "parameters": [{"$ref": "#/parameters/q"},
                           {"name": "h", "in": "header", "type": "string"},
                           {"name": "f", "in": "formData", "type": "file", "allowEmptyValue": True}],
            "get": {"responses": {"200": {"$ref": "#/responses/ok"}, "default": {"description": "d",
                    "schema": {"type": "file"}}, "x-note": 1}},
        }, "x-top": "v"}}))
        self.assertEqual(unknown_field_paths(doc), [])
        self.assertEqual(_ext(doc.paths, "x-top"), "v")
        ref, header, form = doc.paths.path[0].value.parameters
        self.assertEqual(ref.json_reference._ref, "#/parameters/q")
        self.assertEqual(header.parameter.non_body_parameter.header_parameter_sub_schema.name, "h")
        self.assertTrue(form.parameter.non_body_parameter.form_data_parameter_sub_schema.allow_empty_value)
        rs = doc.paths.path[0].value.get.responses
        self.assertEqual(_named(rs.response_code, "200").json_reference._ref, "#/responses/ok")
        self.assertEqual(_named(rs.response_code, "default").response.schema.WhichOneof("oneof"), "file_schema")
        self.assertEqual(_ext(rs, "x-note"), 1)
