"""TokenReview and SelfSubjectReview (authentication.k8s.io/v1): answered from the
server's own authenticators, never stored."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubeapi.api.types import ResourceDef
from kubeapi.auth.user import UserInfo
from kubeapi.errors import bad_request

if TYPE_CHECKING:
    from kubeapi.server.context import RequestContext


def user_info(user: UserInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


def _body(server: Any, ctx: RequestContext) -> dict[str, Any]:
    from kubeapi.server import negotiation

    limit = server.max_request_body_bytes
    content = ctx.request.content
    raw = b""
    if content is not None:
        content.seek(0)
        raw = content.read(limit + 1)
    return negotiation.decode_body(ctx.header("content-type"), raw, limit) if raw.strip() else {}


def _reply(ctx: RequestContext, obj: dict[str, Any]) -> bytes:
    from kubeapi.server import negotiation, responses

    o = negotiation.negotiate(ctx.header("accept"), frozenset(), True)
    return responses.write_object(ctx, 201, obj, o.media_type, o.content_type)


async def token_review(server: Any, ctx: RequestContext, rdef: ResourceDef) -> bytes:
    req = _body(server, ctx)
    spec = dict(req.get("spec") or {})
    token = spec.get("token") or ""
    if not token:
        raise bad_request("token is required for TokenReview in authentication")
    requested = list(spec.get("audiences") or [])
    audiences = requested or list(getattr(server, "api_audiences", []) or [])
    user, errors = await server.authenticator.authenticate_token(token, audiences or None)
    status: dict[str, Any] = {"user": {}}
    if user is not None:
        status = {"authenticated": True, "user": user_info(user)}
        if audiences:
            status["audiences"] = audiences
    elif errors:
        status["error"] = "[" + ", ".join(["invalid bearer token", *errors]) + "]"
    return _reply(ctx, {"kind": "TokenReview", "apiVersion": rdef.api_version,
                        "metadata": {"creationTimestamp": None}, "spec": spec, "status": status})


async def self_subject_review(server: Any, ctx: RequestContext, rdef: ResourceDef) -> bytes:
    _body(server, ctx)
    assert ctx.user is not None
    return _reply(ctx, {"kind": "SelfSubjectReview", "apiVersion": rdef.api_version,
                        "metadata": {"creationTimestamp": None},
                        "status": {"userInfo": user_info(ctx.user)}})
