"""autoscaling v2 (stored) and v1: HorizontalPodAutoscaler (behaviour hooks; structure is generated).

Both versions share ``/registry/horizontalpodautoscalers`` in the v2 form.  v1 objects convert on
the way in (``to_storage``) and out (``from_storage``) as upstream does: the CPU utilization target
maps to ``targetCPUUtilizationPercentage``; every other metric, the current metrics, the behavior
and the conditions ride in ``autoscaling.alpha.kubernetes.io/*`` annotations on v1 (metrics in the
v1 package's v2beta1-style shape), so a round trip through v1 loses nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

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

GROUP = "autoscaling"
METRICS_ANN = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANN = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANN = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANN = "autoscaling.alpha.kubernetes.io/behavior"
ROUND_TRIP = (METRICS_ANN, CURRENT_METRICS_ANN, CONDITIONS_ANN, BEHAVIOR_ANN)
DEFAULT_CPU_UTILIZATION = 80


def _dumps(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"))


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", {}, [])}


# ---------------------------------------------------------------- metric shapes (v2 <-> v1 annotation)

def _target_v1(t: Obj, prefix: str = "target") -> dict[str, Any]:
    return {f"{prefix}AverageUtilization": t.get("averageUtilization"), f"{prefix}AverageValue": t.get("averageValue")}


def metric_to_v1(m: Obj) -> Obj:
    """A v2 MetricSpec as autoscaling/v1's MetricSpec (annotation form)."""
    t = m.get("type", "")
    out: dict[str, Any] = {"type": t}
    if t == "Resource" and m.get("resource"):
        r = m["resource"]
        out["resource"] = _clean({"name": r.get("name"), **_target_v1(r.get("target") or {})})
    elif t == "ContainerResource" and m.get("containerResource"):
        r = m["containerResource"]
        out["containerResource"] = _clean({"name": r.get("name"), **_target_v1(r.get("target") or {}),
                                           "container": r.get("container")})
    elif t == "Pods" and m.get("pods"):
        p = m["pods"]
        out["pods"] = _clean({"metricName": get(p, "metric.name"), "targetAverageValue": get(p, "target.averageValue"),
                              "selector": get(p, "metric.selector")})
    elif t == "Object" and m.get("object"):
        o = m["object"]
        out["object"] = _clean({"target": o.get("describedObject"), "metricName": get(o, "metric.name"),
                                "targetValue": get(o, "target.value"), "selector": get(o, "metric.selector"),
                                "averageValue": get(o, "target.averageValue")})
    elif t == "External" and m.get("external"):
        e = m["external"]
        out["external"] = _clean({"metricName": get(e, "metric.name"), "metricSelector": get(e, "metric.selector"),
                                  "targetValue": get(e, "target.value"),
                                  "targetAverageValue": get(e, "target.averageValue")})
    return out


def _target_v2(src: Obj, prefix: str = "target") -> Obj:
    if src.get(f"{prefix}AverageUtilization") is not None:
        return {"type": "Utilization", "averageUtilization": src[f"{prefix}AverageUtilization"]}
    return _clean({"type": "AverageValue", "averageValue": src.get(f"{prefix}AverageValue")})


def metric_from_v1(m: Obj) -> Obj:
    t = m.get("type", "")
    out: dict[str, Any] = {"type": t}
    if t == "Resource" and m.get("resource"):
        r = m["resource"]
        out["resource"] = {"name": r.get("name", ""), "target": _target_v2(r)}
    elif t == "ContainerResource" and m.get("containerResource"):
        r = m["containerResource"]
        out["containerResource"] = {"name": r.get("name", ""), "target": _target_v2(r),
                                    "container": r.get("container", "")}
    elif t == "Pods" and m.get("pods"):
        p = m["pods"]
        out["pods"] = {"metric": _clean({"name": p.get("metricName", ""), "selector": p.get("selector")}),
                       "target": _clean({"type": "AverageValue", "averageValue": p.get("targetAverageValue")})}
    elif t == "Object" and m.get("object"):
        o = m["object"]
        target = (_clean({"type": "AverageValue", "averageValue": o["averageValue"]}) if o.get("averageValue")
                  else _clean({"type": "Value", "value": o.get("targetValue")}))
        out["object"] = {"describedObject": o.get("target") or {},
                         "metric": _clean({"name": o.get("metricName", ""), "selector": o.get("selector")}),
                         "target": target}
    elif t == "External" and m.get("external"):
        e = m["external"]
        target = (_clean({"type": "AverageValue", "averageValue": e["targetAverageValue"]})
                  if e.get("targetAverageValue") else _clean({"type": "Value", "value": e.get("targetValue")}))
        out["external"] = {"metric": _clean({"name": e.get("metricName", ""), "selector": e.get("metricSelector")}),
                           "target": target}
    return out


def status_to_v1(m: Obj) -> Obj:
    t = m.get("type", "")
    out: dict[str, Any] = {"type": t}
    for key in ("resource", "containerResource"):
        if t.lower() == key.lower() and m.get(key):
            r = m[key]
            cur = r.get("current") or {}
            out[key] = _clean({"name": r.get("name"), "currentAverageUtilization": cur.get("averageUtilization"),
                               "currentAverageValue": cur.get("averageValue"), "container": r.get("container")})
    if t == "Pods" and m.get("pods"):
        p = m["pods"]
        out["pods"] = _clean({"metricName": get(p, "metric.name"), "currentAverageValue": get(p, "current.averageValue"),
                              "selector": get(p, "metric.selector")})
    elif t == "Object" and m.get("object"):
        o = m["object"]
        out["object"] = _clean({"target": o.get("describedObject"), "metricName": get(o, "metric.name"),
                                "currentValue": get(o, "current.value"), "selector": get(o, "metric.selector"),
                                "averageValue": get(o, "current.averageValue")})
    elif t == "External" and m.get("external"):
        e = m["external"]
        out["external"] = _clean({"metricName": get(e, "metric.name"), "metricSelector": get(e, "metric.selector"),
                                  "currentValue": get(e, "current.value"),
                                  "currentAverageValue": get(e, "current.averageValue")})
    return out


def status_from_v1(m: Obj) -> Obj:
    t = m.get("type", "")
    out: dict[str, Any] = {"type": t}
    for key in ("resource", "containerResource"):
        if t.lower() == key.lower() and m.get(key):
            r = m[key]
            out[key] = _clean({"name": r.get("name", ""), "container": r.get("container"),
                               "current": _clean({"averageUtilization": r.get("currentAverageUtilization"),
                                                  "averageValue": r.get("currentAverageValue")})})
            out[key].setdefault("current", {})
    if t == "Pods" and m.get("pods"):
        p = m["pods"]
        out["pods"] = {"metric": _clean({"name": p.get("metricName", ""), "selector": p.get("selector")}),
                       "current": _clean({"averageValue": p.get("currentAverageValue")})}
    elif t == "Object" and m.get("object"):
        o = m["object"]
        out["object"] = {"describedObject": o.get("target") or {},
                         "metric": _clean({"name": o.get("metricName", ""), "selector": o.get("selector")}),
                         "current": _clean({"value": o.get("currentValue"), "averageValue": o.get("averageValue")})}
    elif t == "External" and m.get("external"):
        e = m["external"]
        out["external"] = {"metric": _clean({"name": e.get("metricName", ""), "selector": e.get("metricSelector")}),
                           "current": _clean({"value": e.get("currentValue"),
                                              "averageValue": e.get("currentAverageValue")})}
    return out


def _is_cpu_utilization(m: Obj) -> bool:
    return (m.get("type") == "Resource" and get(m, "resource.name") == "cpu"
            and get(m, "resource.target.averageUtilization") is not None)


# ---------------------------------------------------------------- v1 <-> v2 objects

def v1_to_v2(hpa: Obj) -> Obj:
    """An autoscaling/v1 object as the stored autoscaling/v2 form."""
    out = copy.deepcopy(hpa)
    out["apiVersion"] = "autoscaling/v2"
    meta = out.setdefault("metadata", {})
    ann = dict(meta.get("annotations") or {})
    spec = out.setdefault("spec", {})
    status = out.get("status")
    metrics: list[Obj] = []
    if METRICS_ANN in ann:
        try:
            metrics = [metric_from_v1(m) for m in json.loads(ann[METRICS_ANN])]
        except (ValueError, TypeError, AttributeError):
            metrics = []
    cpu = spec.pop("targetCPUUtilizationPercentage", None)
    if cpu is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": cpu}}})
    if not metrics:
        metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]
    spec["metrics"] = metrics
    if BEHAVIOR_ANN in ann:
        try:
            behavior = json.loads(ann[BEHAVIOR_ANN])
            if behavior:
                spec["behavior"] = behavior
        except ValueError:
            pass
    if isinstance(status, dict):
        cpu_now = status.pop("currentCPUUtilizationPercentage", None)
        current: list[Obj] = []
        if CURRENT_METRICS_ANN in ann:
            try:
                current = [status_from_v1(m) for m in json.loads(ann[CURRENT_METRICS_ANN])]
            except (ValueError, TypeError, AttributeError):
                current = []
        elif cpu_now is not None:
            current = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu_now}}}]
        if current:
            status["currentMetrics"] = current
        if CONDITIONS_ANN in ann:
            try:
                status["conditions"] = json.loads(ann[CONDITIONS_ANN])
            except ValueError:
                pass
    for a in ROUND_TRIP:
        ann.pop(a, None)
    if ann:
        meta["annotations"] = ann
    else:
        meta.pop("annotations", None)
    return out


def v2_to_v1(hpa: Obj) -> Obj:
    """The stored autoscaling/v2 form as an autoscaling/v1 object."""
    out = copy.deepcopy(hpa)
    out["apiVersion"] = "autoscaling/v1"
    meta = out.setdefault("metadata", {})
    ann = dict(meta.get("annotations") or {})
    spec = out.setdefault("spec", {})
    metrics = spec.pop("metrics", None) or []
    behavior = spec.pop("behavior", None)
    others = []
    for m in metrics:
        if _is_cpu_utilization(m) and "targetCPUUtilizationPercentage" not in spec:
            spec["targetCPUUtilizationPercentage"] = get(m, "resource.target.averageUtilization")
        else:
            others.append(metric_to_v1(m))
    if others:
        ann[METRICS_ANN] = _dumps(others)
    if behavior:
        ann[BEHAVIOR_ANN] = _dumps(behavior)
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentMetrics", None) or []
        conditions = status.pop("conditions", None) or []
        for m in current:
            if m.get("type") == "Resource" and get(m, "resource.name") == "cpu" \
                    and get(m, "resource.current.averageUtilization") is not None:
                status["currentCPUUtilizationPercentage"] = get(m, "resource.current.averageUtilization")
        if current:
            ann[CURRENT_METRICS_ANN] = _dumps([status_to_v1(m) for m in current])
        if conditions:
            ann[CONDITIONS_ANN] = _dumps(conditions)
    if ann:
        meta["annotations"] = ann
    return out


def _stored(obj: Obj) -> Obj:
    return v1_to_v2(obj) if str(obj.get("apiVersion", "")) == "autoscaling/v1" else obj


def _as_v1(obj: Obj) -> Obj:
    return obj if str(obj.get("apiVersion", "")) == "autoscaling/v1" else v2_to_v1(obj)


def _as_v2(obj: Obj) -> Obj:
    return v1_to_v2(obj) if str(obj.get("apiVersion", "")) == "autoscaling/v1" else obj


# ---------------------------------------------------------------- strategy


def default_hpa_v2(hpa: Obj) -> None:
    spec = hpa.setdefault("spec", {})
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up = behavior.setdefault("scaleUp", {})
        up.setdefault("stabilizationWindowSeconds", 0)
        up.setdefault("selectPolicy", "Max")
        up.setdefault("policies", [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                   {"type": "Percent", "value": 100, "periodSeconds": 15}])
        down = behavior.setdefault("scaleDown", {})
        down.setdefault("selectPolicy", "Max")
        down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])


def default_hpa_v1(hpa: Obj) -> None:
    hpa.setdefault("spec", {}).setdefault("minReplicas", 1)


def _validate_common(spec: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    ref = spec.get("scaleTargetRef") or {}
    if not ref.get("kind"):
        errs.append(required("spec.scaleTargetRef.kind"))
    if not ref.get("name"):
        errs.append(required("spec.scaleTargetRef.name"))
    lo, hi = spec.get("minReplicas"), spec.get("maxReplicas")
    if isinstance(lo, int) and lo < 1:
        errs.append(invalid("spec.minReplicas", lo, "must be greater than or equal to 1"))
    if not isinstance(hi, int) or hi < 1:
        errs.append(invalid("spec.maxReplicas", hi, "must be greater than 0"))
    elif isinstance(lo, int) and hi < lo:
        errs.append(invalid("spec.maxReplicas", hi, "must be greater than or equal to `minReplicas`"))
    return errs


def validate_hpa_v2(hpa: Obj) -> list[FieldError]:
    errs = validate_object_meta(hpa) + _validate_common(hpa.get("spec") or {})
    for i, m in enumerate(get(hpa, "spec.metrics") or []):
        t = (m or {}).get("type")
        if t not in ("ContainerResource", "External", "Object", "Pods", "Resource"):
            errs.append(FieldError("FieldValueNotSupported", f"spec.metrics[{i}].type", "", t or "", True)
                        if t else required(f"spec.metrics[{i}].type"))
    return errs


def validate_hpa_v1(hpa: Obj) -> list[FieldError]:
    errs = validate_object_meta(hpa) + _validate_common(hpa.get("spec") or {})
    cpu = get(hpa, "spec.targetCPUUtilizationPercentage")
    if isinstance(cpu, int) and cpu < 1:
        errs.append(invalid("spec.targetCPUUtilizationPercentage", cpu, "must be greater than 0"))
    return errs


# ---------------------------------------------------------------- printing


def _format_target(t: Obj) -> str:
    if t.get("averageUtilization") is not None:
        return f"{t['averageUtilization']}%"
    return str(t.get("averageValue") or t.get("value") or "<unset>")


def hpa_targets(obj: Obj) -> str:
    v2 = _as_v2(obj)
    current = get(v2, "status.currentMetrics") or []
    parts: list[str] = []
    for i, m in enumerate(get(v2, "spec.metrics") or []):
        t = m.get("type")
        cur = current[i] if i < len(current) else {}
        if t in ("Resource", "ContainerResource"):
            key = "resource" if t == "Resource" else "containerResource"
            src = m.get(key) or {}
            target = src.get("target") or {}
            now = get(cur, f"{key}.current") or {}
            shown = "<unknown>"
            if target.get("averageUtilization") is not None and now.get("averageUtilization") is not None:
                shown = f"{now['averageUtilization']}%"
            elif target.get("averageUtilization") is None and now.get("averageValue") is not None:
                shown = str(now["averageValue"])
            prefix = f"{src.get('name', '')}: " if t == "Resource" else f"{src.get('name', '')} of {src.get('container', '')}: "
            parts.append(f"{prefix}{shown}/{_format_target(target)}")
        else:
            key = {"Pods": "pods", "Object": "object", "External": "external"}.get(t or "", "")
            target = get(m, f"{key}.target") or {}
            now = get(cur, f"{key}.current") or {}
            shown = str(now.get("averageValue") or now.get("value") or "<unknown>")
            parts.append(f"{shown}/{_format_target(target)}")
    if not parts:
        return "<none>"
    if len(parts) > 2:
        return ", ".join(parts[:2]) + f" + {len(parts) - 2} more..."
    return ", ".join(parts)


COLUMNS = (
    name_col(),
    col("Reference", "string", lambda o: f"{get(o, 'spec.scaleTargetRef.kind') or ''}/"
                                         f"{get(o, 'spec.scaleTargetRef.name') or ''}",
        "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption "
        "and will set the desired number of pods by using its Scale subresource."),
    col("Targets", "string", hpa_targets, "metrics contains the specifications for which to use to calculate "
                                          "the desired replica count"),
    col("MinPods", "string", lambda o: str(get(o, "spec.minReplicas")) if get(o, "spec.minReplicas") is not None
        else "<unset>", "minReplicas is the lower limit for the number of replicas"),
    col("MaxPods", "string", lambda o: get(o, "spec.maxReplicas") or 0,
        "maxReplicas is the upper limit for the number of replicas"),
    col("Replicas", "string", lambda o: get(o, "status.currentReplicas") or 0,
        "currentReplicas is current number of replicas of pods managed by this autoscaler"),
    age_col(),
)

HPA_V2 = facts.resource(GROUP, "v2", "horizontalpodautoscalers", columns=COLUMNS, default=default_hpa_v2,
                        validate=validate_hpa_v2, validate_update=validate_object_meta_update,
                        has_generation=True)
HPA_V1 = facts.resource(GROUP, "v1", "horizontalpodautoscalers", columns=COLUMNS, default=default_hpa_v1,
                        validate=validate_hpa_v1, validate_update=validate_object_meta_update,
                        has_generation=True, to_storage=_stored, from_storage=_as_v1)

RESOURCES: list[ResourceDef] = [HPA_V2, HPA_V1]
