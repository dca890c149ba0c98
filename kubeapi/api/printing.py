"""Helpers for server-side printing columns (``as=Table``), shared by every group.

Cells are plain JSON scalars; AGE-like columns are type ``date`` and return the raw
timestamp, which the server turns into kubectl's short duration ("5m", "2d3h")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeapi.api.types import Column, Obj
from kubeapi.api.validation import get

NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although "
             "some resources may allow a client to request the generation of an appropriate name "
             "automatically. Name is primarily intended for creation idempotence and configuration "
             "definition. Cannot be updated.")
AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was "
            "created. It is not guaranteed to be set in happens-before order across separate "
            "operations. Clients may not set this value. It is represented in RFC3339 form and is "
            "in UTC.")
NONE = "<none>"


def name_col() -> Column:
    return Column("Name", "string", lambda o: get(o, "metadata.name", ""), "name", NAME_DESC)


def age_col(name: str = "Age") -> Column:
    return Column(name, "date", lambda o: get(o, "metadata.creationTimestamp"), "", AGE_DESC)


def col(name: str, type_: str, fn: Callable[[Obj], Any], desc: str = "", priority: int = 0) -> Column:
    return Column(name, type_, fn, "", desc, priority)


def wide(name: str, type_: str, fn: Callable[[Obj], Any], desc: str = "") -> Column:
    return Column(name, type_, fn, "", desc, 1)


def join_or_none(items: list[str], sep: str = ",") -> str:
    return sep.join(items) if items else NONE


def format_labels(labels: Any) -> str:
    """``a=b,c=d`` sorted by key, or ``<none>``."""
    if not labels:
        return NONE
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def format_label_selector(sel: Any) -> str:
    """A metav1.LabelSelector as kubectl prints it (``<none>`` when empty)."""
    if not isinstance(sel, dict):
        return NONE
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        key, op, vals = e.get("key", ""), e.get("operator", ""), sorted(e.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({','.join(vals)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(vals)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) if parts else NONE


def template_containers(path: str) -> Callable[[Obj], str]:
    """Container names of the pod spec at ``path`` (e.g. ``spec.template.spec``)."""
    def fn(o: Obj) -> str:
        return ",".join(c.get("name", "") for c in get(o, path + ".containers", []) or [])
    return fn


def template_images(path: str) -> Callable[[Obj], str]:
    def fn(o: Obj) -> str:
        return ",".join(c.get("image", "") for c in get(o, path + ".containers", []) or [])
    return fn


def containers_cols(path: str = "spec.template.spec") -> tuple[Column, Column]:
    return (wide("Containers", "string", template_containers(path),
                 "Names of each container in the template."),
            wide("Images", "string", template_images(path),
                 "Images referenced by each container in the template."))


def int_at(path: str, default: int = 0) -> Callable[[Obj], int]:
    def fn(o: Obj) -> int:
        v = get(o, path)
        return v if isinstance(v, int) else default
    return fn
