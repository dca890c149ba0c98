"""Paths that are not resources: discovery, health, /version, /metrics, /openapi, and /."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kubeapi.errors import StatusError, not_acceptable
from kubeapi.openapi.gnostic_v2 import PROTOBUF_V2, PROTOBUF_V2_DEPRECATED
from kubeapi.server import discovery, health, negotiation, responses
from kubeapi.server.context import RequestContext
from kubeapi.server.negotiation import JSON

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer

log = logging.getLogger(__name__)

VERSION_INFO = {
    "major": "1",
    "minor": "34",
    "emulationMajor": "1",
    "emulationMinor": "34",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "33",
    "gitVersion": "v1.34.4",
    "gitCommit": "kubeapi",
    "gitTreeState": "clean",
    "buildDate": "2026-01-13T00:00:00Z",
    "goVersion": "python3.11",
    "compiler": "cpython",
    "platform": "linux/amd64",
}

_DISCOVERY_AS = frozenset({"APIGroupDiscoveryList"})


def not_found_text(ctx: RequestContext) -> bytes:
    """Unknown paths under /api and /apis get a NotFound Status, others Go's text 404."""
    parts = [p for p in ctx.path.split("/") if p]
    if parts[:1] in (["api"], ["apis"]):
        raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
    return responses.write_text(ctx, 404, "404 page not found\n")


def _discovery(ctx: RequestContext, server: APIServer, legacy: bool, doc: dict[str, Any]) -> bytes:
    out = negotiation.negotiate(ctx.header("accept"), _DISCOVERY_AS)
    merger = server.aggregator.discovery if server.aggregator is not None and not legacy else None
    if out.convert == "APIGroupDiscoveryList":
        agg = discovery.aggregated(server.catalog, legacy, out.version)
        if merger is not None:
            agg = merger.merge_aggregated(agg, server.catalog.groups())
        return responses.write_object(ctx, 200, agg, out.media_type, out.content_type)
    if merger is not None:
        doc = merger.merge_group_list(doc, server.catalog.groups())
    return responses.write_object(ctx, 200, doc, out.media_type)


def _plain_doc(ctx: RequestContext, doc: dict[str, Any]) -> bytes:
    out = negotiation.negotiate(ctx.header("accept"))
    return responses.write_object(ctx, 200, doc, out.media_type)


async def handle(server: APIServer, ctx: RequestContext) -> bytes:
    path = "/" + ctx.path.strip("/")
    parts = [p for p in path.split("/") if p]
    if ctx.method not in ("GET", "HEAD"):
        if parts and parts[0] in ("api", "apis"):
            raise StatusError(405, "MethodNotAllowed",
                              "the server does not allow this method on the requested resource")
        return not_found_text(ctx)

    if path == "/api":
        return _discovery(ctx, server, True, discovery.api_versions(server.server_address()))
    if path == "/apis":
        return _discovery(ctx, server, False, discovery.api_group_list(server.catalog))
    if parts[:1] == ["api"] and len(parts) == 2:
        doc = discovery.resource_list(server.catalog, "", parts[1])
        if doc is None:
            return not_found_text(ctx)
        return _plain_doc(ctx, doc)
    if parts[:1] == ["apis"] and len(parts) == 2:
        grp = discovery.api_group(server.catalog, parts[1])
        if grp is None and server.aggregator is not None:
            grp = server.aggregator.discovery.group(parts[1])
        if grp is None:
            return not_found_text(ctx)
        return _plain_doc(ctx, grp)
    if parts[:1] == ["apis"] and len(parts) == 3:
        doc = discovery.resource_list(server.catalog, parts[1], parts[2])
        if doc is None:
            return not_found_text(ctx)
        return _plain_doc(ctx, doc)
    if parts and parts[0] in ("healthz", "livez", "readyz") and len(parts) <= 2:
        return await _health(server, ctx, parts[0], parts[1] if len(parts) == 2 else "")
    if path == "/version":
        return responses.write_object(ctx, 200, VERSION_INFO, JSON)
    if path == "/metrics":
        body, ctype = server.metrics.render()
        return responses.write_body(ctx, 200, body, ctype)
    if parts[:1] == ["openapi"]:
        return _openapi(server, ctx, parts[1:])
    if path == "/":
        return responses.write_object(ctx, 200, {"paths": server.root_paths()}, JSON)
    extra = server.path_handlers.get(path)
    if extra is not None:
        return await extra(server, ctx)
    return not_found_text(ctx)


async def _health(server: APIServer, ctx: RequestContext, endpoint: str, sub: str) -> bytes:
    checks = server.checks_for(endpoint)
    verbose = "verbose" in ctx.query
    exclude = [e for v in ctx.query.get("exclude", []) for e in v.split(",") if e]
    code, text = await health.render(endpoint, checks, sub, verbose, exclude)
    return responses.write_text(ctx, code, text)


# What /openapi/v2 serves, in kube-openapi's order: (type, subtype, answered Content-Type).
_V2_FORMS = (
    ("application", "json", JSON),
    ("application", PROTOBUF_V2_DEPRECATED.split("/")[1], PROTOBUF_V2),
    ("application", PROTOBUF_V2.split("/")[1], PROTOBUF_V2),
)


def _v2_form(header: str | None) -> str | None:
    """The Content-Type to answer for /openapi/v2: the first form matching the Accept clauses
    sorted as goautoneg does (q, then specific types before wildcards); None means 406."""
    ranges = sorted(negotiation.parse_accept(header), key=lambda m: (-m.q, m.type.startswith("*/"),
                                                                     m.type.endswith("/*")))
    for m in ranges:
        mtype, _, msub = m.type.partition("/")
        for ftype, fsub, ctype in _V2_FORMS:
            if mtype in (ftype, "*") and msub in (fsub, "*"):
                return ctype
    return None


def _openapi_v2(server: APIServer, ctx: RequestContext) -> bytes:
    ctype = _v2_form(ctx.header("accept"))
    if ctype is None:
        raise not_acceptable((JSON, PROTOBUF_V2))
    docs = server.openapi()
    body, etag = docs.v2(), docs.v2_etag()
    if server.aggregator is not None:  # the extension servers' paths and definitions merged in
        body, etag = server.aggregator.openapi.v2(docs)
    if ctype != JSON:
        body = docs.v2_protobuf() if server.aggregator is None else server.aggregator.openapi.v2_protobuf(docs)
    ctx.request.setHeader(b"vary", b"Accept")
    ctx.request.setHeader(b"etag", f'"{etag}"'.encode())
    return responses.write_body(ctx, 200, body, ctype)


def _openapi(server: APIServer, ctx: RequestContext, rest: list[str]) -> bytes:
    if rest == ["v2"]:
        return _openapi_v2(server, ctx)
    accept = negotiation.parse_accept(ctx.header("accept"))
    if not any(m.type in (JSON, "*/*", "application/*") for m in accept):
        raise not_acceptable((JSON,))
    docs = server.openapi()
    if rest == ["v3"]:
        index = docs.v3_index() if server.aggregator is None else server.aggregator.openapi.v3_index(docs.v3_index())
        return responses.write_body(ctx, 200, index, JSON)
    if len(rest) >= 2 and rest[0] == "v3":
        path = "/".join(rest[1:])
        found = docs.v3(path)
        if found is None and server.aggregator is not None:  # an extension server's document, as fetched
            found = server.aggregator.openapi.v3(path)
        if found is None:
            return not_found_text(ctx)
        body, digest = found
        wanted = ctx.param("hash")
        if wanted and wanted != digest:
            ctx.request.setHeader(b"location", f"/openapi/v3/{path}?hash={digest}".encode())
            return responses.write_body(ctx, 301, b"", JSON)
        if wanted:
            ctx.request.setHeader(b"cache-control", b"public, immutable")
        ctx.request.setHeader(b"etag", f'"{digest}"'.encode())
        return responses.write_body(ctx, 200, body, JSON)
    return not_found_text(ctx)
