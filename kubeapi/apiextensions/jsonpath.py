"""The JSONPath subset CRDs use in additionalPrinterColumns and selectableFields:
``.a.b``, ``.a[0]``, ``.a[*].b``, ``.a[?(@.type=="Ready")].status`` and ``['key.with.dots']``."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"""\.([A-Za-z0-9_\-$]+)|\[\s*['"]([^'"]+)['"]\s*\]|\[\s*(\*|-?\d+)\s*\]|"""
                    r"""\[\s*\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*['"]([^'"]*)['"]\)\s*\]""")


class JSONPathError(ValueError):
    pass


def parse(expr: str) -> list[tuple[str, Any]]:
    text = expr.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if text.startswith("$"):
        text = text[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise JSONPathError(f"unrecognized character in action: {text[pos:]!r}")
        name, quoted, index, fkey, fval = m.groups()
        if name is not None or quoted is not None:
            steps.append(("field", name if name is not None else quoted))
        elif index is not None:
            steps.append(("all", None) if index == "*" else ("index", int(index)))
        else:
            steps.append(("filter", (fkey.split("."), fval)))
        pos = m.end()
    return steps


def _get(cur: Any, path: list[str]) -> Any:
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def find(obj: Any, steps: list[tuple[str, Any]]) -> list[Any]:
    """Every value the path selects (empty when nothing matches)."""
    current = [obj]
    for kind, arg in steps:
        nxt: list[Any] = []
        for v in current:
            if kind == "field":
                if isinstance(v, dict) and arg in v:
                    nxt.append(v[arg])
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= arg < len(v):
                    nxt.append(v[arg])
            elif kind == "all":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            else:
                key, want = arg
                if isinstance(v, list):
                    nxt.extend(item for item in v if str(_get(item, key)) == want)
        current = nxt
    return current


def first(obj: Any, steps: list[tuple[str, Any]]) -> Any:
    found = find(obj, steps)
    return found[0] if found else None
