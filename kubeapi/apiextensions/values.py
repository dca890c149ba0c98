"""What a structural schema does to a custom object: prune unknown fields, apply defaults,
and validate values (OpenAPI v3 keywords plus the x-kubernetes extensions), with upstream's
messages (`spec.replicas: Invalid value: "string": spec.replicas in body must be of type
integer: "string"`)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from kubeapi.api.types import FieldError
from kubeapi.jsontypes import schema_type
from kubeapi.registry import schemacheck

Schema = dict[str, Any]
Obj = dict[str, Any]
ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ------------------------------------------------------------------------------- pruning

def prune(obj: Any, schema: Schema | None, *, root: bool = True) -> list[str]:
    """Drop fields the schema does not declare, in place; return their dotted paths."""
    out: list[str] = []
    _prune(obj, schema, "", out, root)
    return out


def _prune(v: Any, s: Schema | None, path: str, out: list[str], root: bool) -> None:
    if s is None:
        return
    if isinstance(v, dict):
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        keep_all = bool(s.get("x-kubernetes-preserve-unknown-fields")) or ap is True
        embedded = bool(s.get("x-kubernetes-embedded-resource"))
        for k in list(v):
            if (root or embedded) and k in ROOT_KEEP:
                if k == "metadata" and isinstance(v[k], dict):
                    _prune_object_meta(v, _join(path, k), out)
                continue
            if k in props:
                _prune(v[k], props[k], _join(path, k), out, False)
            elif isinstance(ap, dict):
                _prune(v[k], ap, _join(path, k), out, False)
            elif not keep_all:
                out.append(_join(path, k))
                del v[k]
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for i, item in enumerate(v):
            _prune(item, s["items"], f"{path}[{i}]", out, False)


def _prune_object_meta(parent: dict[str, Any], path: str, out: list[str]) -> None:
    """An object's metadata is an ObjectMeta whatever the CRD's schema says: what ObjectMeta
    lacks goes (as upstream's typed decoding drops it)."""
    unknown = schemacheck.unknown_fields(parent["metadata"], schemacheck.OBJECT_META, path)
    if unknown:
        out.extend(unknown)
        parent["metadata"] = schemacheck.prune(parent["metadata"], schemacheck.OBJECT_META)


# ------------------------------------------------------------------------------- defaulting

def apply_defaults(obj: Any, schema: Schema | None) -> None:
    """Fill in ``default`` for absent properties (and nulls where null is not allowed)."""
    if schema is None:
        return
    if isinstance(obj, dict):
        props = schema.get("properties") or {}
        for k, ps in props.items():
            if "default" in ps and (k not in obj or (obj[k] is None and not ps.get("nullable"))):
                obj[k] = copy.deepcopy(ps["default"])
            if k in obj:
                apply_defaults(obj[k], ps)
        ap = schema.get("additionalProperties")
        if isinstance(ap, dict):
            for k in list(obj):
                if k not in props:
                    apply_defaults(obj[k], ap)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        for i, item in enumerate(obj):
            if item is None and "default" in items and not items.get("nullable"):
                obj[i] = copy.deepcopy(items["default"])
            apply_defaults(obj[i], items)


# ------------------------------------------------------------------------------- validation

def validate(obj: Any, schema: Schema | None) -> list[FieldError]:
    """Every value error of a custom object against its version's schema (metadata excluded)."""
    errs: list[FieldError] = []
    if schema is None or not isinstance(obj, dict):
        return errs
    props = schema.get("properties") or {}
    for k in schema.get("required") or []:
        if k not in obj and k not in ROOT_KEEP:
            errs.append(FieldError("FieldValueRequired", k))
    for k, v in obj.items():
        if k in ROOT_KEEP:
            continue
        if k in props:
            _value(v, props[k], k, errs)
        elif isinstance(schema.get("additionalProperties"), dict):
            _value(v, schema["additionalProperties"], k, errs)
    return errs


def _type_error(path: str, value: Any, want: str) -> FieldError:
    got = schema_type(value)
    return FieldError("FieldValueTypeInvalid", path, f'{path} in body must be of type {want}: "{got}"', got, True)


def _type_ok(value: Any, s: Schema) -> str | None:
    """None if ``value`` has the schema's type, else the expected type name."""
    if s.get("x-kubernetes-int-or-string"):
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return None
        return "integer,string" if value is not None else "integer,string"
    t = s.get("type")
    if not t:
        return None
    ok = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool) or
        (isinstance(value, float) and value.is_integer()),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
    }.get(t, True)
    return None if ok else t


def _value(v: Any, s: Schema, path: str, errs: list[FieldError]) -> None:
    if v is None:
        if s.get("nullable") or s.get("x-kubernetes-preserve-unknown-fields") and not s.get("type"):
            return
        want = "integer,string" if s.get("x-kubernetes-int-or-string") else s.get("type")
        if want:
            errs.append(_type_error(path, v, want))
        return
    want = _type_ok(v, s)
    if want:
        errs.append(_type_error(path, v, want))
        return
    _keywords(v, s, path, errs)
    if isinstance(v, dict) and s.get("x-kubernetes-embedded-resource"):
        errs += _embedded(v, path)
    if isinstance(v, dict):
        props = s.get("properties") or {}
        for k in s.get("required") or []:
            if k not in v:
                errs.append(FieldError("FieldValueRequired", _join(path, k)))
        ap = s.get("additionalProperties")
        for k, item in v.items():
            if k in props:
                _value(item, props[k], _join(path, k), errs)
            elif isinstance(ap, dict):
                _value(item, ap, _join(path, k), errs)
    elif isinstance(v, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(v):
                _value(item, items, f"{path}[{i}]", errs)
        _list_type(v, s, path, errs)


def _embedded(v: Obj, path: str) -> list[FieldError]:
    """An embedded resource needs apiVersion and kind, as an object of its own would."""
    errs: list[FieldError] = []
    for key in ("apiVersion", "kind"):
        if key not in v:
            errs.append(FieldError("FieldValueRequired", _join(path, key)))
        elif not isinstance(v[key], str):
            errs.append(FieldError("FieldValueInvalid", _join(path, key), "must be a string", v[key], True))
        elif not v[key]:
            errs.append(FieldError("FieldValueInvalid", _join(path, key), "must not be empty", "", True))
    if "metadata" in v and not isinstance(v["metadata"], dict):
        errs.append(FieldError("FieldValueInvalid", _join(path, "metadata"), "must be an object", v["metadata"],
                               True))
    return errs


def _keywords(v: Any, s: Schema, path: str, errs: list[FieldError]) -> None:
    if "enum" in s and v not in s["enum"]:
        supported = ", ".join(json.dumps(e) for e in s["enum"])
        errs.append(FieldError("FieldValueNotSupported", path, f"supported values: {supported}", v, True))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "maximum" in s:
            if s.get("exclusiveMaximum") and v >= s["maximum"]:
                errs.append(FieldError("FieldValueInvalid", path,
                                       f"{path} in body should be less than {s['maximum']}", v, True))
            elif v > s["maximum"]:
                errs.append(FieldError("FieldValueInvalid", path,
                                       f"{path} in body should be less than or equal to {s['maximum']}", v, True))
        if "minimum" in s:
            if s.get("exclusiveMinimum") and v <= s["minimum"]:
                errs.append(FieldError("FieldValueInvalid", path,
                                       f"{path} in body should be greater than {s['minimum']}", v, True))
            elif v < s["minimum"]:
                errs.append(FieldError("FieldValueInvalid", path,
                                       f"{path} in body should be greater than or equal to {s['minimum']}", v,
                                       True))
        if s.get("multipleOf") and v % s["multipleOf"]:
            errs.append(FieldError("FieldValueInvalid", path,
                                   f"{path} in body should be a multiple of {s['multipleOf']}", v, True))
    if isinstance(v, str):
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append(FieldError("FieldValueTooLong", path, f"may not be more than {s['maxLength']} bytes",
                                   v, False))
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append(FieldError("FieldValueInvalid", path,
                                   f"{path} in body should be at least {s['minLength']} chars long", v, True))
        if s.get("pattern") and not re.search(s["pattern"], v):
            errs.append(FieldError("FieldValueInvalid", path, f"{path} in body should match '{s['pattern']}'",
                                   v, True))
    if isinstance(v, list):
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append(FieldError("FieldValueTooMany", path, f"must have at most {s['maxItems']} items",
                                   len(v), True))
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append(FieldError("FieldValueInvalid", path,
                                   f"{path} in body should have at least {s['minItems']} items", len(v), True))
    if isinstance(v, dict):
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            errs.append(FieldError("FieldValueTooMany", path, f"must have at most {s['maxProperties']} items",
                                   len(v), True))
        if "minProperties" in s and len(v) < s["minProperties"]:
            errs.append(FieldError("FieldValueInvalid", path,
                                   f"{path} in body should have at least {s['minProperties']} properties",
                                   len(v), True))
    for sub in s.get("allOf") or []:
        _keywords(v, sub, path, errs)
    one_of = s.get("oneOf")
    if one_of:
        matched = sum(1 for sub in one_of if not _sub_errors(v, sub, path))
        if matched != 1:
            errs.append(FieldError("FieldValueInvalid", path, f'"{path}" must validate one and only one schema '
                                                              f'(oneOf). Found {"none" if not matched else matched} valid alternatives',
                                   v, True))
    any_of = s.get("anyOf")
    if any_of and not s.get("x-kubernetes-int-or-string"):
        if all(_sub_errors(v, sub, path) for sub in any_of):
            errs.append(FieldError("FieldValueInvalid", path, f'"{path}" must validate at least one schema (anyOf)',
                                   v, True))
    if isinstance(s.get("not"), dict) and not _sub_errors(v, s["not"], path):
        errs.append(FieldError("FieldValueInvalid", path, f'"{path}" must not validate the schema (not)', v, True))


def _sub_errors(v: Any, sub: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    _keywords(v, sub, path, errs)
    if isinstance(v, dict):
        for k in sub.get("required") or []:
            if k not in v:
                errs.append(FieldError("FieldValueRequired", _join(path, k)))
        for k, ps in (sub.get("properties") or {}).items():
            if k in v:
                errs += _sub_errors(v[k], ps, _join(path, k))
    return errs


def _list_type(v: list[Any], s: Schema, path: str, errs: list[FieldError]) -> None:
    lt = s.get("x-kubernetes-list-type")
    if lt == "set" or s.get("uniqueItems"):
        seen: list[Any] = []
        for i, item in enumerate(v):
            if item in seen:
                errs.append(FieldError("FieldValueDuplicate", f"{path}[{i}]", "", item, True))
            else:
                seen.append(item)
    elif lt == "map":
        keys = s.get("x-kubernetes-list-map-keys") or []
        seen_keys: list[tuple[Any, ...]] = []
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                continue
            key = tuple(item.get(k) for k in keys)
            if key in seen_keys:
                shown = {k: item.get(k) for k in keys if k in item}
                errs.append(FieldError("FieldValueDuplicate", f"{path}[{i}]", "", shown, True))
            else:
                seen_keys.append(key)
