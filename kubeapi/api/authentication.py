"""The authentication.k8s.io group: TokenReview and SelfSubjectReview, create-only and not
stored (their handlers live in kubeapi.auth.authn.reviews)."""

from __future__ import annotations

from kubeapi.api import schema as s
from kubeapi.api.printing import age_col, name_col
from kubeapi.api.types import ResourceDef

GROUP = "authentication.k8s.io"

_USER = s.obj({"username": s.string(), "uid": s.string(), "groups": s.atomic(s.string()),
               "extra": s.string_map(s.atomic(s.string()))})

TOKENREVIEWS = ResourceDef(
    group=GROUP, version="v1", kind="TokenReview", plural="tokenreviews", singular="tokenreview",
    namespaced=False, verbs=("create",), columns=(name_col(), age_col()),
    schema=s.kind_schema(GROUP, "v1", "TokenReview", "Asks whether a token is valid and whom it names.", {
        "spec": s.obj({"token": s.string(), "audiences": s.atomic(s.string())}),
        "status": s.obj({"authenticated": s.boolean(), "user": _USER, "audiences": s.atomic(s.string()),
                         "error": s.string()}),
    }),
)

SELFSUBJECTREVIEWS = ResourceDef(
    group=GROUP, version="v1", kind="SelfSubjectReview", plural="selfsubjectreviews",
    singular="selfsubjectreview", namespaced=False, verbs=("create",), columns=(name_col(), age_col()),
    schema=s.kind_schema(GROUP, "v1", "SelfSubjectReview", "Tells the caller who the server thinks it is.", {
        "status": s.obj({"userInfo": _USER}),
    }),
)

RESOURCES: list[ResourceDef] = [SELFSUBJECTREVIEWS, TOKENREVIEWS]
