"""How a CRD's schema is published: the shapes kube-apiserver v1.34 serves for the same CRDs
(compared side by side, descriptions aside), in both documents."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest

from kubeapi.openapi.crd_schema import published

V2 = "#/definitions/"
V3 = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _plain(node: object) -> object:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _type_meta(prefix: str) -> dict[str, object]:
    ref = {"$ref": prefix + META}
    return {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "metadata": {"allOf": [ref]} if prefix == V3 else ref}


NESTED: dict[str, Any] = {
    "type": "object", "required": ["spec", "st"],
    "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                 "properties": {"dummy": {"type": "object"}}},
        "nul": {"type": "string", "nullable": True},
        "arr": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "anyarr": {"type": "array", "x-kubernetes-preserve-unknown-fields": True, "items": {"type": "string"}},
        "io": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "st": {"type": "object", "required": ["a", "b"],
               "properties": {"a": {"type": "string", "nullable": True}, "b": {"type": "string", "default": "x"}}},
        "emb": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"spec": {"type": "object"}}},
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}},
    },
}


class PublishedTests(unittest.TestCase):
    def test_open_root(self) -> None:
        schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                  "description": "anything", "properties": {"spec": {"type": "object"}}}
        self.assertEqual(published(schema, V2), {"type": "object"})
        got = published(schema, V3)
        self.assertEqual(_plain(got), {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                       "properties": {"spec": {"type": "object"}, **_type_meta(V3)}})
        self.assertEqual(got["description"], "anything")
        self.assertTrue(got["properties"]["apiVersion"]["description"].startswith("APIVersion defines"))

    def test_v2_drops_what_kubectl_cannot_check(self) -> None:
        got = published(NESTED, V2)
        emb = {"type": "object", "x-kubernetes-embedded-resource": True, "required": ["kind", "apiVersion"],
               "properties": {"spec": {"type": "object"}, **_type_meta(V2)}}
        self.assertEqual(_plain(got), {"type": "object", "required": ["spec", "st"], "properties": {
            "spec": {"x-kubernetes-preserve-unknown-fields": True},
            "nul": {},
            "arr": {"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": True}},
            "anyarr": {"x-kubernetes-preserve-unknown-fields": True},
            "io": {"x-kubernetes-int-or-string": True},
            "st": {"type": "object", "required": ["b"], "properties": {"a": {}, "b": {"type": "string"}}},
            "emb": emb,
            **_type_meta(V2),
        }})

    def test_v3_keeps_the_schema_and_adds_type_meta(self) -> None:
        got = published(NESTED, V3)
        want = {k: v for k, v in NESTED["properties"].items() if k not in ("metadata", "emb")}
        props = got["properties"]
        self.assertEqual({k: props[k] for k in want}, want)
        self.assertEqual(_plain(props["metadata"]), {"allOf": [{"$ref": V3 + META}]})
        self.assertEqual(props["emb"]["required"], ["kind", "apiVersion"])
        self.assertEqual(_plain(props["emb"]["properties"]), {"spec": {"type": "object"}, **_type_meta(V3)})
        self.assertEqual(NESTED["properties"]["st"]["required"], ["a", "b"])
