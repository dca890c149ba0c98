"""The names a decoded JSON value's type goes by in the messages clients see."""

from __future__ import annotations

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
