"""Structural checks, pruning, defaulting, value validation, JSONPath and the CEL library."""

from __future__ import annotations

from twisted.trial import unittest

from kubeapi.apiextensions import jsonpath, rules, structural, values
from kubeapi.cel import CompileError, compile_rule


class StructuralTests(unittest.TestCase):
    def messages(self, schema: dict) -> list[str]:
        return [e.message() for e in structural.check(schema, "s")]

    def test_root_rules(self) -> None:
        self.assertEqual(self.messages({"type": "string"}), ['s.type: Invalid value: "string": must be object at the root'])
        self.assertEqual(self.messages({}), ["s.type: Required value: must not be empty at the root"])
        self.assertIn("s.additionalProperties: Forbidden: must not be used at the root",
                      self.messages({"type": "object", "additionalProperties": {"type": "string"}}))

    def test_metadata_and_items(self) -> None:
        msgs = self.messages({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "list": {"type": "array"},
            "items": {"type": "array", "items": {}}}})
        self.assertIn("s.properties[metadata]: Forbidden: must not specify anything other than name and "
                      "generateName, but metadata is implicitly specified", msgs)
        self.assertIn("s.properties[list].items: Required value: must be specified", msgs)
        self.assertIn("s.properties[items].items.type: Required value: must not be empty for specified array items",
                      msgs)

    def test_int_or_string_and_list_maps(self) -> None:
        ok = {"type": "object", "properties": {"p": {"x-kubernetes-int-or-string": True,
                                                     "anyOf": [{"type": "integer"}, {"type": "string"}]}}}
        self.assertEqual(self.messages(ok), [])
        bad = {"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map",
                                                      "items": {"type": "object", "properties": {}}}}}
        self.assertIn("s.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if "
                      "x-kubernetes-list-type is map", self.messages(bad))


class ValueTests(unittest.TestCase):
    SCHEMA = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "a": {"type": "integer", "default": 3},
            "o": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"x": {"type": "string"}}},
            "m": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "d": {"type": "string", "default": "z"}}}},
        }}}}

    def test_prune_keeps_meta_of_embedded_and_root(self) -> None:
        obj = {"apiVersion": "v", "kind": "K", "metadata": {"name": "n"},
               "spec": {"zz": 1, "o": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "y": 2},
                        "m": {"k": {"q": 1}}}}
        pruned = values.prune(obj, self.SCHEMA)
        self.assertEqual(sorted(pruned), ["spec.m.k.q", "spec.o.y", "spec.zz"])
        self.assertEqual(obj["spec"]["o"], {"apiVersion": "v1", "kind": "Pod", "metadata": {}})

    def test_defaults_reach_map_values(self) -> None:
        obj = {"spec": {"m": {"k": {}}, "a": None}}
        values.apply_defaults(obj, self.SCHEMA)
        self.assertEqual(obj["spec"], {"a": 3, "m": {"k": {"d": "z"}}})

    def test_embedded_resources_need_type_meta(self) -> None:
        errs = [e.message() for e in values.validate({"spec": {"o": {"kind": "", "x": "y"}}}, self.SCHEMA)]
        self.assertEqual(errs, ["spec.o.apiVersion: Required value", 'spec.o.kind: Invalid value: "": must not be empty'])

    def test_messages(self) -> None:
        schema = {"type": "object", "properties": {"spec": {"type": "object", "required": ["r"], "properties": {
            "n": {"type": "integer", "maximum": 5, "exclusiveMaximum": True},
            "l": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
            "r": {"type": "string"}}}}}
        errs = [e.message() for e in values.validate({"spec": {"n": 5, "l": ["a", "b"]}}, schema)]
        self.assertEqual(errs, ["spec.r: Required value",
                                "spec.n: Invalid value: 5: spec.n in body should be less than 5",
                                "spec.l: Too many: 2: must have at most 1 items"])


class CELTests(unittest.TestCase):
    def test_library_functions(self) -> None:
        schema = {"type": "object", "properties": {"l": {"type": "array", "items": {"type": "integer"}},
                                                   "s": {"type": "string"}}}
        for rule, want in [("self.l.isSorted()", True), ("self.l.sum() == 6", True), ("self.l.max() == 3", True),
                           ("self.s.lowerAscii() == 'abc'", True), ("self.s.split('B').size() == 2", True),
                           ("self.l.indexOf(2) == 1", True), ("self.s.matches('^A')", True)]:
            self.assertEqual(bool(compile_rule(rule, schema).evaluate({"l": [1, 2, 3], "s": "ABc"})), want, rule)

    def test_compile_errors(self) -> None:
        with self.assertRaises(CompileError):
            compile_rule("self.l ==", {})
        with self.assertRaises(CompileError):
            compile_rule("self.nope == 1", {"type": "object", "properties": {"l": {"type": "string"}}})

    def test_transition_rules_follow_map_keys(self) -> None:
        schema = {"type": "object", "properties": {"l": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
            "items": {"type": "object", "properties": {"k": {"type": "string"}, "v": {"type": "integer"}},
                      "x-kubernetes-validations": [{"rule": "self.v >= oldSelf.v", "message": "no shrinking"}]}}}}
        node, errs = rules.compile_schema(schema, "")
        self.assertEqual(errs, [])
        old = {"l": [{"k": "a", "v": 2}, {"k": "b", "v": 1}]}
        new = {"l": [{"k": "b", "v": 5}, {"k": "a", "v": 1}, {"k": "c", "v": 0}]}
        self.assertEqual([e.message() for e in rules.validate(node, new, old)],
                         ['l[1]: Invalid value: "object": no shrinking'])
        self.assertEqual(rules.validate(node, new), [])


class JSONPathTests(unittest.TestCase):
    def test_paths(self) -> None:
        obj = {"status": {"conditions": [{"type": "A", "status": "x"}, {"type": "Ready", "status": "True"}]},
               "metadata": {"labels": {"a.b/c": "v"}}, "l": [1, 2]}
        self.assertEqual(jsonpath.first(obj, jsonpath.parse('.status.conditions[?(@.type=="Ready")].status')),
                         "True")
        self.assertEqual(jsonpath.first(obj, jsonpath.parse(".metadata.labels['a.b/c']")), "v")
        self.assertEqual(jsonpath.find(obj, jsonpath.parse(".l[*]")), [1, 2])
        self.assertEqual(jsonpath.first(obj, jsonpath.parse(".l[1]")), 2)
