"""Kubernetes' CEL extension functions (lists, strings, regex), as k8s.io/apiserver adds them
to every environment.  Each takes and returns celpy values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celpy import celtypes

from kubeapi.cel.authorizer import FUNCTIONS as AUTHORIZER_FUNCTIONS
from kubeapi.cel.library_k8s import FUNCTIONS as KUBERNETES_FUNCTIONS


def _list(v: Any) -> list[Any]:
    return list(v)


def is_sorted(v: Any) -> celtypes.BoolType:
    items = _list(v)
    return celtypes.BoolType(all(items[i] <= items[i + 1] for i in range(len(items) - 1)))


def sum_(v: Any) -> Any:
    items = _list(v)
    if not items:
        return celtypes.IntType(0)
    total = items[0]
    for x in items[1:]:
        total = total + x
    return total


def min_(v: Any) -> Any:
    items = _list(v)
    if not items:
        raise ValueError("min called on empty list")
    return min(items)


def max_(v: Any) -> Any:
    items = _list(v)
    if not items:
        raise ValueError("max called on empty list")
    return max(items)


def index_of(v: Any, x: Any) -> celtypes.IntType:
    if isinstance(v, str):
        return celtypes.IntType(str(v).find(str(x)))
    items = _list(v)
    return celtypes.IntType(items.index(x) if x in items else -1)


def last_index_of(v: Any, x: Any) -> celtypes.IntType:
    if isinstance(v, str):
        return celtypes.IntType(str(v).rfind(str(x)))
    items = _list(v)
    for i in range(len(items) - 1, -1, -1):
        if items[i] == x:
            return celtypes.IntType(i)
    return celtypes.IntType(-1)


def lower_ascii(s: Any) -> celtypes.StringType:
    return celtypes.StringType("".join(c.lower() if c.isascii() else c for c in str(s)))


def upper_ascii(s: Any) -> celtypes.StringType:
    return celtypes.StringType("".join(c.upper() if c.isascii() else c for c in str(s)))


def trim(s: Any) -> celtypes.StringType:
    return celtypes.StringType(str(s).strip())


def split(s: Any, sep: Any, n: Any = None) -> celtypes.ListType:
    parts = str(s).split(str(sep)) if n is None or int(n) < 0 else str(s).split(str(sep), max(int(n) - 1, 0))
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def join(v: Any, sep: Any = "") -> celtypes.StringType:
    return celtypes.StringType(str(sep).join(str(x) for x in _list(v)))


def replace(s: Any, old: Any, new: Any, n: Any = None) -> celtypes.StringType:
    count = -1 if n is None else int(n)
    return celtypes.StringType(str(s).replace(str(old), str(new), count))


def substring(s: Any, start: Any, end: Any = None) -> celtypes.StringType:
    text = str(s)
    return celtypes.StringType(text[int(start):] if end is None else text[int(start):int(end)])


def char_at(s: Any, i: Any) -> celtypes.StringType:
    text = str(s)
    idx = int(i)
    return celtypes.StringType(text[idx] if idx < len(text) else "")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "isSorted": is_sorted,
    "sum": sum_,
    "min": min_,
    "max": max_,
    "indexOf": index_of,
    "lastIndexOf": last_index_of,
    "lowerAscii": lower_ascii,
    "upperAscii": upper_ascii,
    "trim": trim,
    "split": split,
    "join": join,
    "replace": replace,
    "substring": substring,
    "charAt": char_at,
    **KUBERNETES_FUNCTIONS,
    **AUTHORIZER_FUNCTIONS,
}
