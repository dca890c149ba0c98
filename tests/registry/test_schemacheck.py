"""Type checks and unknown-field handling against a kind's schema."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest

from kubeapi.registry.schemacheck import (
    check_types,
    decode_error_message,
    prune,
    strict_decoding_message,
    strict_errors,
    unknown_fields,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"type": "object", "properties": {
            "name": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer", "format": "int32"},
            "paused": {"type": "boolean"},
            "ratio": {"type": "number"},
            "port": {"x-kubernetes-int-or-string": True},
            "template": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "containers": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "args": {"type": "array", "items": {"type": "string"}}}}},
            "opaque": {"type": "object"},
        }},
    },
}


class CheckTypesTests(unittest.TestCase):
    def test_good_object(self) -> None:
        obj = {"spec": {"replicas": 3, "paused": False, "ratio": 1, "port": "http",
                        "containers": [{"name": "a", "args": ["x"]}], "template": {"anything": [1]}},
               "metadata": {"labels": {"a": "b"}}}
        self.assertEqual(check_types(obj, SCHEMA), [])
        self.assertEqual(check_types({"spec": {"port": 8080, "replicas": None}}, SCHEMA), [])

    def test_wrong_types(self) -> None:
        obj = {"spec": {"replicas": "three", "paused": "yes", "port": True,
                        "containers": [{"name": 5, "args": "x"}]},
               "metadata": {"labels": {"a": 1}}}
        errs = {e.field: e for e in check_types(obj, SCHEMA)}
        self.assertEqual(sorted(errs), ["metadata.labels.a", "spec.containers[0].args",
                                        "spec.containers[0].name", "spec.paused", "spec.port", "spec.replicas"])
        e = errs["spec.replicas"]
        self.assertEqual(e.type, "FieldValueTypeInvalid")
        self.assertEqual(e.message(), 'spec.replicas: Invalid value: "string": '
                                      'spec.replicas in body must be of type integer: "string"')

    def test_builtin_decode_wording(self) -> None:
        [err] = check_types({"spec": {"replicas": "three"}}, SCHEMA)
        self.assertEqual(decode_error_message(err, "Deployment"),
                         "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas "
                         "of type int32")


class UnknownFieldTests(unittest.TestCase):
    OBJ = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "bogus": 1},
           "spec": {"replicas": 1, "foo": 2, "template": {"free": 1}, "opaque": {"free": 2},
                    "containers": [{"name": "c", "extra": True}]},
           "top": 1}

    def test_unknown_paths(self) -> None:
        self.assertEqual(unknown_fields(self.OBJ, SCHEMA),
                         ["metadata.bogus", "spec.foo", "spec.containers[0].extra", "top"])

    def test_prune(self) -> None:
        out = prune(self.OBJ, SCHEMA)
        self.assertEqual(out, {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"},
                               "spec": {"replicas": 1, "template": {"free": 1}, "opaque": {"free": 2},
                                        "containers": [{"name": "c"}]}})
        self.assertIn("top", self.OBJ, "prune must copy")

    def test_messages(self) -> None:
        texts = strict_errors(["spec.dup"], ["spec.foo", "top", "top"], ['line 3: key "a" already set in map'])
        self.assertEqual(texts, ['line 3: key "a" already set in map', 'duplicate field "spec.dup"',
                                 'unknown field "spec.foo"', 'unknown field "top"'])
        self.assertEqual(strict_decoding_message(texts), (
            'strict decoding error: yaml: unmarshal errors:\n  line 3: key "a" already set in map, '
            'duplicate field "spec.dup", unknown field "spec.foo", unknown field "top"'))
        self.assertEqual(len(strict_errors([], [f"f{i}" for i in range(150)])), 100)
