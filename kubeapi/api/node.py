"""node.k8s.io/v1: RuntimeClass (behaviour hooks; structure is generated)."""

from __future__ import annotations

from kubeapi.api import facts
from kubeapi.api.printing import age_col, col, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    dns1123_label,
    immutable,
    invalid,
    required,
    validate_object_meta,
    validate_object_meta_update,
)


def validate_runtime_class(rc: Obj) -> list[FieldError]:
    errs = validate_object_meta(rc, namespaced=False)
    handler = rc.get("handler")
    if not handler:
        errs.append(required("handler"))
    else:
        errs += [invalid("handler", handler, m) for m in dns1123_label(str(handler))]
    return errs


def validate_runtime_class_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if new.get("handler") != old.get("handler"):
        errs.append(immutable("handler", new.get("handler")))
    return errs


RUNTIMECLASSES = facts.resource(
    "node.k8s.io", "v1", "runtimeclasses",
    columns=(name_col(), col("Handler", "string", lambda o: o.get("handler") or "",
                             "handler specifies the underlying runtime and configuration that the CRI "
                             "implementation will use to handle pods of this class."), age_col()),
    validate=validate_runtime_class, validate_update=validate_runtime_class_update,
)

RESOURCES: list[ResourceDef] = [RUNTIMECLASSES]
