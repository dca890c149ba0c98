"""authorization.k8s.io/v1 reviews: SubjectAccessReview, LocalSubjectAccessReview,
SelfSubjectAccessReview, SelfSubjectRulesReview.  Create-only, answered from the server's
authorizer chain, never stored (what ``kubectl auth can-i`` asks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubeapi.api.types import FieldError, ResourceDef
from kubeapi.auth.authorizer import (
    AlwaysAllow,
    AlwaysDeny,
    Attributes,
    Decision,
    EvaluationError,
    PrivilegedGroups,
    Union,
)
from kubeapi.auth.rbac.index import aggregate_errors
from kubeapi.auth.user import UserInfo
from kubeapi.errors import bad_request, invalid
from kubeapi.server import negotiation, responses

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer
    from kubeapi.server.context import RequestContext

Obj = dict[str, Any]
GROUP = "authorization.k8s.io"
ALL_RESOURCES = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
ALL_URLS = {"verbs": ["*"], "nonResourceURLs": ["*"]}


def attributes_from(user: UserInfo, spec: Obj) -> Attributes:
    ra = spec.get("resourceAttributes")
    if ra is not None:
        return Attributes(user=user, verb=str(ra.get("verb") or ""), is_resource_request=True,
                          namespace=str(ra.get("namespace") or ""), api_group=str(ra.get("group") or ""),
                          api_version=str(ra.get("version") or "*"), resource=str(ra.get("resource") or ""),
                          subresource=str(ra.get("subresource") or ""), name=str(ra.get("name") or ""),
                          field_selector=str((ra.get("fieldSelector") or {}).get("rawSelector") or ""))
    nra = spec.get("nonResourceAttributes") or {}
    return Attributes(user=user, verb=str(nra.get("verb") or ""), is_resource_request=False,
                      path=str(nra.get("path") or ""))


def user_from_spec(spec: Obj) -> UserInfo:
    extra = {str(k): tuple(str(x) for x in (v or [])) for k, v in (spec.get("extra") or {}).items()}
    return UserInfo(str(spec.get("user") or ""), uid=str(spec.get("uid") or ""),
                    groups=tuple(str(g) for g in spec.get("groups") or []), extra=extra)


def _spec_errors(spec: Obj, with_user: bool) -> list[FieldError]:
    errs = []
    has_ra, has_nra = spec.get("resourceAttributes") is not None, spec.get("nonResourceAttributes") is not None
    if has_ra and has_nra:
        errs.append(FieldError("FieldValueInvalid", "spec.nonResourceAttributes", "cannot be specified in "
                               "combination with resourceAttributes", spec.get("nonResourceAttributes"), True))
    if not has_ra and not has_nra:
        errs.append(FieldError("FieldValueInvalid", "spec.resourceAttributes",
                               "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                               "null", True))
    if with_user and not spec.get("user") and not spec.get("groups"):
        errs.append(FieldError("FieldValueInvalid", "spec.user", "at least one of user or group must be specified",
                               spec.get("user") or "", True))
    return errs


def _status(decision: Decision, reason: str) -> Obj:
    st: Obj = {"allowed": decision is Decision.ALLOW}
    if decision is Decision.DENY:
        st["denied"] = True
    if reason:
        st["reason"] = reason
    return st


def rules_for(server: APIServer, user: UserInfo, namespace: str) -> tuple[list[Obj], list[Obj], bool, list[str]]:
    """(resource rules, non-resource rules, incomplete, errors) across the authorizer chain."""
    res: list[Obj] = []
    nonres: list[Obj] = []
    incomplete = False
    errors: list[str] = []
    chain = server.authorizer.authorizers if isinstance(server.authorizer, Union) else [server.authorizer]
    for a in chain:
        if isinstance(a, PrivilegedGroups):
            if a.groups.intersection(user.groups):
                res.append(dict(ALL_RESOURCES))
                nonres.append(dict(ALL_URLS))
        elif isinstance(a, AlwaysAllow):
            res.append(dict(ALL_RESOURCES))
            nonres.append(dict(ALL_URLS))
        elif isinstance(a, AlwaysDeny):
            continue
        elif hasattr(a, "rules_for"):
            rules, errs = a.rules_for(user, namespace)
            for r in rules:
                if r.get("resources"):
                    rr: Obj = {"verbs": list(r.get("verbs") or [])}
                    for k in ("apiGroups", "resources", "resourceNames"):
                        if r.get(k):
                            rr[k] = list(r[k])
                    res.append(rr)
                if r.get("nonResourceURLs"):
                    nonres.append({"verbs": list(r.get("verbs") or []),
                                   "nonResourceURLs": list(r["nonResourceURLs"])})
            if errs:
                errors.append(aggregate_errors(errs))
        else:
            what = getattr(a, "rules_unsupported", None)
            text = what(user) if callable(what) else None
            if text:
                incomplete = True
                errors.append(text)
    return res, nonres, incomplete, errors


def _read(server: APIServer, ctx: RequestContext, rdef: ResourceDef) -> Obj:
    from kubeapi.server.handlers import _read_body

    limit = server.max_request_body_bytes
    obj = negotiation.decode_body(ctx.header("content-type"), _read_body(ctx, limit), limit)
    if obj.get("kind") not in (None, rdef.kind) or obj.get("apiVersion") not in (None, rdef.api_version):
        raise bad_request(f"the API version in the data ({obj.get('apiVersion')}) does not match the expected "
                          f"API version ({rdef.api_version})")
    obj["apiVersion"], obj["kind"] = rdef.api_version, rdef.kind
    meta = obj.get("metadata") or {}
    meta.setdefault("creationTimestamp", None)
    obj["metadata"] = meta
    if not isinstance(obj.get("spec"), dict):
        obj["spec"] = {}
    return obj


def _reply(ctx: RequestContext, obj: Obj) -> bytes:
    """201 with the review; reviews have no Table or metadata form, so ``as=`` is a 406."""
    from kubeapi.server import negotiation

    out = negotiation.negotiate(ctx.header("accept"), frozenset(), ctx.protobuf)
    return responses.write_object(ctx, 201, obj, out.media_type, out.content_type)


async def create_review(server: APIServer, ctx: RequestContext, rdef: ResourceDef) -> bytes:
    assert ctx.user is not None
    obj = _read(server, ctx, rdef)
    spec = obj["spec"]
    kind = rdef.kind
    if kind == "SelfSubjectRulesReview":
        ns = str(spec.get("namespace") or "")
        if not ns:
            raise bad_request("no namespace on request")
        res, nonres, incomplete, errors = rules_for(server, ctx.user, ns)
        status: Obj = {"resourceRules": res, "nonResourceRules": nonres, "incomplete": incomplete}
        if errors:
            status["evaluationError"] = aggregate_errors(errors)
        return _reply(ctx, {"kind": kind, "apiVersion": rdef.api_version,
                            "metadata": {"creationTimestamp": None}, "spec": {}, "status": status})
    if kind == "SelfSubjectAccessReview":
        errs = _spec_errors(spec, with_user=False)
        user = ctx.user
    else:
        errs = _spec_errors(spec, with_user=True)
        user = user_from_spec(spec)
    if kind == "LocalSubjectAccessReview":
        ns = ctx.info.namespace
        meta = obj["metadata"]
        meta.setdefault("namespace", ns)
        if meta.get("namespace") != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on "
                              "the request")
        ra = spec.get("resourceAttributes")
        if ra is not None and (ra.get("namespace") or "") != ns:
            errs.append(FieldError("FieldValueInvalid", "spec.resourceAttributes.namespace",
                                   "must match metadata.namespace", ra.get("namespace") or "", True))
        if spec.get("nonResourceAttributes") is not None:
            errs.append(FieldError("FieldValueInvalid", "spec.nonResourceAttributes",
                                   "disallowed on this kind of request", spec["nonResourceAttributes"], True))
    if errs:
        raise invalid(kind, GROUP, "", errs)
    try:
        decision, reason = await server.authorizer.authorize(attributes_from(user, spec))
        status = _status(decision, reason)
    except EvaluationError as e:  # an authorizer failing (webhook down) is an evaluation error
        status = _status(Decision.NO_OPINION, e.reason)
        status["evaluationError"] = e.error
    obj["status"] = status
    return _reply(ctx, obj)


def install(server: APIServer) -> None:
    for plural in ("selfsubjectaccessreviews", "selfsubjectrulesreviews", "subjectaccessreviews",
                   "localsubjectaccessreviews"):
        server.add_create_handler(GROUP, plural, create_review)
