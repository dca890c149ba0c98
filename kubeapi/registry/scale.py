"""The ``scale`` subresource: an autoscaling/v1 Scale view of any kind with a ScaleSpec."""

from __future__ import annotations

from typing import Any

from kubeapi.api.types import FieldError, ScaleSpec
from kubeapi.registry.meta import get_path, set_path

Obj = dict[str, Any]


def selector_string(sel: Any) -> str:
    """Render a LabelSelector (or a plain map, as replicationcontrollers use) the way
    labels.Selector.String() does: requirements sorted by key, comma separated.  A string (a
    custom resource's labelSelectorPath points at one) is already in that form."""
    if isinstance(sel, str):
        return sel
    if not isinstance(sel, dict) or not sel:
        return ""
    if "matchLabels" not in sel and "matchExpressions" not in sel:
        return ",".join(f"{k}={v}" for k, v in sorted(sel.items()))
    reqs: list[tuple[str, str]] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, f"{k}={v}"))
    for expr in sel.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        vals = sorted(expr.get("values") or [])
        if op == "In":
            text = f"{key} in ({','.join(vals)})"
        elif op == "NotIn":
            text = f"{key} notin ({','.join(vals)})"
        elif op == "Exists":
            text = key
        elif op == "DoesNotExist":
            text = f"!{key}"
        else:
            continue
        reqs.append((key, text))
    reqs.sort(key=lambda r: r[0])
    return ",".join(t for _, t in reqs)


def to_scale(obj: Obj, spec: ScaleSpec) -> Obj:
    m = obj.get("metadata") or {}
    smeta: Obj = {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                  if k in m}
    status: Obj = {"replicas": int(get_path(obj, spec.status_replicas) or 0)}
    sel = selector_string(get_path(obj, spec.label_selector))
    if sel:
        status["selector"] = sel
    replicas = get_path(obj, spec.spec_replicas)
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": smeta,
        "spec": {"replicas": int(replicas)} if replicas is not None else {},
        "status": status,
    }


def validate_scale(scale: Obj) -> list[FieldError]:
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        return [FieldError("FieldValueTypeInvalid", "spec.replicas", "must be an integer", replicas, True)]
    if replicas < 0:
        return [FieldError("FieldValueInvalid", "spec.replicas", "must be greater than or equal to 0",
                           replicas, True)]
    return []


def apply_scale(obj: Obj, scale: Obj, spec: ScaleSpec) -> None:
    """Write the Scale's spec.replicas into the object (in place)."""
    set_path(obj, spec.spec_replicas, int((scale.get("spec") or {}).get("replicas", 0)))
