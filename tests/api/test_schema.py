"""Schemas: upstream's generated ones, with the patch/list markers clients rely on (references
between definitions are followed as the registry follows them)."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest

from kubeapi.api import builtin_catalog
from kubeapi.registry.schemacheck import resolve
from tests.api.helpers import rdef


def at(schema: dict, *path: str) -> dict:
    cur: Any = resolve(schema)
    for p in path:
        cur = resolve(cur["items"] if p == "[]" else cur["properties"][p])
    return cur


def markers(s: dict) -> tuple:
    return (s.get("x-kubernetes-patch-merge-key"), s.get("x-kubernetes-patch-strategy"),
            s.get("x-kubernetes-list-type"), tuple(s.get("x-kubernetes-list-map-keys") or ()))


class SchemaMarkers(unittest.TestCase):
    def test_pod_spec_lists(self) -> None:
        pod = rdef("", "pods").schema
        assert pod is not None
        spec = at(pod, "spec")
        self.assertEqual(markers(at(spec, "containers")), ("name", "merge", "map", ("name",)))
        self.assertEqual(markers(at(spec, "initContainers")), ("name", "merge", "map", ("name",)))
        self.assertEqual(markers(at(spec, "volumes")), ("name", "merge,retainKeys", "map", ("name",)))
        self.assertEqual(markers(at(spec, "imagePullSecrets"))[:2], ("name", "merge"))
        self.assertEqual(markers(at(spec, "tolerations")), (None, None, "atomic", ()))
        self.assertEqual(markers(at(spec, "hostAliases"))[:2], ("ip", "merge"))
        c = at(spec, "containers", "[]")
        self.assertEqual(markers(at(c, "env")), ("name", "merge", "map", ("name",)))
        self.assertEqual(markers(at(c, "ports")),
                         ("containerPort", "merge", "map", ("containerPort", "protocol")))
        self.assertEqual(markers(at(c, "volumeMounts"))[:2], ("mountPath", "merge"))
        self.assertEqual(markers(at(pod, "status", "conditions"))[:2], ("type", "merge"))

    def test_metadata_and_service_ports(self) -> None:
        svc = rdef("", "services").schema
        assert svc is not None
        self.assertEqual(markers(at(svc, "spec", "ports"))[:2], ("port", "merge"))
        self.assertEqual(at(svc, "spec", "ports", "[]", "targetPort")["format"], "int-or-string")
        meta = at(svc, "metadata")
        self.assertEqual(markers(at(meta, "ownerReferences"))[:2], ("uid", "merge"))
        self.assertEqual(markers(at(meta, "finalizers"))[1:3], ("merge", "set"))

    def test_deployment_template_shares_pod_spec(self) -> None:
        d = rdef("apps", "deployments").schema
        assert d is not None
        self.assertEqual(markers(at(d, "spec", "template", "spec", "containers"))[:2], ("name", "merge"))
        self.assertEqual(at(d, "spec", "strategy")["x-kubernetes-patch-strategy"], "retainKeys")

    def test_every_kind_has_gvk_and_no_description(self) -> None:
        for r in builtin_catalog().all():
            assert r.schema is not None
            self.assertEqual(r.schema["x-kubernetes-group-version-kind"],
                             [{"group": r.group, "version": r.version, "kind": r.kind}])
            self.assertNotIn("description", r.schema, r.plural)  # facts only
            self.assertEqual(r.schema["type"], "object")
            self.assertIn("metadata", r.schema["properties"])

    def test_nested_types_are_modelled(self) -> None:
        pod = rdef("", "pods").schema
        assert pod is not None
        self.assertNotIn("x-kubernetes-preserve-unknown-fields", at(pod, "spec"))
        self.assertEqual(at(pod, "spec", "securityContext", "runAsUser")["format"], "int64")
        self.assertEqual(at(pod, "spec", "containers", "[]", "resources", "limits")["additionalProperties"],
                         {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"})
