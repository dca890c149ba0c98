"""Small helpers for the kind tests: run a kind's strategy the way the store does."""

from __future__ import annotations

import copy
from typing import Any

from kubeapi.api import builtin_catalog
from kubeapi.api.types import FieldError, ResourceDef

CATALOG = builtin_catalog()


def rdef(group: str, plural: str) -> ResourceDef:
    r = CATALOG.get(group, "v1", plural)
    assert r is not None, (group, plural)
    return r


def defaulted(r: ResourceDef, obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    if r.default is not None:
        r.default(out)
    return out


def created(r: ResourceDef, obj: dict[str, Any], uid: str = "uid-1") -> dict[str, Any]:
    """Defaulting then create-time preparation, as the store does it."""
    out = defaulted(r, obj)
    out.setdefault("metadata", {})["uid"] = uid
    if r.has_status:
        out.pop("status", None)
    if r.prepare_for_create is not None:
        r.prepare_for_create(out)
    return out


def errors(r: ResourceDef, obj: dict[str, Any]) -> list[FieldError]:
    assert r.validate is not None
    return r.validate(obj)


def fields(errs: list[FieldError]) -> list[tuple[str, str]]:
    return [(e.field, e.type) for e in errs]


def cells(r: ResourceDef, obj: dict[str, Any]) -> dict[str, Any]:
    return {c.name: c.value(obj) for c in r.columns}
