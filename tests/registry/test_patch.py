"""PATCH bodies as kubectl and client libraries send them."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from twisted.trial import unittest

from kubeapi.errors import StatusError
from kubeapi.registry.patch import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
    apply_strategic_merge_patch,
    go_json_error_message,
    validate_patch_options,
)


def _merge_list(key: str, items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "x-kubernetes-patch-merge-key": key, "x-kubernetes-patch-strategy": "merge",
            "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key],
            "items": {"type": "object", "properties": items}}


STR = {"type": "string"}
PORT = {"containerPort": {"type": "integer"}, "name": STR, "protocol": STR}
CONTAINER = {
    "name": STR, "image": STR, "args": {"type": "array", "items": STR},
    "env": _merge_list("name", {"name": STR, "value": STR}),
    "ports": _merge_list("containerPort", PORT),
}
POD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": STR, "kind": STR,
        "metadata": {"type": "object", "properties": {
            "name": STR,
            "labels": {"type": "object", "additionalProperties": STR},
            "annotations": {"type": "object", "additionalProperties": STR},
            "finalizers": {"type": "array", "items": STR, "x-kubernetes-patch-strategy": "merge",
                           "x-kubernetes-list-type": "set"},
        }},
        "spec": {"type": "object", "properties": {
            "containers": _merge_list("name", CONTAINER),
            "nodeSelector": {"type": "object", "additionalProperties": STR},
            "volumes": {**_merge_list("name", {
                "name": STR, "emptyDir": {"type": "object"}, "hostPath": {"type": "object"}}),
                "x-kubernetes-patch-strategy": "merge,retainKeys"},
            "strategy": {"type": "object", "x-kubernetes-patch-strategy": "retainKeys", "properties": {
                "type": STR, "rollingUpdate": {"type": "object"}}},
            "tolerations": {"type": "array", "items": {"type": "object"}},
        }},
    },
}


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}, "finalizers": ["a", "b"]},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}],
                 "ports": [{"containerPort": 80}]},
                {"name": "side", "image": "busybox"},
            ],
            "tolerations": [{"key": "x"}],
        },
    }


def _raises(test: unittest.TestCase, code: int, fn: Any, *args: Any) -> StatusError:
    err = test.assertRaises(StatusError, fn, *args)
    test.assertEqual(err.code, code, err.message)
    return err


class JSONPatchTests(unittest.TestCase):
    def test_operations(self) -> None:
        doc = pod()
        out = apply_json_patch(doc, [
            {"op": "add", "path": "/metadata/labels/new~1key", "value": "v"},
            {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:2"},
            {"op": "remove", "path": "/metadata/labels/tier"},
            {"op": "add", "path": "/spec/containers/-", "value": {"name": "third"}},
            {"op": "copy", "from": "/metadata/name", "path": "/metadata/annotations"},
            {"op": "move", "from": "/metadata/annotations", "path": "/metadata/generateName"},
            {"op": "test", "path": "/metadata/generateName", "value": "p"},
            {"op": "add", "path": "/metadata/finalizers/0", "value": "z"},
            {"op": "add", "path": "/metadata/labels/t~0ilde", "value": "1"},
        ])
        self.assertEqual(out["metadata"]["labels"], {"app": "web", "new/key": "v", "t~ilde": "1"})
        self.assertEqual(out["spec"]["containers"][0]["image"], "nginx:2")
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["app", "side", "third"])
        self.assertEqual(out["metadata"]["generateName"], "p")
        self.assertNotIn("annotations", out["metadata"])
        self.assertEqual(out["metadata"]["finalizers"], ["z", "a", "b"])
        self.assertEqual(doc, pod(), "input must not change")

    def test_failing_test_op_is_422_without_details(self) -> None:
        err = _raises(self, 422, apply_json_patch, pod(), [{"op": "test", "path": "/metadata/name",
                                                             "value": "other"}])
        self.assertEqual(err.reason, "Invalid")
        self.assertEqual(err.message, "the server rejected our request due to an error in our request")

    def test_missing_paths_are_422(self) -> None:
        for op in ({"op": "remove", "path": "/metadata/nope"},
                   {"op": "replace", "path": "/spec/nope", "value": 1},
                   {"op": "add", "path": "/nope/deeper", "value": 1},
                   {"op": "add", "path": "/spec/containers/9", "value": {}},
                   {"op": "bogus", "path": "/x"}):
            _raises(self, 422, apply_json_patch, pod(), [op])

    def test_body_not_a_list_is_400(self) -> None:
        err = _raises(self, 400, apply_json_patch, pod(), {"op": "add"})
        self.assertEqual(err.message, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")

    def test_too_many_operations_is_413(self) -> None:
        ops = [{"op": "test", "path": "/kind", "value": "Pod"}] * 10001
        err = _raises(self, 413, apply_json_patch, pod(), ops)
        self.assertIn("got 10001", err.message)

    def test_malformed_body_is_400_with_go_wording(self) -> None:
        err = _raises(self, 400, apply_patch, pod(), JSON_PATCH, b"[{", POD_SCHEMA)
        self.assertEqual(err.reason, "BadRequest")
        self.assertEqual(err.message, "unexpected end of JSON input")
        self.assertEqual(go_json_error_message(b"{x}"),
                         "invalid character 'x' looking for beginning of object key string")
        self.assertEqual(go_json_error_message(b"x"), "invalid character 'x' looking for beginning of value")
        self.assertEqual(go_json_error_message(b'{"a" 1}'), "invalid character '1' after object key")
        self.assertEqual(go_json_error_message(b"[1 2]"), "invalid character '2' after array element")
        self.assertEqual(go_json_error_message(b"{} x"), "invalid character 'x' after top-level value")


class MergePatchTests(unittest.TestCase):
    def test_rfc7386(self) -> None:
        out = apply_merge_patch(pod(), {"metadata": {"labels": {"tier": None, "x": "y"}},
                                        "spec": {"tolerations": None, "new": {"a": None, "b": 1}}})
        self.assertEqual(out["metadata"]["labels"], {"app": "web", "x": "y"})
        self.assertNotIn("tolerations", out["spec"])
        self.assertEqual(out["spec"]["new"], {"b": 1})
        # Lists are replaced wholesale.
        out = apply_merge_patch(pod(), {"spec": {"containers": [{"name": "only"}]}})
        self.assertEqual(out["spec"]["containers"], [{"name": "only"}])

    def test_malformed_merge_patch(self) -> None:
        err = _raises(self, 400, apply_patch, pod(), MERGE_PATCH, b"{nope", POD_SCHEMA)
        self.assertEqual(err.message, "Invalid JSON Patch")

    def test_content_type_parameters_are_ignored(self) -> None:
        out = apply_patch(pod(), MERGE_PATCH + "; charset=utf-8", b'{"metadata":{"labels":null}}', None)
        self.assertNotIn("labels", out["metadata"])


class StrategicMergePatchTests(unittest.TestCase):
    def smp(self, patch: dict[str, Any], doc: dict[str, Any] | None = None) -> dict[str, Any]:
        return apply_strategic_merge_patch(doc or pod(), patch, POD_SCHEMA)

    def test_containers_merge_by_name_and_keep_order(self) -> None:
        out = self.smp({"spec": {"containers": [{"name": "side", "image": "busybox:2"},
                                                {"name": "new", "image": "x"}]}})
        self.assertEqual([(c["name"], c["image"]) for c in out["spec"]["containers"]],
                         [("app", "nginx:1"), ("side", "busybox:2"), ("new", "x")])
        self.assertEqual(out["spec"]["containers"][0]["env"], [{"name": "A", "value": "1"}])

    def test_nested_merge_lists(self) -> None:
        out = self.smp({"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}],
                                                 "ports": [{"containerPort": 80, "name": "http"}]}]}})
        c = out["spec"]["containers"][0]
        # Upstream's order: an item only the patch has goes before live-only items.
        self.assertEqual(c["env"], [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])
        self.assertEqual(c["ports"], [{"containerPort": 80, "name": "http"}])

    def test_non_merge_lists_are_replaced(self) -> None:
        out = self.smp({"spec": {"tolerations": [{"key": "y"}], "containers": [{"name": "app", "args": ["a"]}]}})
        self.assertEqual(out["spec"]["tolerations"], [{"key": "y"}])
        out = self.smp({"spec": {"containers": [{"name": "app", "args": ["b"]}]}}, out)
        self.assertEqual(out["spec"]["containers"][0]["args"], ["b"])

    def test_null_deletes_key(self) -> None:
        # kubectl label app- / annotate
        out = self.smp({"metadata": {"labels": {"app": None, "new": "1"}}})
        self.assertEqual(out["metadata"]["labels"], {"tier": "fe", "new": "1"})
        out = self.smp({"spec": {"containers": [{"name": "app", "image": None}]}})
        self.assertNotIn("image", out["spec"]["containers"][0])

    def test_delete_directive_in_list(self) -> None:
        out = self.smp({"spec": {"containers": [{"name": "side", "$patch": "delete"}]}})
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["app"])

    def test_replace_directive_in_list_and_map(self) -> None:
        out = self.smp({"spec": {"containers": [{"name": "solo", "image": "i"}, {"$patch": "replace"}]}})
        self.assertEqual(out["spec"]["containers"], [{"name": "solo", "image": "i"}])
        out = self.smp({"metadata": {"labels": {"only": "this", "$patch": "replace"}}})
        self.assertEqual(out["metadata"]["labels"], {"only": "this"})

    def test_delete_directive_on_map(self) -> None:
        out = self.smp({"metadata": {"labels": {"$patch": "delete"}}})
        self.assertEqual(out["metadata"]["labels"], {})

    def test_unknown_directive_is_an_error(self) -> None:
        _raises(self, 500, self.smp, {"metadata": {"labels": {"$patch": "frobnicate"}}})

    def test_primitive_merge_list_is_unioned(self) -> None:
        out = self.smp({"metadata": {"finalizers": ["b", "c"]}})
        self.assertEqual(sorted(out["metadata"]["finalizers"]), ["a", "b", "c"])
        self.assertEqual(len(out["metadata"]["finalizers"]), 3)

    def test_delete_from_primitive_list(self) -> None:
        out = self.smp({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
        self.assertEqual(out["metadata"]["finalizers"], ["b"])

    def test_set_element_order(self) -> None:
        # What kubectl apply sends after reordering containers.
        out = self.smp({"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
                                 "containers": [{"name": "app", "image": "nginx:3"}]}})
        self.assertEqual([(c["name"], c["image"]) for c in out["spec"]["containers"]],
                         [("side", "busybox"), ("app", "nginx:3")])
        self.assertNotIn("$setElementOrder/containers", out["spec"])

    def test_retain_keys(self) -> None:
        doc = pod()
        doc["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
        out = self.smp({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, doc)
        self.assertEqual(out["spec"]["strategy"], {"type": "Recreate"})
        doc["spec"]["volumes"] = [{"name": "v", "emptyDir": {}}]
        out = self.smp({"spec": {"volumes": [{"name": "v", "hostPath": {"path": "/x"},
                                              "$retainKeys": ["name", "hostPath"]}]}}, doc)
        self.assertEqual(out["spec"]["volumes"], [{"name": "v", "hostPath": {"path": "/x"}}])

    def test_retain_keys_must_cover_patch(self) -> None:
        doc = pod()
        doc["spec"]["strategy"] = {"type": "Recreate"}
        err = _raises(self, 400, self.smp, {"spec": {"strategy": {"$retainKeys": ["type"], "x": "y"}}}, doc)
        self.assertEqual(err.message, "invalid patch format of retainKeys")

    def test_missing_merge_key_is_an_error(self) -> None:
        _raises(self, 500, self.smp, {"spec": {"containers": [{"image": "x"}]}})

    def test_new_map_with_nulls_and_directives(self) -> None:
        out = self.smp({"spec": {"nodeSelector": {"a": "1", "b": None}}})
        self.assertEqual(out["spec"]["nodeSelector"], {"a": "1"})

    def test_kubectl_scale_and_edit_shapes(self) -> None:
        out = apply_patch(pod(), STRATEGIC_MERGE_PATCH, b'{"spec":{"replicas":3}}', POD_SCHEMA)
        self.assertEqual(out["spec"]["replicas"], 3)
        body = orjson.dumps({"metadata": {"annotations": {"note": "x"}},
                             "spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
                                      "containers": [{"name": "side", "image": "bb:2"}]}})
        out = apply_patch(pod(), STRATEGIC_MERGE_PATCH, body, POD_SCHEMA)
        self.assertEqual([c["image"] for c in out["spec"]["containers"]], ["nginx:1", "bb:2"])

    def test_strategic_needs_a_schema(self) -> None:
        err = _raises(self, 415, apply_patch, pod(), STRATEGIC_MERGE_PATCH, b"{}", None)
        self.assertEqual(err.reason, "UnsupportedMediaType")
        self.assertIn("application/json-patch+json, application/merge-patch+json, "
                      "application/apply-patch+yaml", err.message)
        _raises(self, 415, apply_patch, pod(), "text/plain", b"{}", POD_SCHEMA)
        # CRDs carry a schema but still refuse strategic merge, as upstream.
        err = self.assertRaises(StatusError, apply_patch, pod(), STRATEGIC_MERGE_PATCH, b"{}", POD_SCHEMA,
                                allow_strategic=False)
        self.assertEqual(err.code, 415)
        self.assertEqual(apply_patch(pod(), STRATEGIC_MERGE_PATCH, b"{}", POD_SCHEMA), pod())

    def test_no_mutation_of_inputs(self) -> None:
        doc, patch = pod(), {"spec": {"containers": [{"name": "app", "image": "z"}]}}
        before = (copy.deepcopy(doc), copy.deepcopy(patch))
        self.smp(patch, doc)
        self.assertEqual((doc, patch), before)


class ApplyTests(unittest.TestCase):
    def test_apply_merges_by_list_map_keys(self) -> None:
        body = (b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    added: 'yes'\n"
                b"spec:\n  containers:\n  - name: app\n    image: nginx:9\n")
        out = apply_patch(pod(), APPLY_PATCH, body, POD_SCHEMA)
        self.assertEqual(out["metadata"]["labels"], {"app": "web", "tier": "fe", "added": "yes"})
        self.assertEqual([(c["name"], c["image"]) for c in out["spec"]["containers"]],
                         [("app", "nginx:9"), ("side", "busybox")])

    def test_apply_creates(self) -> None:
        out = apply_patch(None, APPLY_PATCH, b"kind: Pod\napiVersion: v1\nmetadata: {name: q}\n", POD_SCHEMA)
        self.assertEqual(out, {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "q"}})

    def test_bad_yaml_is_400(self) -> None:
        err = _raises(self, 400, apply_patch, pod(), APPLY_PATCH, b"a: [", POD_SCHEMA)
        self.assertTrue(err.message.startswith("error decoding YAML: "))

    def test_patch_options(self) -> None:
        err = self.assertRaises(StatusError, validate_patch_options, APPLY_PATCH, "")
        self.assertEqual(err.code, 422)
        self.assertEqual(err.message, 'PatchOptions.meta.k8s.io "" is invalid: '
                                      "fieldManager: Required value: is required for apply patch")
        err = self.assertRaises(StatusError, validate_patch_options, MERGE_PATCH, "", True)
        self.assertIn("force: Forbidden: may not be specified for non-apply patch", err.message)
        validate_patch_options(APPLY_PATCH, "kubectl")
        validate_patch_options(MERGE_PATCH, "")
