"""apiregistration.k8s.io/v1: APIService, stored and served (behaviour hooks; structure is
generated).  ``local_apiservices`` lists the objects kube-apiserver keeps for every built-in
group-version (``kubectl get apiservices``); the aggregation issue makes remote ones act."""

from __future__ import annotations

from typing import Any

from kubeapi.api import facts
from kubeapi.api.plain import storage_path
from kubeapi.api.printing import age_col, col, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    get,
    invalid,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "apiregistration.k8s.io"

# cmd/kube-apiserver/app/aggregator.go and pkg/controlplane/apiserver/aggregator.go (v1.34):
# group-version -> (groupPriorityMinimum, versionPriority).
PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apps", "v1"): (17800, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("batch", "v1"): (17400, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("resource.k8s.io", "v1"): (16200, 21),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("apiregistration.k8s.io", "v1"): (18000, 15),
}


def apiservice_name(group: str, version: str) -> str:
    """``v1.apps``; the core group's is ``v1.`` as upstream names it."""
    return f"{version}.{group}"


def local_apiservices(group_versions: list[tuple[str, list[str]]]) -> list[Obj]:
    """The local (no service) APIService objects of the built-in group-versions."""
    out: list[Obj] = []
    for group, versions in group_versions:
        for v in versions:
            if (group, v) not in PRIORITIES:
                continue
            min_prio, prio = PRIORITIES[(group, v)]
            spec: dict[str, Any] = {"version": v, "groupPriorityMinimum": min_prio, "versionPriority": prio}
            if group:
                spec = {"group": group, **spec}
            out.append({"apiVersion": f"{GROUP}/v1", "kind": "APIService",
                        "metadata": {"name": apiservice_name(group, v),
                                     "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"}},
                        "spec": spec})
    return out


def validate_apiservice(svc: Obj) -> list[FieldError]:
    errs = validate_object_meta(svc, lambda _n: [], namespaced=False)
    spec = svc.get("spec") or {}
    version, group = spec.get("version") or "", spec.get("group") or ""
    if not version:
        errs.append(required("spec.version"))
    name = get(svc, "metadata.name") or ""
    if version and name != apiservice_name(group, version):
        errs.append(invalid("metadata.name", name, f"must be `spec.version+\".\"+spec.group`: "
                                                   f"\"{apiservice_name(group, version)}\""))
    for f in ("groupPriorityMinimum", "versionPriority"):
        v = spec.get(f)
        if not isinstance(v, int) or v <= 0:
            errs.append(invalid(f"spec.{f}", v, "must be positive and less than 20000" if f.startswith("group")
                                else "must be positive and less than 1000"))
    if spec.get("service") is None and (spec.get("caBundle") or spec.get("insecureSkipTLSVerify")):
        errs.append(invalid("spec", spec, "local APIServices may not have a caBundle"))
    return errs


def _service(svc: Obj) -> str:
    s = get(svc, "spec.service")
    return "Local" if not s else f"{s.get('namespace', '')}/{s.get('name', '')}"


def _available(svc: Obj) -> str:
    for c in get(svc, "status.conditions") or []:
        if c.get("type") == "Available":
            status = str(c.get("status"))
            return status if status == "True" else f"{status} ({c.get('reason', '')})"
    return "Unknown"


def default_apiservice(svc: Obj) -> None:
    svc_ref = get(svc, "spec.service")
    if isinstance(svc_ref, dict):
        svc_ref.setdefault("port", 443)


APISERVICES = facts.resource(
    GROUP, "v1", "apiservices",
    columns=(name_col(), col("Service", "string", _service, "The reference to the service that hosts this API "
                                                            "endpoint."),
             col("Available", "string", _available, "Whether this service is available."), age_col()),
    default=default_apiservice, validate=validate_apiservice, validate_update=validate_object_meta_update,
    storage_path=storage_path(GROUP, "apiservices"),
)

RESOURCES: list[ResourceDef] = [APISERVICES]
