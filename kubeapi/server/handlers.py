"""Resource requests: map (verb, RequestInfo) onto the generic store and encode the answer.

Status codes follow upstream's handlers: create 201, update/patch 200 or 201 when the
object was created, delete 200 (202 when orphanDependents=false and the object is still
there), watch a 200 stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from kubeapi import protobuf
from kubeapi.api.types import ResourceDef
from kubeapi.errors import StatusError, bad_request, method_not_allowed, too_large, unsupported_media_type
from kubeapi.jsontypes import go_kind
from kubeapi.registry import patch_json, schemacheck
from kubeapi.registry.options import WriteOptions
from kubeapi.server import negotiation, params, responses, tables, watchstream
from kubeapi.server.context import RequestContext
from kubeapi.server.discovery import subresource_info
from kubeapi.server.negotiation import JSON, Output

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer

Obj = dict[str, Any]

_RESOURCE_CONVERSIONS = frozenset({"Table", "PartialObjectMetadata", "PartialObjectMetadataList"})
# Subresources the generic store serves; others are the business of dedicated handlers.
STORE_SUBRESOURCES = frozenset({"status", "scale", "finalize", "approval", "ephemeralcontainers", "resize"})


def not_found_resource() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def resolve(server: APIServer, ctx: RequestContext) -> ResourceDef:
    info = ctx.info
    if info.verb == "proxy":  # the legacy /api/v1/proxy/... form: no longer served (v1.34)
        raise not_found_resource()
    rdef = server.catalog.get(info.api_group, info.api_version, info.resource)
    if rdef is None:
        raise not_found_resource()
    if info.namespace and not rdef.namespaced and rdef.plural != "namespaces":
        raise not_found_resource()
    if info.subresource and info.subresource not in rdef.subresources:
        raise not_found_resource()
    if len(info.parts) > 3 and info.verb != "proxy" and info.subresource != "proxy":
        raise not_found_resource()
    return rdef


def _check_verb(rdef: ResourceDef, ctx: RequestContext) -> None:
    verb = ctx.info.verb
    if ctx.info.subresource:
        allowed = subresource_info(rdef, ctx.info.subresource)[3]
        if verb not in allowed:
            raise method_not_allowed()
        return
    if verb not in rdef.verbs:
        raise method_not_allowed()


def _check_route(verb: str, name: str, sub: str) -> None:
    """Upstream registers POST on collections only and PUT/PATCH on named objects only; any
    other pairing finds no route and gets the router's 405."""
    if verb == "create" and name and not sub:
        raise method_not_allowed()
    if verb in ("update", "patch") and not name:
        raise method_not_allowed()


def _read_body(ctx: RequestContext, limit: int) -> bytes:
    if getattr(ctx.request, "body_too_large", False):
        raise too_large(limit)
    length = ctx.header("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    content = ctx.request.content
    if content is None:
        return b""
    content.seek(0)
    data: bytes = content.read(limit + 1)
    negotiation.check_size(data, limit)
    ctx.request_body = data
    return data


def _output(ctx: RequestContext) -> Output:
    return negotiation.negotiate(ctx.header("accept"), _RESOURCE_CONVERSIONS, ctx.protobuf)


def _transform(ctx: RequestContext, out: Output, rdef: ResourceDef, obj: Obj) -> Obj:
    if not out.convert:
        return obj
    return tables.convert(out.convert, out.version, rdef, obj, include=ctx.param("includeObject"))


def _reply(ctx: RequestContext, out: Output, rdef: ResourceDef, code: int, obj: Obj,
           shared: bool = False) -> bytes:
    body = _transform(ctx, out, rdef, obj)
    is_status = body.get("kind") == "Status" and body.get("apiVersion") == "v1"
    ctype = out.media_type if is_status else out.content_type
    return responses.write_object(ctx, code, body, out.media_type, ctype, shared=shared and body is obj)


_protobuf_kinds: dict[int, tuple[ResourceDef, bool]] = {}  # id(rdef) -> (rdef, whether)


def _has_protobuf(rdef: ResourceDef) -> bool:
    """``protobuf.supports`` for the resource, asked once per ResourceDef (the entry holds
    it, so its id is not reused while the entry lasts)."""
    known = _protobuf_kinds.get(id(rdef))
    if known is not None and known[0] is rdef:
        return known[1]
    answer = protobuf.supports(rdef.api_version, rdef.kind)
    if len(_protobuf_kinds) >= 4096:
        _protobuf_kinds.clear()  # CRDs come and go
    _protobuf_kinds[id(rdef)] = (rdef, answer)
    return answer


def _defaults(rdef: ResourceDef, obj: Obj) -> None:
    schemacheck.default_type_meta(obj, rdef.api_version, rdef.kind)


async def handle(server: APIServer, ctx: RequestContext) -> bytes:
    info = ctx.info
    rdef = resolve(server, ctx)
    # Built-in kinds answer protobuf when the client prefers it; custom resources never do.
    ctx.protobuf = _has_protobuf(rdef)
    if not ctx.protobuf and info.verb in ("create", "update") and \
            negotiation.media_type_of(ctx.header("content-type")) == negotiation.PROTOBUF:
        raise unsupported_media_type(negotiation.PROTOBUF, (JSON, negotiation.YAML))
    _check_verb(rdef, ctx)
    verb = info.verb
    name = info.parts[1] if len(info.parts) >= 2 else ""
    ns = info.namespace if rdef.namespaced else ""
    sub = info.subresource
    if rdef.namespaced and name and not ns:
        raise not_found_resource()
    if rdef.namespaced and not ns and verb in ("create", "deletecollection"):
        raise method_not_allowed()
    _check_route(verb, name, sub)
    if sub and sub not in STORE_SUBRESOURCES and not server.has_subresource_handler(rdef, sub):
        if name:  # as upstream, a missing parent object is named: pods "nosuch" not found
            await server.store(rdef.group, rdef.version, rdef.plural).get(ns, name, "")
        raise not_found_resource()
    if sub and server.has_subresource_handler(rdef, sub):
        return await server.subresource_handler(rdef, sub)(server, ctx, rdef)
    create_handler = server.create_handler(rdef) if not sub and verb == "create" else None
    if create_handler is not None:  # create-only kinds answered, never stored (reviews, bindings)
        return await create_handler(server, ctx, rdef)

    store = server.store_for(rdef)
    limit = server.max_request_body_bytes

    if verb == "watch":
        return await _watch(server, ctx, rdef, ns)

    out = _output(ctx)
    if verb == "get":
        params.parse_resource_version(ctx.param("resourceVersion"))
        get_shared = getattr(store, "get_shared", None) if not sub else None
        if get_shared is not None:
            obj, shared = await get_shared(ns, name)
        else:
            obj, shared = await store.get(ns, name, sub), False
        return _reply(ctx, out, rdef, 200, obj, shared=shared)
    if verb == "list":
        lopts = params.list_options(ctx)
        lopts.read_only = True  # only encoded: items may share the store's decoded objects
        lopts.encoded_json = out.media_type == JSON and not out.convert and not responses.wants_pretty(ctx)
        lst = await store.list(ns, lopts)
        return _reply(ctx, out, rdef, 200, lst)
    if verb == "create":
        wopts = params.write_options(ctx, "CreateOptions")
        obj = _decode_object(ctx, rdef, _read_body(ctx, limit), limit, wopts)
        if not sub:
            _defaults(rdef, obj)
            _check_namespace(obj, ns, rdef)
        created = await store.create(ns, obj, wopts, sub)
        return _reply(ctx, out, rdef, 201, created)
    if verb == "update":
        wopts = params.write_options(ctx, "UpdateOptions")
        obj = _decode_object(ctx, rdef, _read_body(ctx, limit), limit, wopts)
        if not sub or sub == "status":
            _defaults(rdef, obj)
        _check_namespace(obj, ns, rdef)
        _check_name(obj, name)
        updated, was_created = await store.update(ns, name, obj, wopts, sub)
        return _reply(ctx, out, rdef, 201 if was_created else 200, updated)
    if verb == "patch":
        wopts = params.write_options(ctx, "PatchOptions")
        ptype, patch = negotiation.normalize_patch(ctx.header("content-type"), _read_body(ctx, limit), limit,
                                                   wopts.yaml_duplicates)
        ctx.patch_type = ptype
        _apply_duplicates(wopts)
        if ptype != "application/apply-patch+yaml" and "force" in ctx.query:
            raise StatusError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: "
                              "may not be specified for non-apply patch", {"group": "meta.k8s.io",
                                                                           "kind": "PatchOptions"})
        if ptype == "application/apply-patch+yaml" and not wopts.field_manager:
            raise StatusError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
                              "Required value: is required for apply patch",
                              {"group": "meta.k8s.io", "kind": "PatchOptions"})
        patched, was_created = await store.patch(ns, name, ptype, patch, wopts, sub)
        return _reply(ctx, out, rdef, 201 if was_created else 200, patched)
    if verb == "delete":
        body = _delete_body(ctx, limit)
        dopts, orphan = params.delete_options(ctx, body)
        result, deleted = await store.delete(ns, name, dopts)
        code = 202 if (not deleted and orphan is False) else 200
        return _reply(ctx, out, rdef, code, result)
    if verb == "deletecollection":
        body = _delete_body(ctx, limit)
        dopts, _ = params.delete_options(ctx, body)
        result = await store.delete_collection(ns, params.list_options(ctx), dopts)
        return _reply(ctx, out, rdef, 200, result)
    raise method_not_allowed()


_GO_META_STRUCT = 'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'


def _apply_duplicates(wopts: WriteOptions) -> None:
    """An applied configuration's duplicate keys: refused under fieldValidation=Strict, warned
    about under Warn, in upstream's words."""
    if not wopts.yaml_duplicates:
        return
    schemacheck.enforce_field_validation(
        wopts.field_validation, wopts.yaml_duplicates, wopts.warnings,
        "error strict decoding YAML: error converting YAML to JSON: "
        + schemacheck.yaml_unmarshal_errors(wopts.yaml_duplicates))
    wopts.yaml_duplicates = []  # reported here; the store must not report them again


def _decode_object(ctx: RequestContext, rdef: ResourceDef, data: bytes, limit: int, wopts: WriteOptions) -> Obj:
    """A create/update body; one whose kind cannot even be read is refused as upstream's
    decoder does (``the object provided is unrecognized ...``)."""
    ctype = ctx.header("content-type")
    is_json = negotiation.media_type_of(ctype) in ("", JSON, "*/*")
    try:
        obj = negotiation.decode_body(ctype, data, limit, wopts.duplicates, wopts.yaml_duplicates)
    except StatusError as e:
        if not (is_json and e.code == 400 and (e.message.startswith("couldn't get version/kind") or
                                               e.message.startswith("the body of the request was not"))):
            raise
        if e.message == "the body of the request was not a JSON or YAML object":
            got = go_kind(orjson.loads(data))
            why = f"json: cannot unmarshal {got} into Go value of type {_GO_META_STRUCT}"
        elif "max depth" in e.message:
            why = e.message.removeprefix("couldn't get version/kind; json parse error: ")
        else:
            why = patch_json.go_json_error_message(data)
        raise _unrecognized(rdef, f"couldn't get version/kind; json parse error: {why}", data) from None
    if is_json:
        for field in ("apiVersion", "kind"):
            v = obj.get(field)
            if v is not None and not isinstance(v, str):
                raise _unrecognized(rdef, f"couldn't get version/kind; json parse error: json: cannot "
                                          f"unmarshal {go_kind(v)} into Go struct field "
                                          f".{field} of type string", data)
    return obj


def _unrecognized(rdef: ResourceDef, why: str, data: bytes) -> StatusError:
    if not data:
        summary = "<empty>"
    elif data[:1] == b"{":
        summary = data[:30].decode("utf-8", "replace") + (" ..." if len(data) > 30 else "")
    else:
        summary = data[:30].hex() + (" ..." if len(data) > 30 else "")
    return bad_request(f"the object provided is unrecognized (must be of type {rdef.kind}): {why} ({summary})")


def _delete_body(ctx: RequestContext, limit: int) -> Obj | None:
    data = _read_body(ctx, limit)
    if not data.strip():
        return None
    return negotiation.decode_body(ctx.header("content-type"), data, limit)


def _check_namespace(obj: Obj, ns: str, rdef: ResourceDef) -> None:
    meta = obj.get("metadata")
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    given = meta.get("namespace")
    if rdef.namespaced and given and ns and given != ns:
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")


def _check_name(obj: Obj, name: str) -> None:
    meta = obj.get("metadata") or {}
    given = meta.get("name") if isinstance(meta, dict) else None
    if given and given != name:
        raise bad_request(f"the name of the object ({given}) does not match the name on the URL ({name})")


async def _watch(server: APIServer, ctx: RequestContext, rdef: ResourceDef, ns: str) -> bytes:
    out = negotiation.negotiate(ctx.header("accept"), frozenset({"Table", "PartialObjectMetadata"}),
                                ctx.protobuf)
    if out.media_type not in (JSON, negotiation.PROTOBUF):
        raise negotiation.not_acceptable((JSON, negotiation.PROTOBUF))
    proto = out.media_type == negotiation.PROTOBUF
    encode = protobuf.encode_watch_event if proto else watchstream.frame
    opts = params.list_options(ctx)
    if ctx.info.name and not opts.field_selector:
        opts.field_selector = f"metadata.name={ctx.info.name}"
    include = ctx.param("includeObject")
    if include not in tables.INCLUDE_VALUES:
        raise bad_request(f'unrecognized includeObject value: "{include}"')
    timeout = float(opts.timeout_seconds) if opts.timeout_seconds else watchstream.default_watch_timeout(
        server.min_request_timeout)
    if timeout < 0:  # Go's timer for a negative duration fires at once: the watch ends right away
        timeout = 1e-6
    store = server.store(rdef.group, rdef.version, rdef.plural)
    headers_sent = [False]

    sent = server.metrics.watch_events.labels(rdef.group, rdef.version, rdef.plural)

    def transform(event_type: str, obj: Obj) -> Obj:
        if event_type == "ERROR":
            return obj
        if out.convert == "Table":
            no_headers = headers_sent[0]
            headers_sent[0] = True
            return tables.convert("Table", out.version, rdef, obj, include=include, no_headers=no_headers)
        return tables.convert(out.convert, out.version, rdef, obj)

    def on_start() -> None:
        responses.write_body(ctx, 200, b"", protobuf.WATCH_CONTENT_TYPE if proto else JSON)
        ctx.request.responseHeaders.removeHeader(b"content-length")
        ctx.request.write(b"")

    async def start(sink: Any) -> Any:
        return await store.watch(ns, opts, sink)

    server.metrics.watchers.labels("WATCH", rdef.group, rdef.version, rdef.plural, "",
                                   "namespace" if ns else "cluster", "apiserver").inc()
    try:
        await watchstream.serve(ctx.request, server.clock, start, transform if out.convert else None, timeout,
                                on_start, active=server.watch_streams, encode=encode, counter=sent)
    finally:
        server.metrics.watchers.labels("WATCH", rdef.group, rdef.version, rdef.plural, "",
                                       "namespace" if ns else "cluster", "apiserver").dec()
    return b""
