"""Impersonation (``kubectl --as``): Impersonate-User / -Group / -Uid / -Extra-* headers,
each checked with the ``impersonate`` verb as upstream's WithImpersonation does."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from kubeapi.auth.authorizer import Attributes, Decision, forbidden_error
from kubeapi.auth.user import UserInfo
from kubeapi.errors import bad_request
from kubeapi.server.context import RequestContext

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer

SA_PREFIX = "system:serviceaccount:"


def _headers(ctx: RequestContext, name: str) -> list[str]:
    raw = ctx.request.requestHeaders.getRawHeaders(name) or []
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in raw]


def _extras(ctx: RequestContext) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, values in ctx.request.requestHeaders.getAllRawHeaders():
        key = name.decode("latin-1") if isinstance(name, bytes) else name
        if key.lower().startswith("impersonate-extra-"):
            extra_key = unquote(key[len("impersonate-extra-"):]).lower()
            out.setdefault(extra_key, []).extend(
                v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values)
    return out


async def impersonate(server: APIServer, ctx: RequestContext) -> None:
    """Replace ctx.user with the impersonated user when asked and allowed."""
    users = _headers(ctx, "impersonate-user")
    groups = _headers(ctx, "impersonate-group")
    uids = _headers(ctx, "impersonate-uid")
    extras = _extras(ctx)
    if not users:
        if groups or uids or extras:
            raise bad_request(f"requested {groups + uids + list(extras)} without impersonating a user")
        return
    assert ctx.user is not None
    actor = ctx.user
    name = users[0]
    checks: list[Attributes] = []
    if name.startswith(SA_PREFIX) and name.count(":") == 3:
        _, _, ns, sa = name.split(":")
        checks.append(Attributes(user=actor, verb="impersonate", is_resource_request=True,
                                 namespace=ns, resource="serviceaccounts", name=sa))
        # A service account's groups are fixed; they stand in only when none are asked for.
        new_groups = [] if groups else ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    else:
        checks.append(Attributes(user=actor, verb="impersonate", is_resource_request=True,
                                 resource="users", name=name))
        new_groups = []
    for g in groups:
        checks.append(Attributes(user=actor, verb="impersonate", is_resource_request=True,
                                 resource="groups", name=g))
        if g not in new_groups:
            new_groups.append(g)
    for uid in uids:
        checks.append(Attributes(user=actor, verb="impersonate", is_resource_request=True,
                                 api_group="authentication.k8s.io", resource="uids", name=uid))
    for key, values in extras.items():
        for v in values:
            checks.append(Attributes(user=actor, verb="impersonate", is_resource_request=True,
                                     api_group="authentication.k8s.io", resource="userextras",
                                     subresource=key, name=v))
    for attrs in checks:
        decision, reason = await server.authorizer.authorize(attrs)
        if decision is not Decision.ALLOW:
            raise forbidden_error(attrs, reason)
    if name != "system:anonymous":
        if "system:authenticated" not in new_groups:
            new_groups.append("system:authenticated")
    elif "system:unauthenticated" not in new_groups:
        new_groups.append("system:unauthenticated")
    ctx.user = UserInfo(name, uid=uids[0] if uids else "", groups=tuple(new_groups),
                        extra={k: tuple(v) for k, v in extras.items()})
