"""HTTP side of pods/binding, the bindings resource and pods/eviction: decode the body, run
the registry's write (kubeapi.registry.podsubresources) and answer 201 with a Status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubeapi.api.types import ResourceDef
from kubeapi.registry import podsubresources
from kubeapi.server import negotiation, params, responses
from kubeapi.server.context import RequestContext

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer

Obj = dict[str, Any]


def _body(server: APIServer, ctx: RequestContext) -> Obj:
    from kubeapi.server.handlers import _read_body

    limit = server.max_request_body_bytes
    return negotiation.decode_body(ctx.header("content-type"), _read_body(ctx, limit), limit)


def _reply(ctx: RequestContext, body: Obj) -> bytes:
    out = negotiation.negotiate(ctx.header("accept"), frozenset(), False)
    return responses.write_object(ctx, int(body.get("code") or 201), body, out.media_type)


async def binding(server: APIServer, ctx: RequestContext, rdef: ResourceDef) -> bytes:
    """POST /api/v1/namespaces/<ns>/pods/<name>/binding."""
    dry_run = params.dry_run(ctx, "CreateOptions")
    pods = server.store("", "v1", "pods")
    result = await podsubresources.bind(pods, ctx.info.namespace, ctx.info.parts[1], _body(server, ctx), dry_run)
    return _reply(ctx, result)


async def bindings(server: APIServer, ctx: RequestContext, rdef: ResourceDef) -> bytes:
    """POST /api/v1/namespaces/<ns>/bindings: the pod is named by the Binding itself."""
    dry_run = params.dry_run(ctx, "CreateOptions")
    pods = server.store("", "v1", "pods")
    result = await podsubresources.bind(pods, ctx.info.namespace, None, _body(server, ctx), dry_run)
    return _reply(ctx, result)


async def eviction(server: APIServer, ctx: RequestContext, rdef: ResourceDef) -> bytes:
    """POST /api/v1/namespaces/<ns>/pods/<name>/eviction (policy/v1 or v1beta1 Eviction)."""
    dry_run = params.dry_run(ctx, "CreateOptions")
    pods = server.store("", "v1", "pods")
    result = await podsubresources.evict(pods, ctx.info.namespace, ctx.info.parts[1], _body(server, ctx),
                                         dry_run, ctx.user)
    return _reply(ctx, result)


def install(server: APIServer) -> None:
    server.add_subresource_handler("pods", "binding", binding)
    server.add_subresource_handler("pods", "eviction", eviction)
    server.add_create_handler("", "bindings", bindings)
