"""The behaviour every built-in kind gets when its group's hooks module says nothing more:
object-meta validation, name immutability, upstream's storage key layout."""

from __future__ import annotations

from typing import Any

from kubeapi.api import facts
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import validate_object_meta, validate_object_meta_update

# Key segments under --etcd-prefix where upstream does not use the plural
# (test/integration/etcd/data.go of v1.34 lists every resource's path).
STORAGE_PATHS: dict[tuple[str, str], str] = {
    ("networking.k8s.io", "ingresses"): "ingress",
    ("apiregistration.k8s.io", "apiservices"): "apiregistration.k8s.io/apiservices",
    ("apiextensions.k8s.io", "customresourcedefinitions"): "apiextensions.k8s.io/customresourcedefinitions",
}


def storage_path(group: str, plural: str) -> str:
    return STORAGE_PATHS.get((group, plural), "")


def _meta_validator(namespaced: bool) -> Any:
    def validate(obj: Obj) -> list[FieldError]:
        return validate_object_meta(obj, namespaced=namespaced)
    return validate


def resource(group: str, version: str, plural: str, **hooks: Any) -> ResourceDef:
    """``facts.resource`` with the plain defaults filled in (hooks override them)."""
    fact = facts.resource(group, version, plural)
    base: dict[str, Any] = {
        "validate": _meta_validator(fact.namespaced),
        "validate_update": validate_object_meta_update,
        "storage_path": storage_path(group, plural),
    }
    if "status" in fact.subresources or "spec" in ((fact.schema or {}).get("properties") or {}):
        base["has_generation"] = "spec" in ((fact.schema or {}).get("properties") or {})
    base.update(hooks)
    return facts.resource(group, version, plural, **base)
