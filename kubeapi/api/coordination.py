"""The coordination.k8s.io group: leases (leader election, node heartbeats)."""

from __future__ import annotations

from kubeapi.api import facts
from kubeapi.api.printing import age_col, col, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    check_enum,
    check_non_negative,
    check_positive,
    get,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "coordination.k8s.io"


def validate_lease(lease: Obj) -> list[FieldError]:
    errs = validate_object_meta(lease)
    spec = lease.get("spec") or {}
    errs += check_positive(spec.get("leaseDurationSeconds"), "spec.leaseDurationSeconds")
    errs += check_non_negative(spec.get("leaseTransitions"), "spec.leaseTransitions")
    errs += check_enum(spec.get("strategy"), "spec.strategy", ("OldestEmulationVersion",))
    return errs


LEASES = facts.resource(
    GROUP, "v1", "leases",
    columns=(
        name_col(),
        col("Holder", "string", lambda o: get(o, "spec.holderIdentity") or "",
            "holderIdentity contains the identity of the holder of a current lease."),
        age_col(),
    ),
    validate=validate_lease,
    validate_update=validate_object_meta_update,
    allow_create_on_update=True,
)

RESOURCES: list[ResourceDef] = [LEASES]
