"""Small catalogs for the OpenAPI tests: a pod-like core kind, a cluster-scoped kind and
an apps-like kind with status and scale."""

from __future__ import annotations

from typing import Any

from kubeapi.api.types import Catalog, ResourceDef, ScaleSpec

STR = {"type": "string"}


def pod_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A group of containers.",
        "properties": {
            "apiVersion": STR, "kind": STR, "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {
                "containers": {"type": "array", "x-kubernetes-patch-merge-key": "name",
                               "x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "map",
                               "x-kubernetes-list-map-keys": ["name"],
                               "items": {"type": "object", "required": ["name"], "properties": {
                                   "name": STR, "image": STR}}},
                "nodeName": STR,
            }},
            "status": {"type": "object", "properties": {"phase": STR}},
        },
    }


def catalog() -> Catalog:
    return Catalog([
        ResourceDef("", "v1", "Pod", "pods", "pod", True, short_names=("po",),
                    subresources=("status", "log", "exec"), schema=pod_schema(), has_status=True),
        ResourceDef("", "v1", "Namespace", "namespaces", "namespace", False,
                    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
                    schema={"type": "object", "properties": {"spec": {"type": "object"}}}),
        ResourceDef("apps", "v1", "Deployment", "deployments", "deployment", True,
                    subresources=("status", "scale"), scale=ScaleSpec(),
                    schema={"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                        "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
                    }}),
        ResourceDef("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", True),
        ResourceDef("stable.example.com", "v1", "CronTab", "crontabs", "crontab", True),
    ])
