"""The authorization.k8s.io group: the access and rules reviews.  Create-only and never
stored; answered by kubeapi.auth.reviews from the authorizer chain."""

from __future__ import annotations

from kubeapi.api import schema as s
from kubeapi.api.types import ResourceDef

GROUP = "authorization.k8s.io"

_RESOURCE_ATTRS = s.obj({
    "namespace": s.string(), "verb": s.string(), "group": s.string(), "version": s.string(),
    "resource": s.string(), "subresource": s.string(), "name": s.string(),
    "fieldSelector": s.preserve(), "labelSelector": s.preserve(),
})
_NON_RESOURCE_ATTRS = s.obj({"path": s.string(), "verb": s.string()})
_SAR_STATUS = s.obj({"allowed": s.boolean(), "denied": s.boolean(), "reason": s.string(),
                     "evaluationError": s.string()})
_SAR_SPEC = s.obj({
    "resourceAttributes": _RESOURCE_ATTRS, "nonResourceAttributes": _NON_RESOURCE_ATTRS,
    "user": s.string(), "groups": s.strings(), "uid": s.string(), "extra": s.preserve(),
})
_SELF_SAR_SPEC = s.obj({"resourceAttributes": _RESOURCE_ATTRS, "nonResourceAttributes": _NON_RESOURCE_ATTRS})
_RULES_STATUS = s.obj({
    "resourceRules": s.preserve(), "nonResourceRules": s.preserve(), "incomplete": s.boolean(),
    "evaluationError": s.string(),
})


def _review(kind: str, plural: str, namespaced: bool, spec: s.Schema, status: s.Schema, desc: str) -> ResourceDef:
    return ResourceDef(
        group=GROUP, version="v1", kind=kind, plural=plural, singular=kind.lower(), namespaced=namespaced,
        verbs=("create",),
        schema=s.kind_schema(GROUP, "v1", kind, desc, {"spec": spec, "status": status}, ("spec",)),
    )


RESOURCES: list[ResourceDef] = [
    _review("LocalSubjectAccessReview", "localsubjectaccessreviews", True, _SAR_SPEC, _SAR_STATUS,
            "Whether a user or group may perform an action in one namespace."),
    _review("SelfSubjectAccessReview", "selfsubjectaccessreviews", False, _SELF_SAR_SPEC, _SAR_STATUS,
            "Whether the requesting user may perform an action."),
    _review("SelfSubjectRulesReview", "selfsubjectrulesreviews", False, s.obj({"namespace": s.string()}),
            _RULES_STATUS, "The actions the requesting user may perform in a namespace."),
    _review("SubjectAccessReview", "subjectaccessreviews", False, _SAR_SPEC, _SAR_STATUS,
            "Whether a user or group may perform an action."),
]
