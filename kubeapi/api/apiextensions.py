"""apiextensions.k8s.io/v1: CustomResourceDefinition, stored and served (behaviour hooks;
structure is generated).  Serving the custom resources themselves is the CRD issue's work."""

from __future__ import annotations

from kubeapi.api import facts
from kubeapi.api.plain import storage_path
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    get,
    invalid,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "apiextensions.k8s.io"


def validate_crd(crd: Obj) -> list[FieldError]:
    errs = validate_object_meta(crd, namespaced=False)
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    if not group:
        errs.append(required("spec.group"))
    if not names.get("plural"):
        errs.append(required("spec.names.plural"))
    if not names.get("kind"):
        errs.append(required("spec.names.kind"))
    expected = f"{names.get('plural', '')}.{group}"
    if names.get("plural") and group and get(crd, "metadata.name") != expected:
        errs.append(invalid("metadata.name", get(crd, "metadata.name"),
                            "must be spec.names.plural+\".\"+spec.group"))
    if spec.get("scope") not in ("Cluster", "Namespaced"):
        errs.append(FieldError("FieldValueNotSupported", "spec.scope", "", spec.get("scope", ""), True)
                    if spec.get("scope") else required("spec.scope"))
    versions = spec.get("versions") or []
    if not versions:
        errs.append(required("spec.versions", "must have exactly one version marked as storage version"))
    elif sum(1 for v in versions if (v or {}).get("storage")) != 1:
        errs.append(invalid("spec.versions", versions, "must have exactly one version marked as storage version"))
    return errs


def default_crd(crd: Obj) -> None:
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind") and not names.get("singular"):
        names["singular"] = str(names["kind"]).lower()
    if names.get("kind") and not names.get("listKind"):
        names["listKind"] = f"{names['kind']}List"
    spec.setdefault("conversion", {"strategy": "None"})


RESOURCES: list[ResourceDef] = [
    facts.resource(GROUP, "v1", "customresourcedefinitions", columns=(),
                   default=default_crd, validate=validate_crd, validate_update=validate_object_meta_update,
                   storage_path=storage_path(GROUP, "customresourcedefinitions"), has_generation=True),
]
