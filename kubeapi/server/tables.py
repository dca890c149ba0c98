"""Server-side printing: objects and lists as ``meta.k8s.io`` Table and PartialObjectMetadata.

Columns come from ``ResourceDef.columns``; a kind without columns gets upstream's default
``Name`` / ``Created At`` pair.  Date columns become human ages (``5s``, ``3m10s``, ``2d4h``).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from kubeapi.api.types import Column, ResourceDef
from kubeapi.errors import StatusError, bad_request
from kubeapi.timefmt import age, parse_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATED_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients may "
    "not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
    "Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)

INCLUDE_VALUES = ("", "None", "Metadata", "Object")


def partial_metadata(obj: Obj, version: str = "v1") -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata") or {}}


def partial_metadata_list(lst: Obj, version: str = "v1") -> Obj:
    return {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": _list_meta(lst),
            "items": [partial_metadata(i, version) for i in lst.get("items") or []]}


def _list_meta(lst: Obj) -> Obj:
    meta = lst.get("metadata") or {}
    return {k: meta[k] for k in ("resourceVersion", "continue", "remainingItemCount") if k in meta}


def is_list(obj: Obj) -> bool:
    return isinstance(obj.get("items"), list) and str(obj.get("kind", "")).endswith("List")


def _column_defs(rdef: ResourceDef | None) -> list[Obj]:
    if rdef is None or not rdef.columns:
        return [
            {"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION,
             "priority": 0},
            {"name": "Created At", "type": "date", "format": "", "description": CREATED_DESCRIPTION,
             "priority": 0},
        ]
    return [
        {"name": c.name, "type": "string" if c.type == "date" else c.type, "format": c.format,
         "description": c.description or (CREATED_DESCRIPTION if c.type == "date" else ""),
         "priority": c.priority}
        for c in rdef.columns
    ]


def _cell(col: Column, obj: Obj, now: datetime.datetime) -> Any:
    try:
        value = col.value(obj)
    except Exception:
        log.exception("column %s failed on %s", col.name, (obj.get("metadata") or {}).get("name"))
        value = None
    if col.type == "date":
        if value is None or (isinstance(value, str) and parse_time(value) is not None):
            return age(value if value is not None else (obj.get("metadata") or {}).get("creationTimestamp"), now)
        return value
    if value is None:
        return "<none>" if col.type == "string" else None
    return value


def _row(rdef: ResourceDef | None, obj: Obj, include: str, version: str, now: datetime.datetime) -> Obj:
    meta = obj.get("metadata") or {}
    if rdef is None or not rdef.columns:
        cells: list[Any] = [meta.get("name", ""), meta.get("creationTimestamp")]
    else:
        cells = [_cell(c, obj, now) for c in rdef.columns]
    row: Obj = {"cells": cells}
    if include == "Object":
        # List items carry no kind/apiVersion; a row's object is a whole object (kubectl's
        # --sort-by decodes it by its kind).
        if rdef is not None and not obj.get("kind"):
            obj = {"kind": rdef.kind, "apiVersion": rdef.api_version, **obj}
        row["object"] = obj
    elif include in ("", "Metadata"):
        row["object"] = partial_metadata(obj, version)
    return row


def to_table(rdef: ResourceDef | None, obj: Obj, *, include: str = "", version: str = "v1",
             no_headers: bool = False, now: datetime.datetime | None = None) -> Obj:
    """One object or a list as a Table.  ``include`` is ?includeObject (None|Metadata|Object)."""
    if include not in INCLUDE_VALUES:
        raise bad_request(f'unrecognized includeObject value: "{include}"')
    now = now or datetime.datetime.now(datetime.UTC)
    if is_list(obj):
        items = obj.get("items") or []
        meta = _list_meta(obj)
    else:
        items = [obj]
        meta = {}
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv:
            meta["resourceVersion"] = rv
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": meta,
        "columnDefinitions": None if no_headers else _column_defs(rdef),
        "rows": [_row(rdef, i, include, version, now) for i in items],
    }


def convert(kind: str, version: str, rdef: ResourceDef | None, obj: Obj, *, include: str = "",
            no_headers: bool = False) -> Obj:
    """Apply a negotiated as= conversion; a Status passes through unchanged."""
    if obj.get("kind") == "Status" and obj.get("apiVersion") == "v1":
        return obj
    if kind == "Table":
        return to_table(rdef, obj, include=include, version=version, no_headers=no_headers)
    if kind == "PartialObjectMetadata":
        if is_list(obj):
            raise StatusError(406, "NotAcceptable",
                              "you requested PartialObjectMetadata, but the requested object is a list")
        return partial_metadata(obj, version)
    if kind == "PartialObjectMetadataList":
        if not is_list(obj):
            raise StatusError(406, "NotAcceptable",
                              "you requested PartialObjectMetadataList, but the requested object is not a list")
        return partial_metadata_list(obj, version)
    return obj
