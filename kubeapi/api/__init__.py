"""The built-in kinds as data.

``builtin_catalog()`` gathers every group module's ``RESOURCES`` into a fresh Catalog:
core first, then the named groups in the order kube-apiserver lists them in discovery
(apps, events.k8s.io, batch, coordination.k8s.io, discovery.k8s.io); within a group,
resources by name, the preferred version first.
"""

from __future__ import annotations

from kubeapi.api import apps, authentication, batch, coordination, core, discovery, events
from kubeapi.api.types import Catalog, ResourceDef

GROUP_MODULES = (core, apps, events, authentication, batch, coordination, discovery)


def builtin_resources() -> list[ResourceDef]:
    """Every built-in ResourceDef, in catalog order."""
    out: list[ResourceDef] = []
    for mod in GROUP_MODULES:
        out.extend(mod.RESOURCES)
    return out


def builtin_catalog() -> Catalog:
    """A new Catalog holding the built-in kinds (callers may add CRDs to it)."""
    return Catalog(builtin_resources())


__all__ = ["builtin_catalog", "builtin_resources", "GROUP_MODULES"]
