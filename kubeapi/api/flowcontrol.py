"""flowcontrol.apiserver.k8s.io/v1: FlowSchema and PriorityLevelConfiguration (behaviour hooks;
structure is generated).  Upstream's bootstrap objects are created at start
(kubeapi.controllers.flowcontrol_bootstrap)."""

from __future__ import annotations

from kubeapi.api import facts
from kubeapi.api.printing import NONE, age_col, col, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    check_enum,
    get,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "flowcontrol.apiserver.k8s.io"


def default_flow_schema(fs: Obj) -> None:
    spec = fs.setdefault("spec", {})
    spec.setdefault("matchingPrecedence", 1000)


def validate_flow_schema(fs: Obj) -> list[FieldError]:
    errs = validate_object_meta(fs, namespaced=False)
    if not get(fs, "spec.priorityLevelConfiguration.name"):
        errs.append(required("spec.priorityLevelConfiguration.name", "must reference a priority level"))
    dm = get(fs, "spec.distinguisherMethod.type")
    if dm is not None:
        errs += check_enum(dm, "spec.distinguisherMethod.type", ("ByNamespace", "ByUser"))
    return errs


def _missing_pl(fs: Obj) -> str:
    for c in get(fs, "status.conditions") or []:
        if c.get("type") == "Dangling":
            return str(c.get("status"))
    return "Unknown"


def default_priority_level(pl: Obj) -> None:
    spec = pl.setdefault("spec", {})
    limited = spec.get("limited")
    if spec.get("type") == "Limited" and isinstance(limited, dict):
        limited.setdefault("nominalConcurrencyShares", 30)
        limited.setdefault("lendablePercent", 0)
        lr = limited.setdefault("limitResponse", {"type": "Reject"})
        q = lr.get("queuing") if lr.get("type") == "Queue" else None
        if isinstance(q, dict):
            q.setdefault("queues", 64)
            q.setdefault("handSize", 8)
            q.setdefault("queueLengthLimit", 50)
    exempt = spec.get("exempt")
    if spec.get("type") == "Exempt" and isinstance(exempt, dict):
        exempt.setdefault("nominalConcurrencyShares", 0)
        exempt.setdefault("lendablePercent", 0)


def validate_priority_level(pl: Obj) -> list[FieldError]:
    errs = validate_object_meta(pl, namespaced=False)
    errs += check_enum(get(pl, "spec.type"), "spec.type", ("Exempt", "Limited"), required_=True)
    return errs


def _queuing(path: str) -> object:
    return lambda o: str(get(o, f"spec.limited.limitResponse.queuing.{path}")) \
        if get(o, f"spec.limited.limitResponse.queuing.{path}") is not None else NONE


RESOURCES: list[ResourceDef] = [
    facts.resource(
        GROUP, "v1", "flowschemas",
        columns=(name_col(),
                 col("PriorityLevel", "string", lambda o: get(o, "spec.priorityLevelConfiguration.name") or "",
                     "Name of the priority level"),
                 col("MatchingPrecedence", "string", lambda o: str(get(o, "spec.matchingPrecedence") or 0),
                     "Matching precedence"),
                 col("DistinguisherMethod", "string",
                     lambda o: get(o, "spec.distinguisherMethod.type") or NONE, "Distinguisher method"),
                 age_col(),
                 col("MissingPL", "string", _missing_pl, "Whether the priority level is missing")),
        default=default_flow_schema, validate=validate_flow_schema,
        validate_update=validate_object_meta_update, has_generation=True),
    facts.resource(
        GROUP, "v1", "prioritylevelconfigurations",
        columns=(name_col(),
                 col("Type", "string", lambda o: get(o, "spec.type") or "", "Type"),
                 col("NominalConcurrencyShares", "string",
                     lambda o: str(get(o, "spec.limited.nominalConcurrencyShares"))
                     if get(o, "spec.type") == "Limited" else NONE, "Nominal concurrency shares"),
                 col("Queues", "string", _queuing("queues"), "Queues"),  # type: ignore[arg-type]
                 col("HandSize", "string", _queuing("handSize"), "Hand size"),  # type: ignore[arg-type]
                 col("QueueLengthLimit", "string", _queuing("queueLengthLimit"),  # type: ignore[arg-type]
                     "Queue length limit"),
                 age_col()),
        default=default_priority_level, validate=validate_priority_level,
        validate_update=validate_object_meta_update, has_generation=True),
]
