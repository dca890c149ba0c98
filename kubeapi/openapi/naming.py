"""Names upstream's OpenAPI documents use: definition keys, operation ids and tags."""

from __future__ import annotations

from kubeapi.api.types import ResourceDef

META = "io.k8s.apimachinery.pkg.apis.meta.v1"

_SPECIAL_GROUPS = {
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
}


def definition_prefix(group: str, version: str) -> str:
    """``io.k8s.api.core.v1`` for core, ``io.k8s.api.rbac.v1`` for rbac.authorization.k8s.io,
    the reversed domain (``com.example.stable.v1``) for other groups, as upstream names them."""
    if group in _SPECIAL_GROUPS:
        return f"{_SPECIAL_GROUPS[group]}.{version}"
    if not group:
        return f"io.k8s.api.core.{version}"
    if group.endswith(".k8s.io") or "." not in group:
        return f"io.k8s.api.{group.split('.')[0]}.{version}"
    return ".".join(reversed(group.split("."))) + f".{version}"


def definition_name(group: str, version: str, kind: str) -> str:
    return f"{definition_prefix(group, version)}.{kind}"


def group_camel(group: str) -> str:
    """``core`` → ``Core``, ``rbac.authorization.k8s.io`` → ``RbacAuthorization``."""
    if not group:
        return "Core"
    base = group.removesuffix(".k8s.io") if group.endswith(".k8s.io") else group
    return "".join(p[:1].upper() + p[1:] for p in base.replace("-", ".").split("."))


def op_prefix(r: ResourceDef) -> str:
    """``CoreV1``, ``AppsV1`` ... the middle part of an operationId."""
    return group_camel(r.group) + r.version[:1].upper() + r.version[1:]


def tag(r: ResourceDef) -> str:
    """``core_v1``, ``apps_v1``, ``rbacAuthorization_v1``."""
    camel = group_camel(r.group)
    return camel[:1].lower() + camel[1:] + "_" + r.version


def gv_path(group: str, version: str) -> str:
    """The index key and URL segment: ``api/v1`` or ``apis/<group>/<version>``."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"
