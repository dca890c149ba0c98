"""Discovery documents: /api, /apis, /api/v1, /apis/<g>, /apis/<g>/<v>, and the aggregated
(apidiscovery.k8s.io v2 / v2beta1) form of /api and /apis, all built from the Catalog."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from kubeapi.api.types import Catalog, ResourceDef

Obj = dict[str, Any]

# subresource -> (group, version, kind or "" for the parent's kind, verbs).  group/version None
# means the parent's.
SUBRESOURCES: dict[str, tuple[str | None, str | None, str, tuple[str, ...]]] = {
    "status": (None, None, "", ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "log": (None, None, "", ("get",)),
    "exec": (None, None, "PodExecOptions", ("create", "get")),
    "attach": (None, None, "PodAttachOptions", ("create", "get")),
    "portforward": (None, None, "PodPortForwardOptions", ("create", "get")),
    "binding": (None, None, "Binding", ("create",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "ephemeralcontainers": (None, None, "", ("get", "patch", "update")),
    "resize": (None, None, "", ("get", "patch", "update")),
    "finalize": (None, None, "", ("update",)),
    "approval": (None, None, "", ("get", "patch", "update")),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
}
_PROXY_KINDS = {"pods": "PodProxyOptions", "nodes": "NodeProxyOptions", "services": "ServiceProxyOptions"}
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """Upstream's discovery.StorageVersionHash: first 8 bytes of sha256("g/v/k"), base64."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def subresource_info(r: ResourceDef, sub: str) -> tuple[str, str, str, tuple[str, ...]]:
    """(group, version, kind, verbs) of one subresource (upstream's facts when the kind has them)."""
    for fact in (r.facts or {}).get("subresources") or ():
        if fact["name"] == sub:
            return (fact.get("group", r.group), fact.get("version", r.version), fact["kind"],
                    tuple(fact["verbs"]))
    if sub == "proxy":
        return r.group, r.version, _PROXY_KINDS.get(r.plural, r.kind), _PROXY_VERBS
    g, v, kind, verbs = SUBRESOURCES.get(sub, (None, None, "", ("get",)))
    return (r.group if g is None else g, r.version if v is None else v, kind or r.kind, verbs)


def _sorted_verbs(verbs: tuple[str, ...] | list[str]) -> list[str]:
    return sorted(set(verbs))


# ---------------------------------------------------------------- legacy documents


def api_versions(server_address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group_entry(group: str, versions: list[str]) -> Obj:
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def api_group_list(catalog: Catalog) -> Obj:
    groups = [_group_entry(g, vs) for g, vs in catalog.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(catalog: Catalog, group: str) -> Obj | None:
    versions = catalog.groups().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def resource_list(catalog: Catalog, group: str, version: str) -> Obj | None:
    defs = catalog.in_group_version(group, version)
    if not defs:
        return None
    resources: list[Obj] = []
    for r in defs:
        entry: Obj = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": _sorted_verbs(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        if r.facts is None:
            entry["storageVersionHash"] = storage_version_hash(r.group, r.version, r.kind)
        elif r.facts.get("storageVersionHash"):
            entry["storageVersionHash"] = r.facts["storageVersionHash"]
        resources.append(entry)
        for sub in r.subresources:
            g, v, kind, verbs = subresource_info(r, sub)
            se: Obj = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced}
            if (g, v) != (r.group, r.version):
                se["group"] = g
                se["version"] = v
            se["kind"] = kind
            se["verbs"] = list(verbs)
            resources.append(se)
    doc: Obj = {"kind": "APIResourceList"}
    if group:
        doc["apiVersion"] = "v1"
    doc["groupVersion"] = f"{group}/{version}" if group else version
    doc["resources"] = resources
    return doc


# ---------------------------------------------------------------- aggregated discovery


def _aggregated_resource(r: ResourceDef) -> Obj:
    entry: Obj = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": _sorted_verbs(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    subs = []
    for sub in r.subresources:
        g, v, kind, verbs = subresource_info(r, sub)
        subs.append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": kind},
                     "verbs": list(verbs)})
    if subs:
        entry["subresources"] = subs
    return entry


def _aggregated_group(catalog: Catalog, group: str, versions: list[str]) -> Obj:
    out_versions = []
    for v in versions:
        out_versions.append({
            "version": v,
            "resources": [_aggregated_resource(r) for r in catalog.in_group_version(group, v)],
            "freshness": "Current",
        })
    meta: Obj = {"creationTimestamp": None}
    if group:
        meta = {"name": group, "creationTimestamp": None}
    return {"metadata": meta, "versions": out_versions}


def aggregated(catalog: Catalog, legacy: bool, version: str = "v2") -> Obj:
    """APIGroupDiscoveryList for /api (legacy=True: the core group) or /apis (all others)."""
    items = [_aggregated_group(catalog, g, vs) for g, vs in catalog.groups().items()
             if (g == "") == legacy]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {}, "items": items}
