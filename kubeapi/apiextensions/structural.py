"""Is a CRD's openAPIV3Schema structural?  The checks and messages upstream's apiextensions
validation gives (pkg/apiserver/schema/validation.go), as FieldErrors on the schema's path.

A structural schema types every specified field, keeps value validations (anyOf/allOf/oneOf/
not) free of types and defaults, puts nothing but name/generateName under metadata, and marks
int-or-string and embedded resources consistently.
"""

from __future__ import annotations

import re
from typing import Any

from kubeapi.api.types import FieldError

Schema = dict[str, Any]
INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]
TYPES = ("array", "boolean", "integer", "number", "object", "string")


def _req(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueRequired", path, detail)


def _inv(path: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", path, detail, value, True)


def _forbidden(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", path, detail)


def check(schema: Schema, path: str) -> list[FieldError]:
    """Every reason ``schema`` (a version's openAPIV3Schema) is not structural."""
    return _node(schema, "root", path)


def _node(s: Any, lvl: str, path: str) -> list[FieldError]:
    if not isinstance(s, dict):
        return [_inv(path, s, "must be an object")]
    errs: list[FieldError] = []
    t = s.get("type", "")
    if t and t not in TYPES:
        errs.append(FieldError("FieldValueNotSupported", f"{path}.type", "supported values: " +
                               ", ".join(f'"{x}"' for x in TYPES), t, True))
    if t == "array" and "items" not in s:
        errs.append(_req(f"{path}.items", "must be specified"))
    if isinstance(s.get("items"), dict):
        errs += _node(s["items"], "item", f"{path}.items")
    elif isinstance(s.get("items"), list):
        errs.append(_forbidden(f"{path}.items", "items must be a schema object and not an array"))
    for k in sorted(s.get("properties") or {}):
        errs += _node(s["properties"][k], "field", f"{path}.properties[{k}]")
    ap = s.get("additionalProperties")
    if ap is not None:
        if lvl == "root":
            errs.append(_forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if isinstance(ap, dict):
            errs += _node(ap, "field", f"{path}.additionalProperties")
        if s.get("properties") and ap is not False:
            errs.append(_forbidden(f"{path}.additionalProperties",
                                   "additionalProperties and properties are mutual exclusive"))
    ios = bool(s.get("x-kubernetes-int-or-string"))
    puf = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    emb = bool(s.get("x-kubernetes-embedded-resource"))
    if ios and puf:
        errs.append(_inv(f"{path}.x-kubernetes-preserve-unknown-fields", True,
                         "must be false if x-kubernetes-int-or-string is true"))
    if ios and emb:
        errs.append(_inv(f"{path}.x-kubernetes-embedded-resource", True,
                         "must be false if x-kubernetes-int-or-string is true"))
    any_of = s.get("anyOf") or []
    all_of = s.get("allOf") or []
    skip_any = ios and any_of == INT_OR_STRING_ANY_OF
    skip_first_all = ios and bool(all_of) and (all_of[0].get("anyOf") if isinstance(all_of[0], dict) else
                                               None) == INT_OR_STRING_ANY_OF
    if not skip_any:
        for i, sub in enumerate(any_of):
            errs += _nested(sub, f"{path}.anyOf[{i}]", False)
    for i, sub in enumerate(all_of):
        errs += _nested(sub, f"{path}.allOf[{i}]", skip_first_all and i == 0)
    for i, sub in enumerate(s.get("oneOf") or []):
        errs += _nested(sub, f"{path}.oneOf[{i}]", False)
    if isinstance(s.get("not"), dict):
        errs += _nested(s["not"], f"{path}.not", False)
    if s.get("pattern"):
        try:
            re.compile(s["pattern"])
        except re.error as e:
            errs.append(_inv(f"{path}.pattern", s["pattern"],
                             f"must be a valid regular expression, but isn't: {e}"))
    if emb and t != "object":
        if not t:
            errs.append(_req(f"{path}.type", "must be object if x-kubernetes-embedded-resource is true"))
        else:
            errs.append(_inv(f"{path}.type", t, "must be object if x-kubernetes-embedded-resource is true"))
    elif not t and not ios and not puf:
        detail = {"root": "must not be empty at the root", "item": "must not be empty for specified array items",
                  "field": "must not be empty for specified object fields"}[lvl]
        errs.append(_req(f"{path}.type", detail))
    if emb and ap is not None:
        errs.append(_forbidden(f"{path}.additionalProperties",
                               "must not be used if x-kubernetes-embedded-resource is set"))
    if lvl == "root" and t and t != "object":
        errs.append(_inv(f"{path}.type", t, "must be object at the root"))
    props = s.get("properties") or {}
    check_meta = lvl == "root" or emb
    for name in ("kind", "apiVersion"):
        if name in props and check_meta and (props[name] or {}).get("type") != "string":
            errs.append(_inv(f"{path}.properties[{name}].type", (props[name] or {}).get("type", ""),
                             "must be string"))
    if "metadata" in props:
        errs += _metadata(props["metadata"], check_meta, lvl, f"{path}.properties[metadata]")
    if emb and not puf and not props:
        errs.append(_req(f"{path}.properties", "must not be empty if x-kubernetes-embedded-resource is true "
                                               "without x-kubernetes-preserve-unknown-fields"))
    lt = s.get("x-kubernetes-list-type")
    if lt is not None:
        if lt not in ("atomic", "set", "map"):
            errs.append(FieldError("FieldValueNotSupported", f"{path}.x-kubernetes-list-type",
                                   'supported values: "atomic", "set", "map"', lt, True))
        elif t != "array":
            errs.append(_inv(f"{path}.type", t, "must be array if x-kubernetes-list-type is specified"))
        elif lt == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            if not keys:
                errs.append(_req(f"{path}.x-kubernetes-list-map-keys",
                                 "must not be empty if x-kubernetes-list-type is map"))
            item = s.get("items") or {}
            if item.get("type") != "object":
                errs.append(_inv(f"{path}.items.type", item.get("type", ""),
                                 "must be object if parent array's x-kubernetes-list-type is map"))
            for k in keys:
                ks = (item.get("properties") or {}).get(k)
                if ks is None:
                    errs.append(_inv(f"{path}.x-kubernetes-list-map-keys", keys,
                                     "entries must all be names of item properties"))
                elif ks.get("type") not in ("string", "integer", "boolean", "number") and not ks.get(
                        "x-kubernetes-int-or-string"):
                    errs.append(_inv(f"{path}.items.properties[{k}].type", ks.get("type", ""),
                                     "must be a scalar type if parent array's x-kubernetes-list-type is map"))
    if s.get("x-kubernetes-list-map-keys") and lt != "map":
        errs.append(_forbidden(f"{path}.x-kubernetes-list-map-keys",
                               "must not be specified if x-kubernetes-list-type is not map"))
    return errs


def _nested(s: Any, path: str, skip_any_of: bool) -> list[FieldError]:
    """Inside anyOf/allOf/oneOf/not: value validations only."""
    if not isinstance(s, dict):
        return []
    errs: list[FieldError] = []
    if s.get("type"):
        errs.append(_forbidden(f"{path}.type", "must be empty to be structural"))
    if "additionalProperties" in s:
        errs.append(_forbidden(f"{path}.additionalProperties", "must be undefined to be structural"))
    for k in ("default", "description", "title", "nullable", "x-kubernetes-preserve-unknown-fields",
              "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string"):
        if k in s:
            errs.append(_forbidden(f"{path}.{k}", "must be undefined to be structural" if k != "nullable"
                                   else "must be false to be structural"))
    if isinstance(s.get("items"), dict):
        errs += _nested(s["items"], f"{path}.items", False)
    for k in sorted(s.get("properties") or {}):
        errs += _nested(s["properties"][k], f"{path}.properties[{k}]", False)
    if not skip_any_of:
        for i, sub in enumerate(s.get("anyOf") or []):
            errs += _nested(sub, f"{path}.anyOf[{i}]", False)
    for i, sub in enumerate(s.get("allOf") or []):
        errs += _nested(sub, f"{path}.allOf[{i}]", False)
    for i, sub in enumerate(s.get("oneOf") or []):
        errs += _nested(sub, f"{path}.oneOf[{i}]", False)
    if isinstance(s.get("not"), dict):
        errs += _nested(s["not"], f"{path}.not", False)
    return errs


def _metadata(s: Any, check_meta: bool, lvl: str, path: str) -> list[FieldError]:
    s = s if isinstance(s, dict) else {}
    errs: list[FieldError] = []
    if check_meta and s.get("type") != "object":
        errs.append(_inv(f"{path}.type", s.get("type", ""), "must be object"))
    if lvl == "root":
        rest = {k: v for k, v in s.items() if k not in ("type", "default", "description")}
        props = rest.pop("properties", None) or {}
        if set(props) - {"name", "generateName"} or rest:
            errs.append(_forbidden(path, "must not specify anything other than name and generateName, but "
                                         "metadata is implicitly specified"))
    return errs
