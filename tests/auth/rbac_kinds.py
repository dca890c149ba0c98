"""Test-only registration of the rbac.authorization.k8s.io kinds (the `surface` branch ships
the real ones in kubeapi/api/); used only when the catalog does not have them yet."""

from __future__ import annotations

from kubeapi.api import builtin_resources
from kubeapi.api.types import ResourceDef

GROUP = "rbac.authorization.k8s.io"


def _def(kind: str, plural: str, namespaced: bool) -> ResourceDef:
    return ResourceDef(group=GROUP, version="v1", kind=kind, plural=plural, singular=kind.lower(),
                       namespaced=namespaced)


LOCAL_RBAC = [
    _def("ClusterRoleBinding", "clusterrolebindings", False),
    _def("ClusterRole", "clusterroles", False),
    _def("RoleBinding", "rolebindings", True),
    _def("Role", "roles", True),
]


def rbac_resources() -> list[ResourceDef]:
    """The catalog's own RBAC kinds once merged, else the local test ones."""
    shipped = [r for r in builtin_resources() if r.group == GROUP]
    return shipped or list(LOCAL_RBAC)
