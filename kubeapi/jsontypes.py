"""Decoded JSON values: the names their types go by in the messages clients see, and a
quick deep copy."""

from __future__ import annotations

import copy
from typing import Any

_GO_KIND = {"integer": "number", "number": "number", "boolean": "bool", "string": "string",
            "array": "array", "object": "object", "null": "null"}


def schema_type(value: Any) -> str:
    """OpenAPI's type name (``integer``, ``boolean``, ``object``...), as schema errors say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def go_kind(value: Any) -> str:
    """encoding/json's name for it in ``cannot unmarshal X into ...`` (``bool``, ``number``...)."""
    return _GO_KIND[schema_type(value)]


def deep_copy(value: Any) -> Any:
    """A deep copy of a JSON-shaped value (dicts, lists, scalars), a few times quicker than
    copy.deepcopy, which it still uses for anything else."""
    t = type(value)
    if t is dict:
        return {k: deep_copy(v) for k, v in value.items()}
    if t is list:
        return [deep_copy(v) for v in value]
    if t is str or t is int or t is bool or t is float or value is None:
        return value
    return copy.deepcopy(value)
