"""Events, served twice over one storage: core/v1 Event (``/api/v1/.../events``) and
events.k8s.io/v1 Event.  The stored form is core/v1; the events.k8s.io entry converts
on the way in (``to_storage``) and out (``from_storage``), field for field as upstream:

    note <-> message                 regarding <-> involvedObject
    reportingController <-> reportingComponent     deprecatedSource <-> source
    deprecatedFirstTimestamp <-> firstTimestamp    deprecatedLastTimestamp <-> lastTimestamp
    deprecatedCount <-> count        related, series, eventTime, action, reason, type,
                                     reportingInstance: same names in both
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kubeapi.api import facts
from kubeapi.api.printing import col, wide
from kubeapi.api.types import Column, FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    dns1123_subdomain,
    get,
    invalid,
    qualified_name,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

NEW_GROUP_VERSION = "events.k8s.io/v1"

# (events.k8s.io name, core name); fields with the same name in both are copied as they are.
_RENAMES = (
    ("note", "message"),
    ("regarding", "involvedObject"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
)
_SAME = ("metadata", "related", "series", "eventTime", "action", "reason", "type",
         "reportingInstance")


def to_storage(ev: Obj) -> Obj:
    """events.k8s.io/v1 Event -> core/v1 Event (the stored form)."""
    out: Obj = {"kind": "Event", "apiVersion": "v1"}
    for key in _SAME:
        if key in ev:
            out[key] = copy.deepcopy(ev[key])
    for new, old in _RENAMES:
        if new in ev:
            out[old] = copy.deepcopy(ev[new])
    # Core events always carry these objects (non-pointer structs upstream).
    out.setdefault("involvedObject", {})
    out.setdefault("source", {})
    return out


def from_storage(ev: Obj) -> Obj:
    """core/v1 Event -> events.k8s.io/v1 Event."""
    out: Obj = {"kind": "Event", "apiVersion": NEW_GROUP_VERSION}
    for key in _SAME:
        if key in ev:
            out[key] = copy.deepcopy(ev[key])
    for new, old in _RENAMES:
        if old in ev:
            out[new] = copy.deepcopy(ev[old])
    # Empty structs and zero counts are dropped the way omitempty drops them.
    if not out.get("deprecatedSource"):
        out.pop("deprecatedSource", None)
    if not out.get("deprecatedCount"):
        out.pop("deprecatedCount", None)
    out.setdefault("regarding", {})
    return out


def as_core(ev: Obj) -> Obj:
    """Either form in, core form out (printing and selectors accept both)."""
    if str(ev.get("apiVersion", "")).startswith("events.k8s.io/") or "regarding" in ev or "note" in ev:
        return to_storage(ev)
    return ev


def as_new(ev: Obj) -> Obj:
    if str(ev.get("apiVersion", "")).startswith("events.k8s.io/") or "regarding" in ev or "note" in ev:
        return ev
    return from_storage(ev)


# ---------------------------------------------------------------- printing


def _first_seen(ev: Obj) -> Any:
    e = as_core(ev)
    return e.get("firstTimestamp") or e.get("eventTime")


def _last_seen(ev: Obj) -> Any:
    e = as_core(ev)
    if isinstance(e.get("series"), dict):
        return e["series"].get("lastObservedTime")
    return e.get("lastTimestamp") or _first_seen(e)


def _count(ev: Obj) -> int:
    e = as_core(ev)
    if isinstance(e.get("series"), dict):
        return int(e["series"].get("count") or 0)
    return int(e.get("count") or 0) or 1


def _target(ev: Obj) -> str:
    io = as_core(ev).get("involvedObject") or {}
    kind = str(io.get("kind", "")).lower()
    return f"{kind}/{io['name']}" if io.get("name") else kind


def _source(ev: Obj) -> str:
    e = as_core(ev)
    src = e.get("source") or {}
    comp = src.get("component") or e.get("reportingComponent") or ""
    inst = src.get("host") or e.get("reportingInstance") or ""
    return f"{comp}, {inst}" if inst else comp


def _core(path: str) -> Callable[[Obj], Any]:
    return lambda ev: get(as_core(ev), path) or ""


COLUMNS: tuple[Column, ...] = (
    col("Last Seen", "date", _last_seen, "The time at which the most recent occurrence of this "
                                         "event was recorded."),
    col("Type", "string", _core("type"), "Type of this event (Normal, Warning), new types could "
                                         "be added in the future"),
    col("Reason", "string", _core("reason"), "This should be a short, machine understandable "
                                             "string that gives the reason for the transition "
                                             "into the object's current status."),
    col("Object", "string", _target, "The object that this event is about."),
    wide("Subobject", "string", _core("involvedObject.fieldPath"),
         "If referring to a piece of an object instead of an entire object, this string should "
         "contain a valid JSON/Go field access statement."),
    wide("Source", "string", _source, "The component reporting this event."),
    col("Message", "string", lambda ev: str(as_core(ev).get("message") or "").strip(),
        "A human-readable description of the status of this operation."),
    wide("First Seen", "date", _first_seen, "The time at which the event was first recorded."),
    wide("Count", "integer", _count, "The number of times this event has occurred."),
    Column("Name", "string", lambda ev: get(ev, "metadata.name", ""), "name",
           "Name must be unique within a namespace.", 1),
)

# ---------------------------------------------------------------- field selectors


def _io(key: str) -> Callable[[Obj], str]:
    return lambda ev: str(get(as_core(ev), f"involvedObject.{key}") or "")


def _source_sel(ev: Obj) -> str:
    e = as_core(ev)
    return get(e, "source.component") or e.get("reportingComponent") or ""


_IO_KEYS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")

CORE_FIELDS: dict[str, Callable[[Obj], str]] = {
    **{f"involvedObject.{k}": _io(k) for k in _IO_KEYS},
    "reason": lambda ev: as_core(ev).get("reason") or "",
    "reportingComponent": lambda ev: as_core(ev).get("reportingComponent") or "",
    "source": _source_sel,
    "type": lambda ev: as_core(ev).get("type") or "",
}

NEW_FIELDS: dict[str, Callable[[Obj], str]] = {
    **{f"regarding.{k}": _io(k) for k in _IO_KEYS},
    "reason": CORE_FIELDS["reason"],
    "reportingController": CORE_FIELDS["reportingComponent"],
    "type": CORE_FIELDS["type"],
}

# ---------------------------------------------------------------- validation

LENGTH_LIMIT = 128
NOTE_LIMIT = 1024


def _ns(ev: Obj) -> str:
    return get(ev, "metadata.namespace") or ""


def validate_core_event(ev: Obj) -> list[FieldError]:
    """core/v1 rules: old-style events need matching namespaces; events with eventTime
    need the reporting fields."""
    errs = validate_object_meta(ev)
    ns = _ns(ev)
    io_ns = get(ev, "involvedObject.namespace") or ""
    if not ev.get("eventTime"):
        if not io_ns:
            if ns not in ("", "default"):
                errs.append(invalid("involvedObject.namespace", io_ns, "does not match event.namespace"))
        elif ns != io_ns:
            errs.append(invalid("involvedObject.namespace", io_ns, "does not match event.namespace"))
    else:
        if not io_ns and ns not in ("default", "kube-system"):
            errs.append(invalid("involvedObject.namespace", io_ns, "does not match event.namespace"))
        errs += _reporting_rules(ev.get("reportingComponent") or "", "reportingComponent", ev,
                                 "message", ev.get("message") or "")
    if ns:
        for m in dns1123_subdomain(ns):
            errs.append(invalid("namespace", ns, m))
    return errs


def _reporting_rules(controller: str, controller_field: str, ev: Obj, note_field: str,
                     note: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not controller:
        errs.append(required(controller_field))
    for m in qualified_name(controller) if controller else []:
        errs.append(invalid(controller_field, controller, m))
    inst = ev.get("reportingInstance") or ""
    if not inst:
        errs.append(required("reportingInstance"))
    elif len(inst) > LENGTH_LIMIT:
        errs.append(invalid("reportingInstance", "", f"can have at most {LENGTH_LIMIT} characters"))
    for key in ("action", "reason"):
        v = ev.get(key) or ""
        if not v:
            errs.append(required(key))
        elif len(v) > LENGTH_LIMIT:
            errs.append(invalid(key, "", f"can have at most {LENGTH_LIMIT} characters"))
    if len(note) > NOTE_LIMIT:
        errs.append(invalid(note_field, "", f"can have at most {NOTE_LIMIT} characters"))
    return errs


def validate_new_event(obj: Obj) -> list[FieldError]:
    """events.k8s.io/v1 rules (stricter: eventTime and reporting fields are required)."""
    ev = as_new(obj)
    errs = validate_object_meta(ev)
    if not ev.get("eventTime"):
        errs.append(required("eventTime"))
    if ev.get("type") not in ("Normal", "Warning"):
        errs.append(invalid("type", "", f"has invalid value: {ev.get('type') or ''}"))
    for key in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
        if ev.get(key):
            errs.append(invalid(key, "", "needs to be unset"))
    if ev.get("deprecatedCount"):
        errs.append(invalid("deprecatedCount", "", "needs to be unset"))
    if ev.get("deprecatedSource"):
        errs.append(invalid("deprecatedSource", "", "needs to be unset"))
    errs += _reporting_rules(ev.get("reportingController") or "", "reportingController", ev,
                             "note", ev.get("note") or "")
    series = ev.get("series")
    if isinstance(series, dict):
        if int(series.get("count") or 0) < 2:
            errs.append(invalid("series.count", "", "should be at least 2"))
        if not series.get("lastObservedTime"):
            errs.append(required("series.lastObservedTime"))
    ns = _ns(ev)
    io_ns = get(ev, "regarding.namespace") or ""
    if not io_ns and ns not in ("default", "kube-system"):
        errs.append(invalid("regarding.namespace", io_ns, "does not match event.namespace"))
    return errs


def validate_new_event_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    n, o = as_new(new), as_new(old)
    for key in ("regarding", "related", "reportingController", "reportingInstance", "action",
                "reason", "type", "note", "eventTime"):
        if n.get(key) != o.get(key):
            errs.append(invalid(key, n.get(key), "field is immutable"))
    return errs


# ---------------------------------------------------------------- schemas





def _default_core_event(ev: Obj) -> None:
    ev.setdefault("involvedObject", {})
    ev.setdefault("source", {})


CORE_EVENTS = facts.resource(
    "", "v1", "events",
    storage_path="events",
    columns=COLUMNS,
    field_selectors=CORE_FIELDS,
    default=_default_core_event,
    validate=validate_core_event,
    validate_update=validate_object_meta_update,
    allow_create_on_update=True,
)

NEW_EVENTS = facts.resource(
    "events.k8s.io", "v1", "events",
    storage_path="events",
    columns=COLUMNS,
    field_selectors=NEW_FIELDS,
    validate=validate_new_event,
    validate_update=validate_new_event_update,
    allow_create_on_update=True,
    to_storage=to_storage,
    from_storage=from_storage,
)

RESOURCES: list[ResourceDef] = [NEW_EVENTS]
