"""scheduling.k8s.io/v1: PriorityClass (behaviour hooks; structure is generated).  The two
system classes are created at start by kubeapi.controllers.bootstrap."""

from __future__ import annotations

from kubeapi.api import facts
from kubeapi.api.printing import age_col, col, name_col, wide
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    check_enum,
    forbidden,
    get,
    immutable,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "scheduling.k8s.io"
HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")


def default_priority_class(pc: Obj) -> None:
    pc.setdefault("preemptionPolicy", "PreemptLowerPriority")


def validate_priority_class(pc: Obj) -> list[FieldError]:
    errs = validate_object_meta(pc, namespaced=False)
    name = get(pc, "metadata.name") or ""
    value = pc.get("value")
    if name in SYSTEM_CLASSES:
        if value != SYSTEM_CLASSES[name]:
            errs.append(forbidden("metadata.name", f"priority class {name} is reserved and must have value "
                                                   f"{SYSTEM_CLASSES[name]}"))
    elif name.startswith("system-"):
        errs.append(forbidden("metadata.name", "priority class names with 'system-' prefix are reserved."))
    elif isinstance(value, int) and value > HIGHEST_USER_PRIORITY:
        errs.append(forbidden("value", f"maximum allowed value of a user defined priority is "
                                       f"{HIGHEST_USER_PRIORITY}"))
    if value is None:
        errs.append(required("value"))
    errs += check_enum(pc.get("preemptionPolicy"), "preemptionPolicy", PREEMPTION_POLICIES)
    return errs


def validate_priority_class_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if new.get("value") != old.get("value"):
        errs.append(forbidden("value", "may not be changed in an update."))
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        errs.append(immutable("preemptionPolicy", new.get("preemptionPolicy")))
    return errs


PRIORITYCLASSES = facts.resource(
    GROUP, "v1", "priorityclasses",
    columns=(
        name_col(),
        col("Value", "integer", lambda o: o.get("value") or 0,
            "value represents the integer value of this priority class."),
        col("Global-Default", "boolean", lambda o: bool(o.get("globalDefault")),
            "globalDefault specifies whether this PriorityClass should be considered as the default "
            "priority for pods that do not have any priority class."),
        age_col(),
        wide("PreemptionPolicy", "string", lambda o: o.get("preemptionPolicy") or "",
             "preemptionPolicy is the Policy for preempting pods with lower priority."),
    ),
    default=default_priority_class, validate=validate_priority_class,
    validate_update=validate_priority_class_update,
)

RESOURCES: list[ResourceDef] = [PRIORITYCLASSES]
