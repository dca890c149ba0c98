"""The apps group: deployments, replicasets, statefulsets, daemonsets,
controllerrevisions."""

from __future__ import annotations

from typing import Any

from kubeapi.api import facts
from kubeapi.api.core_volumes import default_pvc
from kubeapi.api.podspec import default_pod_template
from kubeapi.api.printing import (
    NONE,
    age_col,
    col,
    containers_cols,
    format_labels,
    int_at,
    name_col,
)
from kubeapi.api.types import FieldError, Obj, ResourceDef, ScaleSpec
from kubeapi.api.validation import (
    Errors,
    check_enum,
    check_non_negative,
    each_object,
    forbidden,
    get,
    invalid,
    required,
    validate_object_meta,
    validate_object_meta_update,
)
from kubeapi.api.workloads import (
    restart_policy_only,
    selector_col,
    selector_immutable,
    validate_replicas,
    validate_selected_template,
)
from kubeapi.jsontypes import deep_copy

GROUP = "apps"

# ---------------------------------------------------------------- shared


def _spec(o: Obj) -> dict[str, Any] | None:
    spec = o.get("spec")
    return spec if isinstance(spec, dict) else None


def _pct_or_int(value: Any) -> tuple[bool, float]:
    """(is valid, numeric) for an IntOrString like 25% or 1."""
    if isinstance(value, bool):
        return False, 0
    if isinstance(value, int):
        return value >= 0, float(value)
    if isinstance(value, str) and value.endswith("%"):
        try:
            n = int(value[:-1])
        except ValueError:
            return False, 0
        return 0 <= n, float(n)
    return False, 0


def _check_rolling(ru: Any, p: str, allow_zero_both: bool = False) -> Errors:
    if not isinstance(ru, dict):
        return []
    errs: Errors = []
    vals = {}
    for key in ("maxUnavailable", "maxSurge"):
        if key not in ru or ru[key] is None:
            continue
        ok, n = _pct_or_int(ru[key])
        if not ok:
            if isinstance(ru[key], str) and not ru[key].endswith("%"):
                errs.append(invalid(f"{p}.{key}", ru[key],
                                    "a valid percent string must be a numeric string followed by "
                                    "an ending '%' (e.g. '1%',  or '93%', regex used for "
                                    "validation is '[0-9]+%')"))
            else:
                errs.append(invalid(f"{p}.{key}", ru[key], "must be greater than or equal to 0"))
            continue
        if isinstance(ru[key], str) and n > 100:
            errs.append(invalid(f"{p}.{key}", ru[key], "must not be greater than 100%"))
        vals[key] = n
    if not allow_zero_both and vals.get("maxUnavailable") == 0 and vals.get("maxSurge", 0) == 0:
        errs.append(invalid(f"{p}.maxUnavailable", ru.get("maxUnavailable"),
                            "may not be 0 when `maxSurge` is 0"))
    return errs


def _default_strategy(spec: Obj, field: str, rolling: dict[str, Any]) -> None:
    """``spec.<field>`` defaults to RollingUpdate, whose ``rollingUpdate`` gets ``rolling``."""
    strategy = spec.setdefault(field, {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            if isinstance(ru, dict):
                for key, value in rolling.items():
                    ru.setdefault(key, value)


def _ready_of_desired(o: Obj) -> str:
    """The ``READY`` column of deployments and statefulsets: ready/desired replicas."""
    return f"{get(o, 'status.readyReplicas') or 0}/{get(o, 'spec.replicas') or 0}"




# ---------------------------------------------------------------- deployments


def default_deployment(d: Obj) -> None:
    spec = _spec(d)
    if spec is None:
        return
    spec.setdefault("replicas", 1)
    _default_strategy(spec, "strategy", {"maxUnavailable": "25%", "maxSurge": "25%"})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    default_pod_template(spec.get("template"))


def validate_deployment(d: Obj) -> list[FieldError]:
    errs = validate_object_meta(d)
    spec = _spec(d)
    if spec is None:
        return errs + [required("spec")]
    errs += validate_replicas(spec)
    errs += validate_selected_template(spec, "deployment")
    errs += restart_policy_only(spec, ("Always",), "spec")
    strategy = spec.get("strategy") or {}
    stype = strategy.get("type")
    errs += check_enum(stype, "spec.strategy.type", ("Recreate", "RollingUpdate"))
    if stype == "Recreate" and strategy.get("rollingUpdate") is not None:
        errs.append(forbidden("spec.strategy.rollingUpdate",
                              "may not be specified when strategy `type` is 'Recreate'"))
    elif stype == "RollingUpdate":
        errs += _check_rolling(strategy.get("rollingUpdate"), "spec.strategy.rollingUpdate")
    for key in ("minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        errs += check_non_negative(spec.get(key), f"spec.{key}")
    pds, mrs = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds") or 0
    if isinstance(pds, int) and isinstance(mrs, int) and pds <= mrs:
        errs.append(invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    return errs


def validate_deployment_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_object_meta_update(new, old) + selector_immutable(new, old)



DEPLOYMENTS = facts.resource(
    GROUP, "v1", "deployments",
    columns=(
        name_col(),
        col("Ready", "string", _ready_of_desired, "Number of the pod with ready state"),
        col("Up-to-date", "integer", int_at("status.updatedReplicas"),
            "Total number of non-terminated pods targeted by this deployment that have the "
            "desired template spec."),
        col("Available", "integer", int_at("status.availableReplicas"),
            "Total number of available pods (ready for at least minReadySeconds) targeted by "
            "this deployment."),
        age_col(),
        *containers_cols(),
        selector_col(),
    ),
    default=default_deployment,
    validate=validate_deployment,
    validate_update=validate_deployment_update,
    has_status=True,
    has_generation=True,
    scale=ScaleSpec(),
)

# ---------------------------------------------------------------- replicasets


def default_replicaset(rs: Obj) -> None:
    spec = _spec(rs)
    if spec is None:
        return
    spec.setdefault("replicas", 1)
    default_pod_template(spec.get("template"))


def validate_replicaset(rs: Obj) -> list[FieldError]:
    errs = validate_object_meta(rs)
    spec = _spec(rs)
    if spec is None:
        return errs + [required("spec")]
    errs += validate_replicas(spec)
    errs += check_non_negative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += validate_selected_template(spec, "deployment")
    errs += restart_policy_only(spec, ("Always",), "spec")
    return errs


REPLICASETS = facts.resource(
    GROUP, "v1", "replicasets",
    columns=(
        name_col(),
        col("Desired", "integer", int_at("spec.replicas"),
            "Replicas is the number of desired pods."),
        col("Current", "integer", int_at("status.replicas"),
            "Replicas is the most recently observed number of non-terminating pods."),
        col("Ready", "integer", int_at("status.readyReplicas"),
            "The number of non-terminating pods targeted by this ReplicaSet with a Ready "
            "Condition."),
        age_col(),
        *containers_cols(),
        selector_col(),
    ),
    field_selectors={"status.replicas": lambda o: str(get(o, "status.replicas") or 0)},
    default=default_replicaset,
    validate=validate_replicaset,
    validate_update=validate_deployment_update,
    has_status=True,
    has_generation=True,
    scale=ScaleSpec(),
)

# ---------------------------------------------------------------- statefulsets


def default_statefulset(ss: Obj) -> None:
    spec = _spec(ss)
    if spec is None:
        return
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    _default_strategy(spec, "updateStrategy", {"partition": 0})
    spec.setdefault("revisionHistoryLimit", 10)
    policy = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    if isinstance(policy, dict):
        policy.setdefault("whenDeleted", "Retain")
        policy.setdefault("whenScaled", "Retain")
    for pvc in spec.get("volumeClaimTemplates") or []:
        if isinstance(pvc, dict):
            default_pvc(pvc)  # claim templates default like the claims they stamp out
    default_pod_template(spec.get("template"))


def validate_statefulset(ss: Obj) -> list[FieldError]:
    errs = validate_object_meta(ss)
    spec = _spec(ss)
    if spec is None:
        return errs + [required("spec")]
    errs += validate_replicas(spec)
    errs += validate_selected_template(spec, "statefulset")
    errs += restart_policy_only(spec, ("Always",), "spec")
    errs += check_enum(spec.get("podManagementPolicy"), "spec.podManagementPolicy",
                       ("OrderedReady", "Parallel"))
    us = spec.get("updateStrategy") or {}
    errs += check_enum(us.get("type"), "spec.updateStrategy.type", ("OnDelete", "RollingUpdate"))
    if us.get("type") == "OnDelete" and us.get("rollingUpdate") is not None:
        errs.append(invalid("spec.updateStrategy.rollingUpdate", us["rollingUpdate"],
                            "only allowed for updateStrategy 'RollingUpdate'"))
    errs += check_non_negative(get(us, "rollingUpdate.partition"),
                               "spec.updateStrategy.rollingUpdate.partition")
    policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    for key in ("whenDeleted", "whenScaled"):
        errs += check_enum(policy.get(key), f"spec.persistentVolumeClaimRetentionPolicy.{key}",
                           ("Retain", "Delete"))
    for vp, pvc in each_object(spec.get("volumeClaimTemplates") or [], "spec.volumeClaimTemplates", errs):
        if not get(pvc, "metadata.name"):
            errs.append(required(f"{vp}.metadata.name"))
    return errs


STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
               "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
STS_FORBIDDEN = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                 "'template', 'updateStrategy', 'revisionHistoryLimit', "
                 "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")


def validate_statefulset_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    ns = deep_copy(new.get("spec") or {})
    os_ = deep_copy(old.get("spec") or {})
    for key in STS_MUTABLE:
        ns.pop(key, None)
        os_.pop(key, None)
    for spec in (ns, os_):
        for pvc in spec.get("volumeClaimTemplates") or []:
            if isinstance(pvc, dict):
                pvc.pop("status", None)
    if ns != os_:
        errs.append(forbidden("spec", STS_FORBIDDEN))
    return errs


STATEFULSETS = facts.resource(
    GROUP, "v1", "statefulsets",
    columns=(
        name_col(),
        col("Ready", "string", _ready_of_desired, "Number of the pod with ready state"),
        age_col(),
        *containers_cols(),
    ),
    default=default_statefulset,
    validate=validate_statefulset,
    validate_update=validate_statefulset_update,
    has_status=True,
    has_generation=True,
    scale=ScaleSpec(),
)

# ---------------------------------------------------------------- daemonsets


def default_daemonset(ds: Obj) -> None:
    spec = _spec(ds)
    if spec is None:
        return
    _default_strategy(spec, "updateStrategy", {"maxUnavailable": 1, "maxSurge": 0})
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))


def validate_daemonset(ds: Obj) -> list[FieldError]:
    errs = validate_object_meta(ds)
    spec = _spec(ds)
    if spec is None:
        return errs + [required("spec")]
    errs += validate_selected_template(spec, "daemonset")
    errs += restart_policy_only(spec, ("Always",), "spec")
    us = spec.get("updateStrategy") or {}
    errs += check_enum(us.get("type"), "spec.updateStrategy.type", ("OnDelete", "RollingUpdate"))
    if us.get("type") == "RollingUpdate":
        errs += _check_rolling(us.get("rollingUpdate"), "spec.updateStrategy.rollingUpdate")
    for key in ("minReadySeconds", "revisionHistoryLimit"):
        errs += check_non_negative(spec.get(key), f"spec.{key}")
    return errs


DAEMONSETS = facts.resource(
    GROUP, "v1", "daemonsets",
    columns=(
        name_col(),
        col("Desired", "integer", int_at("status.desiredNumberScheduled"),
            "The total number of nodes that should be running the daemon pod."),
        col("Current", "integer", int_at("status.currentNumberScheduled"),
            "The number of nodes that are running at least 1 daemon pod."),
        col("Ready", "integer", int_at("status.numberReady"),
            "The number of nodes that should be running the daemon pod and have one or more of "
            "the daemon pod running with a Ready Condition."),
        col("Up-to-date", "integer", int_at("status.updatedNumberScheduled"),
            "The total number of nodes that are running updated daemon pod"),
        col("Available", "integer", int_at("status.numberAvailable"),
            "The number of nodes that should be running the daemon pod and have one or more of "
            "the daemon pod running and available."),
        col("Node Selector", "string",
            lambda o: format_labels(get(o, "spec.template.spec.nodeSelector")),
            "NodeSelector is a selector which must be true for the pod to fit on a node."),
        age_col(),
        *containers_cols(),
        selector_col(),
    ),
    default=default_daemonset,
    validate=validate_daemonset,
    validate_update=validate_deployment_update,
    has_status=True,
    has_generation=True,
)

# ---------------------------------------------------------------- controllerrevisions


def _controller(o: Obj) -> str:
    for ref in get(o, "metadata.ownerReferences") or []:
        if ref.get("controller"):
            api_version = str(ref.get("apiVersion", ""))
            group = api_version.split("/")[0] if "/" in api_version else ""
            kind = ref.get("kind", "")
            gk = f"{kind}.{group}" if group else kind
            return f"{gk.lower()}/{ref.get('name', '')}"
    return NONE


def validate_revision(o: Obj) -> list[FieldError]:
    errs = validate_object_meta(o)
    errs += check_non_negative(o.get("revision"), "revision")
    return errs


def validate_revision_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if new.get("data") != old.get("data"):
        errs.append(invalid("data", new.get("data"), "field is immutable"))
    return errs


CONTROLLER_REVISIONS = facts.resource(
    GROUP, "v1", "controllerrevisions",
    columns=(
        name_col(),
        col("Controller", "string", _controller, "Controller of the object"),
        col("Revision", "integer", lambda o: o.get("revision") or 0,
            "Revision indicates the revision of the state represented by Data."),
        age_col(),
    ),
    validate=validate_revision,
    validate_update=validate_revision_update,
)

RESOURCES: list[ResourceDef] = [
    CONTROLLER_REVISIONS,
    DAEMONSETS,
    DEPLOYMENTS,
    REPLICASETS,
    STATEFULSETS,
]
