"""The operations of a resource (verbs, paths, parameters, response kinds), computed once
from the Catalog and rendered by the builder in either OpenAPI dialect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeapi.api.types import ResourceDef
from kubeapi.openapi import meta
from kubeapi.openapi.naming import definition_name, op_prefix, tag

Schema = dict[str, Any]

TITLE = "Kubernetes"
VERSION = "v1.34.4"
V2_PREFIX = "#/definitions/"
V3_PREFIX = "#/components/schemas/"

PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json",
               "application/merge-patch+json", "application/strategic-merge-patch+json")
RESPONSE_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
WATCH_RESPONSE_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
                        "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")


@dataclass
class Param:
    name: str
    where: str  # "query" | "path"
    type: str
    description: str
    required: bool = False


_P = Param
PRETTY = _P("pretty", "query", "string", "If 'true', the output is pretty printed.")
NAME = _P("name", "path", "string", "name of the object", True)
NAMESPACE = _P("namespace", "path", "string", "object name and auth scope, such as for teams and projects",
               True)
DRY_RUN = _P("dryRun", "query", "string",
             "When present, modifications are not persisted. Valid value: All.")
FIELD_MANAGER = _P("fieldManager", "query", "string",
                   "Name of the actor making the change, recorded in managedFields.")
FIELD_VALIDATION = _P("fieldValidation", "query", "string",
                      "How to treat unknown or duplicate fields in the body: Ignore, Warn (the default) "
                      "or Strict.")
FORCE = _P("force", "query", "boolean",
           "Apply requests only: take ownership of conflicting fields from other managers.")
LIST_PARAMS = [
    _P("allowWatchBookmarks", "query", "boolean", "Ask for BOOKMARK events on watches."),
    _P("continue", "query", "string", "Token from a previous chunked list response."),
    _P("fieldSelector", "query", "string", "Restrict results by field values."),
    _P("labelSelector", "query", "string", "Restrict results by labels."),
    _P("limit", "query", "integer", "Largest number of items to return in one response."),
    _P("resourceVersion", "query", "string", "Which version of the collection to serve."),
    _P("resourceVersionMatch", "query", "string", "How resourceVersion is matched."),
    _P("sendInitialEvents", "query", "boolean", "Start a watch with synthetic events for current state."),
    _P("timeoutSeconds", "query", "integer", "Server-side timeout of the call."),
    _P("watch", "query", "boolean", "Stream add, update and remove events instead of listing."),
]
DELETE_PARAMS = [
    DRY_RUN,
    _P("gracePeriodSeconds", "query", "integer", "Seconds before the object is deleted."),
    _P("ignoreStoreReadErrorWithClusterBreakingPotential", "query", "boolean",
       "Delete objects that cannot be read from storage (dangerous)."),
    _P("orphanDependents", "query", "boolean", "Deprecated: use propagationPolicy."),
    _P("propagationPolicy", "query", "string", "Orphan, Background or Foreground."),
]


@dataclass
class Operation:
    path: str
    method: str  # get | post | put | patch | delete
    op_id: str
    action: str  # x-kubernetes-action
    gvk: dict[str, str]
    tag: str
    description: str
    response: str  # definition name of the 200 body
    params: list[Param] = field(default_factory=list)
    path_params: list[Param] = field(default_factory=list)
    body: str = ""  # definition name of the request body
    created: bool = False  # also answers 201
    accepted: bool = False  # also answers 202
    watch: bool = False


def _gvk(r: ResourceDef, kind: str = "") -> dict[str, str]:
    return {"group": r.group, "kind": kind or r.kind, "version": r.version}


# Create-only subresources: subresource -> (group, version, kind of the body, operation suffix).
_CREATE_SUBRESOURCES = {
    "binding": ("", "v1", "Binding", "Binding"),
    "eviction": ("policy", "v1", "Eviction", "Eviction"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", "Token"),
}


def operations(r: ResourceDef) -> list[Operation]:
    """Every path and verb the registry serves for ``r``, named as upstream names them."""
    base = f"/api/{r.version}" if not r.group else f"/apis/{r.group}/{r.version}"
    ns_seg = "/namespaces/{namespace}" if r.namespaced else ""
    n = "Namespaced" if r.namespaced else ""
    p = op_prefix(r)
    k = r.kind
    this = definition_name(r.group, r.version, r.kind)
    lst = definition_name(r.group, r.version, r.list_kind)
    t = tag(r)
    gvk = _gvk(r)
    verbs = set(r.verbs)
    scope = [NAMESPACE] if r.namespaced else []
    coll = f"{base}{ns_seg}/{r.plural}"
    item = f"{coll}/{{name}}"
    write = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
    ops: list[Operation] = []

    def add(path: str, method: str, op_id: str, action: str, desc: str, resp: str, params: list[Param],
            path_params: list[Param], **kw: Any) -> None:
        ops.append(Operation(path, method, op_id, action, kw.pop("gvk", gvk), t, desc, resp, params,
                             path_params + [PRETTY], **kw))

    if "list" in verbs:
        add(coll, "get", f"list{p}{n}{k}", "list", f"list or watch objects of kind {k}", lst,
            LIST_PARAMS, scope, watch=True)
    if "create" in verbs:
        add(coll, "post", f"create{p}{n}{k}", "post", f"create a {k}", this, write, scope, body=this,
            created=True, accepted=True)
    if "deletecollection" in verbs:
        add(coll, "delete", f"delete{p}Collection{n}{k}", "deletecollection",
            f"delete collection of {k}", meta.STATUS,
            [p_ for p_ in LIST_PARAMS if p_.name != "watch" and p_.name != "allowWatchBookmarks"]
            + DELETE_PARAMS, scope, body=meta.DELETE_OPTIONS)
    if "get" in verbs:
        add(item, "get", f"read{p}{n}{k}", "get", f"read the specified {k}", this, [], [NAME] + scope)
    if "update" in verbs:
        add(item, "put", f"replace{p}{n}{k}", "put", f"replace the specified {k}", this, write,
            [NAME] + scope, body=this, created=True)
    if "patch" in verbs:
        add(item, "patch", f"patch{p}{n}{k}", "patch", f"partially update the specified {k}", this,
            write + [FORCE], [NAME] + scope, body=meta.PATCH, created=True)
    if "delete" in verbs:
        add(item, "delete", f"delete{p}{n}{k}", "delete", f"delete a {k}",
            this if r.return_deleted_object else meta.STATUS, DELETE_PARAMS, [NAME] + scope,
            body=meta.DELETE_OPTIONS, accepted=True)
    if r.namespaced and "list" in verbs:
        add(f"{base}/{r.plural}", "get", f"list{p}{k}ForAllNamespaces", "list",
            f"list or watch objects of kind {k}", lst, LIST_PARAMS, [], watch=True)
    if "watch" in verbs:
        wcoll = f"{base}/watch{ns_seg}/{r.plural}"
        add(wcoll, "get", f"watch{p}{n}{k}List", "watchlist",
            f"watch individual changes to a list of {k}. deprecated: use the 'watch' parameter with a "
            "list operation instead.", meta.WATCH_EVENT, LIST_PARAMS, scope, watch=True)
        add(f"{wcoll}/{{name}}", "get", f"watch{p}{n}{k}", "watch",
            f"watch changes to an object of kind {k}. deprecated: use the 'watch' parameter with a list "
            "operation instead, filtered to a single item with the 'fieldSelector' parameter.",
            meta.WATCH_EVENT, LIST_PARAMS, [NAME] + scope, watch=True)
        if r.namespaced:
            add(f"{base}/watch/{r.plural}", "get", f"watch{p}{k}ListForAllNamespaces", "watchlist",
                f"watch individual changes to a list of {k}. deprecated: use the 'watch' parameter "
                "with a list operation instead.", meta.WATCH_EVENT, LIST_PARAMS, [], watch=True)
    for sub in r.subresources:
        if sub in ("status", "approval", "ephemeralcontainers", "resize", "finalize"):
            target, sub_gvk, suffix = this, gvk, sub.capitalize()
            if sub == "finalize":  # update only
                add(f"{item}/{sub}", "put", f"replace{p}{n}{k}{suffix}", "put",
                    f"replace {sub} of the specified {k}", target, write, [NAME] + scope, body=target,
                    created=True)
                continue
        elif sub in _CREATE_SUBRESOURCES:
            g, v, kind, suffix = _CREATE_SUBRESOURCES[sub]
            target = definition_name(g, v, kind)
            add(f"{item}/{sub}", "post", f"create{p}{n}{k}{suffix}", "post", f"create {sub} of a {k}", target,
                write, [NAME] + scope, body=target, created=True, accepted=True,
                gvk={"group": g, "kind": kind, "version": v})
            continue
        elif sub == "scale":
            target, sub_gvk, suffix = meta.SCALE, {"group": "autoscaling", "kind": "Scale",
                                                   "version": "v1"}, "Scale"
        else:
            continue
        path = f"{item}/{sub}"
        add(path, "get", f"read{p}{n}{k}{suffix}", "get", f"read {sub} of the specified {k}", target, [],
            [NAME] + scope, gvk=sub_gvk)
        add(path, "put", f"replace{p}{n}{k}{suffix}", "put", f"replace {sub} of the specified {k}",
            target, write, [NAME] + scope, body=target, created=True, gvk=sub_gvk)
        add(path, "patch", f"patch{p}{n}{k}{suffix}", "patch",
            f"partially update {sub} of the specified {k}", target, write + [FORCE], [NAME] + scope,
            body=meta.PATCH, created=True, gvk=sub_gvk)
    return ops


# --- schemas ---------------------------------------------------------------------------------
