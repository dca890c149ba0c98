"""resource.k8s.io/v1 (dynamic resource allocation): DeviceClass, ResourceClaim,
ResourceClaimTemplate, ResourceSlice (behaviour hooks; structure is generated)."""

from __future__ import annotations

from kubeapi.api import facts
from kubeapi.api.printing import age_col, col, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    get,
    invalid,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "resource.k8s.io"


def claim_state(claim: Obj) -> str:
    parts = ["allocated" if get(claim, "status.allocation") else "pending"]
    if get(claim, "status.reservedFor"):
        parts.append("reserved")
    if get(claim, "metadata.deletionTimestamp"):
        parts.append("deleted")
    return ",".join(parts)


def validate_claim_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if new.get("spec") != old.get("spec"):
        errs.append(invalid("spec", new.get("spec"), "field is immutable"))
    return errs


def validate_slice(rs: Obj) -> list[FieldError]:
    errs = validate_object_meta(rs, namespaced=False)
    spec = rs.get("spec") or {}
    if not spec.get("driver"):
        errs.append(required("spec.driver"))
    if not (spec.get("pool") or {}).get("name"):
        errs.append(required("spec.pool.name"))
    chosen = [k for k in ("nodeName", "nodeSelector", "allNodes", "perDeviceNodeSelection") if spec.get(k)]
    if len(chosen) != 1:
        errs.append(required("spec", "exactly one of `nodeName`, `nodeSelector`, `allNodes`, "
                                     "`perDeviceNodeSelection` is required"))
    return errs


RESOURCES: list[ResourceDef] = [
    facts.resource(GROUP, "v1", "deviceclasses", columns=(name_col(), age_col()),
                   validate=lambda o: validate_object_meta(o, namespaced=False),
                   validate_update=validate_object_meta_update, has_generation=True),
    facts.resource(GROUP, "v1", "resourceclaims",
                   columns=(name_col(), col("State", "string", claim_state, "A summary of the current state "
                                            "(allocated, pending, reserved, etc.)."), age_col()),
                   validate_update=validate_claim_update, validate=validate_object_meta),
    facts.resource(GROUP, "v1", "resourceclaimtemplates", columns=(name_col(), age_col()),
                   validate=validate_object_meta, validate_update=validate_claim_update),
    facts.resource(GROUP, "v1", "resourceslices",
                   columns=(name_col(),
                            col("Node", "string", lambda o: get(o, "spec.nodeName") or "<none>", "nodeName"),
                            col("Driver", "string", lambda o: get(o, "spec.driver") or "", "driver"),
                            col("Pool", "string", lambda o: get(o, "spec.pool.name") or "", "pool"),
                            age_col()),
                   validate=validate_slice, validate_update=validate_object_meta_update,
                   field_selectors={"spec.nodeName": lambda o: get(o, "spec.nodeName") or "",
                                    "spec.driver": lambda o: get(o, "spec.driver") or ""}),
]
