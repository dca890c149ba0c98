"""Impersonation (``kubectl --as``): Impersonate-User / -Group / -Uid / -Extra-* headers,
each checked with the ``impersonate`` verb as upstream's WithImpersonation does."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from kubeapi.auth.authorizer import Attributes, Decision, EvaluationError, forbidden_error
from kubeapi.auth.user import UserInfo
from kubeapi.errors import internal_error
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


def asks_to_impersonate(ctx: RequestContext) -> bool:
    """Whether any Impersonate-* header came: one pass over the names, where looking each
    one up cost more on every request that has none."""
    raw = ctx._headers
    if raw is not None:  # twisted's own table: names in its canonical spelling
        for key in raw:
            if key.startswith(b"Impersonate-"):
                return True
        return False
    for name, _ in ctx.request.requestHeaders.getAllRawHeaders():
        prefix = name[:12].lower()
        if prefix == b"impersonate-" or prefix == "impersonate-":
            return True
    return False


def _ref_text(kind: str, name: str, namespace: str = "", api_version: str = "", field_path: str = "") -> str:
    """Go's %v of a core/v1 ObjectReference (Kind Namespace Name UID APIVersion ResourceVersion
    FieldPath), which upstream prints in its error."""
    return "{" + " ".join((kind, namespace, name, "", api_version, "", field_path)) + "}"


def _sa_parts(name: str) -> tuple[str, str] | None:
    if not name.startswith(SA_PREFIX):
        return None
    parts = name[len(SA_PREFIX):].split(":")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


async def impersonate(server: APIServer, ctx: RequestContext) -> None:
    """Replace ctx.user with the impersonated user when asked and allowed, checking each
    requested attribute in upstream's order: user (or service account), groups, extras, uid."""
    if not asks_to_impersonate(ctx):
        return
    users = _headers(ctx, "impersonate-user")
    groups = _headers(ctx, "impersonate-group")
    uids = _headers(ctx, "impersonate-uid")
    extras = _extras(ctx)
    name = users[0] if users else ""
    uid = uids[0] if uids else ""
    if not name:
        if groups or uid or extras:
            refs = [_ref_text("Group", g) for g in groups]
            refs += [_ref_text("UserExtra", v, api_version="authentication.k8s.io/v1", field_path=k)
                     for k, vs in extras.items() for v in vs]
            if uid:
                refs.append(_ref_text("UID", uid, api_version="authentication.k8s.io/v1"))
            raise internal_error(f"requested [{' '.join(refs)}] without impersonating a user")
        return
    assert ctx.user is not None
    actor = ctx.user
    checks: list[Attributes] = []
    new_groups: list[str] = []
    sa = _sa_parts(name)
    if sa is not None:
        checks.append(Attributes(user=actor, verb="impersonate", is_resource_request=True,
                                 namespace=sa[0], resource="serviceaccounts", name=sa[1]))
        if not groups:  # a service account's groups are fixed; given groups replace them
            new_groups = ["system:serviceaccounts", f"system:serviceaccounts:{sa[0]}"]
    else:
        checks.append(Attributes(user=actor, verb="impersonate", is_resource_request=True,
                                 resource="users", name=name))
    for g in groups:
        checks.append(Attributes(user=actor, verb="impersonate", is_resource_request=True,
                                 resource="groups", name=g))
        new_groups.append(g)
    for key, values in extras.items():
        for v in values:
            checks.append(Attributes(user=actor, verb="impersonate", is_resource_request=True,
                                     api_group="authentication.k8s.io", api_version="v1",
                                     resource="userextras", subresource=key, name=v))
    if uid:
        checks.append(Attributes(user=actor, verb="impersonate", is_resource_request=True,
                                 api_group="authentication.k8s.io", api_version="v1",
                                 resource="uids", name=uid))
    for attrs in checks:
        try:
            decision, reason = await server.authorizer.authorize(attrs)
        except EvaluationError as e:
            decision, reason = Decision.NO_OPINION, e.reason
        if decision is not Decision.ALLOW:
            raise forbidden_error(attrs, reason)
    if name != "system:anonymous":
        if not {"system:authenticated", "system:unauthenticated"} & set(new_groups):
            new_groups.append("system:authenticated")
    elif "system:unauthenticated" not in new_groups:
        new_groups.append("system:unauthenticated")
    ctx.user = UserInfo(name, uid=uid, groups=tuple(new_groups),
                        extra={k: tuple(v) for k, v in extras.items()})
