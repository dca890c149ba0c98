"""rbac.authorization.k8s.io/v1: roles, clusterroles and their bindings (behaviour hooks;
structure is generated).  The RBAC authorizer reads these objects from storage."""

from __future__ import annotations

from typing import Any

from kubeapi.api import facts
from kubeapi.api.printing import age_col, col, name_col, wide
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    invalid,
    not_supported,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "rbac.authorization.k8s.io"


def _validate_rules(rules: Any, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules or []):
        if not isinstance(rule, dict):
            continue
        p = f"rules[{i}]"
        if not rule.get("verbs"):
            errs.append(required(f"{p}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                errs.append(invalid(f"{p}.nonResourceURLs", urls,
                                    "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.append(invalid(f"{p}.nonResourceURLs", urls,
                                    "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errs.append(required(f"{p}.apiGroups", "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            errs.append(required(f"{p}.resources", "resource rules must supply at least one resource"))
    return errs


def _role_validator(namespaced: bool) -> Any:
    def validate(role: Obj) -> list[FieldError]:
        return validate_object_meta(role, namespaced=namespaced) + _validate_rules(role.get("rules"), namespaced)
    return validate


def default_binding(b: Obj) -> None:
    ref = b.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for s in b.get("subjects") or []:
        if isinstance(s, dict) and not s.get("apiGroup") and s.get("kind") in ("User", "Group"):
            s["apiGroup"] = GROUP


def _binding_validator(namespaced: bool) -> Any:
    kinds = ("ClusterRole", "Role") if namespaced else ("ClusterRole",)

    def validate(b: Obj) -> list[FieldError]:
        errs = validate_object_meta(b, namespaced=namespaced)
        ref = b.get("roleRef") or {}
        if ref.get("apiGroup") != GROUP:
            errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), (GROUP,)))
        if ref.get("kind") not in kinds:
            errs.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
        if not ref.get("name"):
            errs.append(required("roleRef.name"))
        for i, s in enumerate(b.get("subjects") or []):
            if not isinstance(s, dict):
                continue
            p = f"subjects[{i}]"
            if not s.get("name"):
                errs.append(required(f"{p}.name"))
            kind = s.get("kind")
            if kind == "ServiceAccount":
                if s.get("apiGroup"):
                    errs.append(not_supported(f"{p}.apiGroup", s["apiGroup"], ("",)))
                if not namespaced and not s.get("namespace"):
                    errs.append(required(f"{p}.namespace"))
            elif kind in ("User", "Group"):
                if s.get("apiGroup") != GROUP:
                    errs.append(not_supported(f"{p}.apiGroup", s.get("apiGroup", ""), (GROUP,)))
            else:
                errs.append(not_supported(f"{p}.kind", kind or "", ("ServiceAccount", "User", "Group")))
        return errs
    return validate


def validate_binding_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if new.get("roleRef") != old.get("roleRef"):
        errs.append(invalid("roleRef", new.get("roleRef"), "cannot change roleRef"))
    return errs


def _subjects(kind: str) -> Any:
    def cell(b: Obj) -> str:
        out = []
        for s in b.get("subjects") or []:
            if s.get("kind") != kind:
                continue
            out.append(f"{s.get('namespace', '')}/{s.get('name', '')}" if kind == "ServiceAccount"
                       else s.get("name", ""))
        return ", ".join(out)
    return cell


BINDING_COLUMNS = (
    name_col(),
    col("Role", "string", lambda b: f"{(b.get('roleRef') or {}).get('kind', '')}/"
                                    f"{(b.get('roleRef') or {}).get('name', '')}", "RoleRef is the role "
                                    "being bound"),
    age_col(),
    wide("Users", "string", _subjects("User"), "Users in the binding"),
    wide("Groups", "string", _subjects("Group"), "Groups in the binding"),
    wide("ServiceAccounts", "string", _subjects("ServiceAccount"), "ServiceAccounts in the binding"),
)

RESOURCES: list[ResourceDef] = [
    facts.resource(GROUP, "v1", "clusterrolebindings", columns=BINDING_COLUMNS, default=default_binding,
                   validate=_binding_validator(False), validate_update=validate_binding_update),
    facts.resource(GROUP, "v1", "clusterroles", validate=_role_validator(False),
                   validate_update=validate_object_meta_update),
    facts.resource(GROUP, "v1", "rolebindings", columns=BINDING_COLUMNS, default=default_binding,
                   validate=_binding_validator(True), validate_update=validate_binding_update),
    facts.resource(GROUP, "v1", "roles", validate=_role_validator(True),
                   validate_update=validate_object_meta_update),
]
