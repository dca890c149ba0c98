"""policy/v1: PodDisruptionBudget (behaviour hooks; structure is generated)."""

from __future__ import annotations

from typing import Any

from kubeapi.api import facts
from kubeapi.api.printing import age_col, col, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    check_enum,
    check_selector,
    get,
    invalid,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "policy"
EVICTION_POLICIES = ("AlwaysAllow", "IfHealthyBudget")


def _int_or_percent(value: Any, path: str) -> list[FieldError]:
    """Upstream's ValidatePositiveIntOrPercent plus the <=100% bound."""
    if value is None:
        return []
    if isinstance(value, str):
        if not value.endswith("%") or not value[:-1].isdigit():
            return [invalid(path, value, "a valid percent string must be a numeric string followed by an "
                                         "ending '%' (e.g. '1%',  or '93%', regex used for validation is "
                                         "'[0-9]+%')")]
        if int(value[:-1]) > 100:
            return [invalid(path, value, "must not be greater than 100%")]
        return []
    if isinstance(value, int) and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def validate_pdb(pdb: Obj) -> list[FieldError]:
    errs = validate_object_meta(pdb)
    spec = pdb.get("spec") or {}
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    errs += _int_or_percent(spec.get("minAvailable"), "spec.minAvailable")
    errs += _int_or_percent(spec.get("maxUnavailable"), "spec.maxUnavailable")
    if spec.get("selector") is not None:
        errs += check_selector(spec.get("selector"), "spec.selector", required_=False)
    errs += check_enum(spec.get("unhealthyPodEvictionPolicy"), "spec.unhealthyPodEvictionPolicy",
                       EVICTION_POLICIES)
    return errs


def _or_na(path: str) -> Any:
    return lambda o: "N/A" if get(o, path) is None else str(get(o, path))


PODDISRUPTIONBUDGETS = facts.resource(
    GROUP, "v1", "poddisruptionbudgets",
    columns=(
        name_col(),
        col("Min Available", "string", _or_na("spec.minAvailable"),
            "The minimum number of pods that must be available simultaneously."),
        col("Max Unavailable", "string", _or_na("spec.maxUnavailable"),
            "The maximum number of pods that may be unavailable simultaneously."),
        col("Allowed Disruptions", "integer", lambda o: get(o, "status.disruptionsAllowed") or 0,
            "Calculated number of pods that may be disrupted at this time."),
        age_col(),
    ),
    validate=validate_pdb, validate_update=validate_object_meta_update, has_generation=True,
)

RESOURCES: list[ResourceDef] = [PODDISRUPTIONBUDGETS]
