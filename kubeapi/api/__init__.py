"""The built-in kinds as data.

``builtin_catalog()`` serves every resource kube-apiserver v1.34 serves by default, in
upstream's discovery order (core first, then the groups as /apis lists them, preferred version
first, resources by name).  Facts come from ``kubeapi.api.generated``; behaviour from the
group modules' ``RESOURCES`` (hooks); a resource no module names gets ``plain.resource``.
"""

from __future__ import annotations

from kubeapi.api import (
    admissionregistration,
    apiextensions,
    apiregistration,
    apps,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    core_nodes,
    core_volumes,
    discovery,
    events,
    flowcontrol,
    generated,
    networking,
    node,
    plain,
    policy,
    rbac,
    resource,
    reviews,
    scheduling,
    storage,
)
from kubeapi.api.types import Catalog, ResourceDef

GROUP_MODULES = (core, core_nodes, core_volumes, apps, events, batch, coordination, discovery,
                 autoscaling, policy, rbac, networking, storage, scheduling, node, certificates,
                 admissionregistration, apiextensions, apiregistration, flowcontrol, resource, reviews)


def builtin_resources() -> list[ResourceDef]:
    """Every built-in ResourceDef, in upstream's discovery order."""
    hooks = {(r.group, r.version, r.plural): r for mod in GROUP_MODULES for r in mod.RESOURCES}
    out: list[ResourceDef] = []
    for group, versions in generated.group_versions():
        for version in versions:
            for fact in generated.resource_facts(group, version):
                r = hooks.pop((group, version, fact["name"]), None)
                out.append(r if r is not None else plain.resource(group, version, fact["name"]))
    out.extend(hooks.values())  # kinds upstream does not serve by default (none today)
    return out


def builtin_catalog() -> Catalog:
    """A new Catalog holding the built-in kinds (callers may add CRDs to it)."""
    return Catalog(builtin_resources())


__all__ = ["builtin_catalog", "builtin_resources", "GROUP_MODULES"]
