"""The OpenAPI documents served at /openapi/v2 and /openapi/v3, built from the Catalog.

One list of operations per resource is computed once (``operations``) and rendered in
either dialect: Swagger 2.0 (``definitions``, body parameters) or OpenAPI 3.0
(``components.schemas``, ``requestBody``).  kubectl reads these documents: ``explain``
looks kinds up by ``x-kubernetes-group-version-kind``, client-side apply reads patch
markers from them, and it probes the PATCH operation of a kind for the
``fieldValidation`` query parameter before trusting server-side validation.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from kubeapi.api import generated
from kubeapi.api.types import Catalog, ResourceDef
from kubeapi.openapi import crd_schema, meta
from kubeapi.openapi.gnostic_v2 import encode_v2
from kubeapi.openapi.naming import definition_name, gv_path, op_prefix, tag
from kubeapi.openapi.operations import (
    PATCH_TYPES,
    RESPONSE_TYPES,
    TITLE,
    V2_PREFIX,
    V3_PREFIX,
    VERSION,
    WATCH_RESPONSE_TYPES,
    Operation,
    Param,
    _gvk,
    operations,
)

Schema = dict[str, Any]
Ref = Callable[[str], Schema]

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _rewrite_refs(node: Any, prefix: str) -> Any:
    """Point refs at this document's section; int-or-string and quantity fields refer to the
    shared definitions, as upstream publishes them (Swagger 2.0 has no anyOf)."""
    if isinstance(node, dict):
        if node.get("x-kubernetes-int-or-string") is True:
            target = {"$ref": prefix + (QUANTITY if node.get("format") == "quantity" else INT_OR_STRING)}
            # OpenAPI 3 wraps a ref that carries siblings in allOf (kubectl explain then names the type).
            ref: Schema = target if prefix.startswith("#/definitions/") else {"allOf": [target]}
            if node.get("description"):
                ref["description"] = node["description"]
            return ref
        out: Schema = {}
        for key, v in node.items():
            if key == "$ref" and isinstance(v, str):
                out[key] = prefix + v.rsplit("/", 1)[-1]
            elif key == "properties" and isinstance(v, dict):  # names, not keywords (JSONSchemaProps)
                out[key] = {pname: _rewrite_refs(sub, prefix) for pname, sub in v.items()}
            else:
                out[key] = _rewrite_refs(v, prefix)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, prefix) for v in node]
    return node


def kind_schema(r: ResourceDef, prefix: str) -> Schema:
    """The schema of ``r``'s kind: its ResourceDef schema (or an open object), with
    apiVersion/kind/metadata filled in and the GVK extension set."""
    if getattr(r, "crd_name", ""):
        s: Schema = crd_schema.published(r.schema or {"type": "object"}, prefix)
    else:
        if r.schema and r.facts is not None and prefix == V2_PREFIX:
            s = _rewrite_refs(_to_v2(r.schema), prefix)
        elif r.schema:
            s = _rewrite_refs(copy.deepcopy(r.schema), prefix)
        else:
            s = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        s.setdefault("type", "object")
        props = s.setdefault("properties", {})
        md = props.get("metadata")
        if not md or not (md.get("properties") or md.get("$ref") or md.get("allOf")):
            props["metadata"] = _meta_ref(prefix, meta.OBJECT_META, crd_schema.METADATA_DESCRIPTION)
    s["x-kubernetes-group-version-kind"] = [_gvk(r)]
    return s


def _meta_ref(prefix: str, name: str, desc: str) -> Schema:
    if prefix == V3_PREFIX:
        return {"allOf": [{"$ref": prefix + name}], "default": {}, "description": desc}
    return {"$ref": prefix + name, "description": desc}


def list_schema(r: ResourceDef, prefix: str) -> Schema:
    name = generated.definition_name(r.group, r.version, r.list_kind) if r.facts is not None else None
    found = _generated_definition(name, prefix) if name else None
    if found is not None:
        return found
    return {
        "type": "object",
        "description": f"A list of {r.kind} objects.",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": prefix + definition_name(r.group, r.version, r.kind)}},
            "kind": {"type": "string"},
            "metadata": _meta_ref(prefix, meta.LIST_META, "Standard list metadata."),
        },
        "x-kubernetes-group-version-kind": [_gvk(r, r.list_kind)],
    }


def _to_v2(node: Any) -> Any:
    """Swagger 2.0 form of a generated (OpenAPI 3) schema: ``allOf: [ref]`` becomes a plain
    ``$ref`` and ``default`` / ``oneOf`` go, as upstream's v2 document has them."""
    if isinstance(node, dict):
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
            node = {"$ref": all_of[0]["$ref"], **{k: v for k, v in node.items() if k != "allOf"}}
        out: Schema = {}
        for k, v in node.items():
            if k in ("default", "oneOf", "discriminator"):
                continue
            if k == "properties" and isinstance(v, dict):
                out[k] = {name: _to_v2(sub) for name, sub in v.items()}
            else:
                out[k] = v if k in ("enum", "example", "x-kubernetes-unions") else _to_v2(v)
        return out
    if isinstance(node, list):
        return [_to_v2(v) for v in node]
    return node


_V2_SCALARS: dict[str, Schema] = {
    INT_OR_STRING: {"type": "string", "format": "int-or-string"},
    QUANTITY: {"type": "string"},
}


def _generated_definition(name: str, prefix: str) -> Schema | None:
    found = generated.definition(name)
    if found is None:
        return None
    if prefix == V2_PREFIX:
        return copy.deepcopy(_V2_SCALARS[name]) if name in _V2_SCALARS else _rewrite_refs(_to_v2(found), prefix)
    return _rewrite_refs(copy.deepcopy(found), prefix)


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.add(ref.rsplit("/", 1)[-1])
        for k, v in node.items():
            if k == "properties" and isinstance(v, dict):
                for sub in v.values():
                    _refs(sub, out)
            elif k not in ("enum", "default", "example"):
                _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


OPERATION_TYPES = (meta.STATUS, meta.DELETE_OPTIONS, meta.WATCH_EVENT, meta.PATCH, meta.SCALE)


def _definitions(resources: list[ResourceDef], prefix: str) -> dict[str, Schema]:
    """Each resource's kind and list, and every definition they (and the operations) refer to:
    upstream's generated ones first, the hand-written meta schemas for anything else."""
    defs: dict[str, Schema] = {}
    for r in resources:
        defs[definition_name(r.group, r.version, r.kind)] = kind_schema(r, prefix)
        if "list" in r.verbs:
            defs[definition_name(r.group, r.version, r.list_kind)] = list_schema(r, prefix)
    fallback = meta.meta_definitions(lambda name: {"$ref": prefix + name})
    pending: set[str] = set(OPERATION_TYPES)
    for r in resources:
        for op in operations(r):
            pending.update(n for n in (op.response, op.body) if n)
    _refs(defs, pending)
    while pending:
        name = pending.pop()
        if name in defs:
            continue
        found = _generated_definition(name, prefix)
        if found is None:
            found = fallback.get(name)
        elif name in fallback:
            _describe(found, fallback[name])
        if found is None:
            continue
        defs[name] = found
        _refs(found, pending)
    return dict(sorted(defs.items()))


def _describe(generated_schema: Schema, ours: Schema) -> None:
    """Our descriptions of the shared meta types (the generated tables carry none) on their
    generated schemas, where ``kubectl explain`` shows them."""
    if "description" in ours:
        generated_schema.setdefault("description", ours["description"])
    props = generated_schema.get("properties") or {}
    for name, sub in (ours.get("properties") or {}).items():
        if name in props and "description" in sub:
            props[name].setdefault("description", sub["description"])


# --- Swagger 2.0 -----------------------------------------------------------------------------


def _v2_param(p: Param) -> Schema:
    out: Schema = {"name": p.name, "in": p.where, "type": p.type, "uniqueItems": True,
                   "description": p.description}
    if p.required:
        out["required"] = True
    return out


def _v2_op(op: Operation) -> Schema:
    ref = {"$ref": V2_PREFIX + op.response}
    responses: Schema = {"200": {"description": "OK", "schema": ref},
                         "401": {"description": "Unauthorized"}}
    if op.created:
        responses["201"] = {"description": "Created", "schema": ref}
    if op.accepted:
        responses["202"] = {"description": "Accepted", "schema": ref}
    params = [_v2_param(p) for p in op.params]
    if op.body:
        params.insert(0, {"name": "body", "in": "body", "required": op.method != "delete",
                          "schema": {"$ref": V2_PREFIX + op.body}})
    out: Schema = {
        "description": op.description,
        "consumes": list(PATCH_TYPES) if op.method == "patch" else ["*/*"],
        "produces": list(WATCH_RESPONSE_TYPES if op.watch else RESPONSE_TYPES),
        "schemes": ["https"],
        "tags": [op.tag],
        "operationId": op.op_id,
        "responses": responses,
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": op.gvk,
    }
    if params:
        out["parameters"] = params
    return out


def _paths(ops: list[Operation], render: Callable[[Operation], Schema],
           render_param: Callable[[Param], Schema]) -> dict[str, Schema]:
    paths: dict[str, Schema] = {}
    for op in ops:
        entry = paths.setdefault(op.path, {})
        entry[op.method] = render(op)
        entry["parameters"] = [render_param(p) for p in op.path_params]
    return dict(sorted(paths.items()))


def build_v2(catalog: Catalog) -> dict[str, Any]:
    """The Swagger 2.0 document of every served resource (/openapi/v2)."""
    resources = catalog.all()
    ops = [op for r in resources for op in operations(r)]
    return {
        "swagger": "2.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": _paths(ops, _v2_op, _v2_param),
        "definitions": _definitions(resources, V2_PREFIX),
        "securityDefinitions": {"BearerToken": {
            "description": "Bearer Token authentication", "type": "apiKey", "name": "authorization",
            "in": "header"}},
        "security": [{"BearerToken": []}],
    }


# --- OpenAPI 3.0 -----------------------------------------------------------------------------


def _v3_param(p: Param) -> Schema:
    out: Schema = {"name": p.name, "in": p.where, "description": p.description,
                   "schema": {"type": p.type, "uniqueItems": True}}
    if p.required:
        out["required"] = True
    return out


def _content(name: str, types: tuple[str, ...]) -> Schema:
    return {t: {"schema": {"$ref": V3_PREFIX + name}} for t in types}


def _v3_op(op: Operation) -> Schema:
    types = WATCH_RESPONSE_TYPES if op.watch else RESPONSE_TYPES
    responses: Schema = {"200": {"description": "OK", "content": _content(op.response, types)},
                         "401": {"description": "Unauthorized"}}
    if op.created:
        responses["201"] = {"description": "Created", "content": _content(op.response, types)}
    if op.accepted:
        responses["202"] = {"description": "Accepted", "content": _content(op.response, types)}
    out: Schema = {
        "tags": [op.tag],
        "description": op.description,
        "operationId": op.op_id,
        "responses": responses,
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": op.gvk,
    }
    if op.params:
        out["parameters"] = [_v3_param(p) for p in op.params]
    if op.body:
        ctypes = PATCH_TYPES if op.method == "patch" else ("*/*",)
        out["requestBody"] = {"content": _content(op.body, ctypes), "required": op.method != "delete"}
    return out


_SECURITY = {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication",
                             "name": "authorization", "in": "header"}}


def _v3_doc(paths: dict[str, Schema], schemas: dict[str, Schema]) -> dict[str, Any]:
    return {
        "openapi": "3.0.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": _SECURITY},
    }


def build_v3(catalog: Catalog, group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI 3.0 document of one group-version (/openapi/v3/apis/<g>/<v>);
    None when the catalog serves nothing there."""
    resources = catalog.in_group_version(group, version)
    if not resources:
        return None
    ops = [op for r in resources for op in operations(r)]
    root = f"/api/{version}/" if not group else f"/apis/{group}/{version}/"
    prefix = op_prefix(resources[0])
    paths = _paths(ops, _v3_op, _v3_param)
    paths[root] = {"get": {
        "tags": [tag(resources[0])], "description": "get available resources",
        "operationId": f"get{prefix}APIResources",
        "responses": {"200": {"description": "OK", "content": {
            t: {"schema": {"$ref": V3_PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList"}}
            for t in RESPONSE_TYPES}}, "401": {"description": "Unauthorized"}}}}
    schemas = _definitions(resources, V3_PREFIX)
    schemas.update(_discovery_schemas())
    return _v3_doc(dict(sorted(paths.items())), dict(sorted(schemas.items())))


def _discovery_schemas() -> dict[str, Schema]:
    m = "io.k8s.apimachinery.pkg.apis.meta.v1"
    s = {"type": "string", "default": ""}
    strs = {"type": "array", "items": {"type": "string", "default": ""}}
    gv_ref = {"$ref": V3_PREFIX + f"{m}.GroupVersionForDiscovery"}
    return {
        f"{m}.APIResource": {"type": "object", "required": ["name", "singularName", "namespaced", "kind",
                                                             "verbs"],
                             "properties": {"categories": strs, "group": {"type": "string"}, "kind": s,
                                            "name": s, "namespaced": {"type": "boolean", "default": False},
                                            "shortNames": strs, "singularName": s,
                                            "storageVersionHash": {"type": "string"}, "verbs": strs,
                                            "version": {"type": "string"}}},
        f"{m}.APIResourceList": {"type": "object", "required": ["groupVersion", "resources"], "properties": {
            "apiVersion": {"type": "string"}, "groupVersion": s, "kind": {"type": "string"},
            "resources": {"type": "array", "items": {"$ref": V3_PREFIX + f"{m}.APIResource"}}},
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "APIResourceList", "version": "v1"}]},
        f"{m}.GroupVersionForDiscovery": {"type": "object", "required": ["groupVersion", "version"],
                                          "properties": {"groupVersion": s, "version": s}},
        f"{m}.APIGroup": {"type": "object", "required": ["name", "versions"], "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "name": s,
            "preferredVersion": gv_ref, "versions": {"type": "array", "items": gv_ref}},
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "APIGroup", "version": "v1"}]},
        f"{m}.APIGroupList": {"type": "object", "required": ["groups"], "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "groups": {"type": "array", "items": {"$ref": V3_PREFIX + f"{m}.APIGroup"}}},
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "APIGroupList", "version": "v1"}]},
        f"{m}.APIVersions": {"type": "object", "required": ["versions"], "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "versions": strs},
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "APIVersions", "version": "v1"}]},
    }


def _discovery_op(path: str, op_id: str, tag_: str, desc: str, schema: str) -> Schema:
    return {path: {"get": {"tags": [tag_], "description": desc, "operationId": op_id, "responses": {
        "200": {"description": "OK", "content": {t: {"schema": {"$ref": V3_PREFIX + schema}}
                                                 for t in RESPONSE_TYPES}},
        "401": {"description": "Unauthorized"}}}}}


def build_v3_discovery(catalog: Catalog, which: str) -> dict[str, Any] | None:
    """The small documents upstream lists as ``api`` and ``apis`` (the discovery roots)."""
    m = "io.k8s.apimachinery.pkg.apis.meta.v1"
    paths: dict[str, Schema] = {}
    if which == "api":
        paths.update(_discovery_op("/api/", "getCoreAPIVersions", "core", "get available API versions",
                                   f"{m}.APIVersions"))
    elif which == "apis":
        paths.update(_discovery_op("/apis/", "getAPIVersions", "apis", "get available API versions",
                                   f"{m}.APIGroupList"))
        for group in catalog.groups():
            if not group:
                continue
            camel = op_prefix(ResourceDef(group, "v", "K", "k", "k", False))[:-1]
            paths.update(_discovery_op(f"/apis/{group}/", f"get{camel}APIGroup",
                                       camel[:1].lower() + camel[1:], "get information of a group",
                                       f"{m}.APIGroup"))
    else:
        return None
    return _v3_doc(dict(sorted(paths.items())), dict(sorted(_discovery_schemas().items())))


def build_v3_path(catalog: Catalog, path: str) -> dict[str, Any] | None:
    """The document behind ``/openapi/v3/<path>`` (``api/v1``, ``apis/apps/v1``, ``api``,
    ``apis``), or None for 404."""
    path = path.strip("/")
    if path in ("api", "apis"):
        return build_v3_discovery(catalog, path)
    parts = path.split("/")
    if len(parts) == 2 and parts[0] == "api":
        return build_v3(catalog, "", parts[1])
    if len(parts) == 3 and parts[0] == "apis":
        return build_v3(catalog, parts[1], parts[2])
    return None


def serialize(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc)


def doc_hash(body: bytes) -> str:
    """Upstream's cache-busting hash: SHA-512, upper-case hex."""
    return hashlib.sha512(body).hexdigest().upper()


def build_v3_index(catalog: Catalog) -> dict[str, Any]:
    """``{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}``."""
    keys = ["api", "apis"]
    for group, versions in catalog.groups().items():
        keys.extend(gv_path(group, v) for v in versions)
    paths: dict[str, Any] = {}
    for key in keys:
        doc = build_v3_path(catalog, key)
        if doc is None:
            continue
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={doc_hash(serialize(doc))}"}
    return {"paths": dict(sorted(paths.items()))}


class OpenAPIDocs:
    """Serialized documents and their hashes, built once per catalog change.

    The server calls ``invalidate()`` when the catalog changes (CRDs, APIServices) and
    serves ``v2()`` (JSON), ``v2_protobuf()`` (gnostic's ``openapi.v2.Document``, for kubectl
    1.27/1.28) with ``v2_etag()``, ``v3_index()`` and ``v3(path)``; for a v3 request whose ``hash`` query
    differs from ``etag`` upstream answers 301 to ``server_relative_url(path)``, and with a
    matching hash it adds ``Cache-Control: public, immutable``."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._v2: bytes | None = None
        self._v2_pb: bytes | None = None
        self._v2_etag: str | None = None
        self._v3: dict[str, tuple[bytes, str] | None] = {}
        self._index: bytes | None = None

    def invalidate(self) -> None:
        self._v2 = None
        self._v2_pb = None
        self._v2_etag = None
        self._v3.clear()
        self._index = None

    def v2(self) -> bytes:
        if self._v2 is None:
            self._v2 = serialize(build_v2(self.catalog))
        return self._v2

    def v2_protobuf(self) -> bytes:
        if self._v2_pb is None:
            self._v2_pb = encode_v2(orjson.loads(self.v2()))
        return self._v2_pb

    def v2_etag(self) -> str:
        """Upstream's v2 ETag (unquoted): the SHA-512 of the JSON document, for either encoding."""
        if self._v2_etag is None:
            self._v2_etag = doc_hash(self.v2())
        return self._v2_etag

    def v3(self, path: str) -> tuple[bytes, str] | None:
        """(JSON body, hash) of ``/openapi/v3/<path>``, or None when there is no such document."""
        path = path.strip("/")
        if path not in self._v3:
            doc = build_v3_path(self.catalog, path)
            if doc is None:
                self._v3[path] = None
            else:
                body = serialize(doc)
                self._v3[path] = (body, doc_hash(body))
        return self._v3[path]

    def server_relative_url(self, path: str) -> str | None:
        found = self.v3(path)
        return None if found is None else f"/openapi/v3/{path.strip('/')}?hash={found[1]}"

    def v3_index(self) -> bytes:
        if self._index is None:
            keys = ["api", "apis"]
            for group, versions in self.catalog.groups().items():
                keys.extend(gv_path(group, v) for v in versions)
            paths = {k: {"serverRelativeURL": url} for k in sorted(keys)
                     if (url := self.server_relative_url(k)) is not None}
            self._index = serialize({"paths": paths})
        return self._index
