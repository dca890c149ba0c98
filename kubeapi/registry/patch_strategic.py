"""Kubernetes strategic merge patch, driven by the schema's x-kubernetes-patch-strategy and
x-kubernetes-patch-merge-key markers (upstream's Go struct tags).
"""

from __future__ import annotations

import copy
from typing import Any

from kubeapi.errors import StatusError, bad_request
from kubeapi.jsontypes import go_kind
from kubeapi.registry.patch_json import _MISSING, _equal, rejected
from kubeapi.registry.schemacheck import items_schema, property_schema, resolve

Schema = dict[str, Any]


# --- strategic merge patch -------------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"

ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_SET_ORDER = "invalid patch format of setElementOrder list"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"


class _SMPError(Exception):
    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def _strategy(schema: Schema | None) -> tuple[str, str, bool]:
    """(patch strategy, merge key, retainKeys) of a field's schema."""
    if not schema:
        return "", "", False
    parts = [p.strip() for p in str(schema.get("x-kubernetes-patch-strategy", "")).split(",") if p.strip()]
    retain = "retainKeys" in parts
    rest = [p for p in parts if p != "retainKeys"]
    return (rest[0] if rest else ""), str(schema.get("x-kubernetes-patch-merge-key", "")), retain


def _go_repr(v: Any) -> str:
    if isinstance(v, dict):
        inner = " ".join(f"{k}:{_go_repr(v[k])}" for k in sorted(v))
        return f"map[{inner}]"
    if isinstance(v, list):
        return "[" + " ".join(_go_repr(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _no_merge_key(item: Any, key: str) -> _SMPError:
    return _SMPError(f"map: {_go_repr(item)} does not contain declared merge key: {key}", 500)


def _elem_kind(*lists: list[Any]) -> str:
    """'map' | 'scalar' | '' (no elements); errors on mixed or nested lists, as upstream."""
    prev = ""
    for lst in lists:
        for v in lst:
            k = "list" if isinstance(v, list) else "map" if isinstance(v, dict) else type(v).__name__
            if k == "list":
                raise _SMPError(ERR_NO_LIST_OF_LISTS, 422)
            if prev and prev != k and not {prev, k} <= {"int", "float"}:
                raise _SMPError("list element types are not identical", 500)
            prev = prev or k
    if not prev:
        return ""
    return "map" if prev == "map" else "scalar"


def _find(lst: list[Any], key: str, value: Any) -> int:
    for i, v in enumerate(lst):
        if not isinstance(v, dict):
            raise _SMPError(f"value for key {i} is not a map.", 500)
        if key in v and _equal(v[key], value):
            return i
    return -1


def _in_order(order: list[Any], item: Any, key: str, is_map: bool) -> int:
    for i, o in enumerate(order):
        if is_map:
            if isinstance(o, dict) and isinstance(item, dict) and key in o and key in item \
                    and _equal(o[key], item[key]):
                return i
        elif _equal(o, item):
            return i
    return -1


def _normalize(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
               server_order: list[Any], key: str, is_map: bool) -> list[Any]:
    """Patched items in patch order, live-only items in live order, interleaved by live
    order where both are known (upstream's normalizeElementOrder)."""
    def sort_by(items: list[Any], order: list[Any]) -> list[Any]:
        keep = [x for x in items if not (is_map and isinstance(x, dict) and x.get(_DIRECTIVE) == "delete")]
        drop = [x for x in items if x not in keep]
        keep.sort(key=lambda x: (i if (i := _in_order(order, x, key, is_map)) >= 0 else len(order)))
        return keep + drop

    left = sort_by(server_only, server_order)
    right = sort_by(patch_items, patch_order)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _in_order(server_order, left[i], key, is_map)
            ri = _in_order(server_order, right[j], key, is_map)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _partition(merged: list[Any], by: list[Any], key: str, is_map: bool) -> tuple[list[Any], list[Any]]:
    inside: list[Any] = []
    outside: list[Any] = []
    for v in merged:
        if is_map:
            if not isinstance(v, dict) or key not in v:
                raise _no_merge_key(v, key)
            (inside if _in_order(by, v, key, True) >= 0 else outside).append(v)
        else:
            (inside if _in_order(by, v, key, False) >= 0 else outside).append(v)
    return inside, outside


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(_equal(v, o) for o in out):
            out.append(v)
    return out


def _merge_list(original: list[Any], patch: list[Any], schema: Schema | None, key: str,
                delete_list: bool) -> list[Any]:
    if not original and not patch:
        return original
    kind = _elem_kind(original, patch)
    if kind != "map":
        if delete_list:
            return [v for v in original if not any(_equal(v, d) for d in patch)]
        merged = _dedupe(original + patch)
        inside, outside = _partition(merged, patch, "", False)
        return _normalize(inside, outside, patch, original, "", False)
    if not key:
        raise _SMPError("cannot merge lists without merge key for type map", 500)
    item_schema = items_schema(schema)
    # Special elements first: $patch delete / replace / merge.
    plain: list[Any] = []
    replace = False
    work = list(original)
    for item in patch:
        directive = item.get(_DIRECTIVE, _MISSING)
        if directive is _MISSING:
            plain.append(item)
        elif directive == "delete":
            if key not in item:
                raise _no_merge_key(item, key)
            while (i := _find(work, key, item[key])) >= 0:
                del work[i]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _SMPError("merging lists cannot yet be specified in the patch", 500)
        else:
            raise _SMPError(f"Unknown patch type: {directive} in map: {_go_repr(item)}", 500)
    if replace:
        return [_strip(x) for x in plain]
    merged = list(work)
    for item in plain:
        if key not in item:
            raise _no_merge_key(item, key)
        i = _find(merged, key, item[key])
        if i >= 0:
            merged[i] = _merge_map(merged[i], item, item_schema)
        else:
            merged.append(_strip(item))
    inside, outside = _partition(merged, plain, key, True)
    return _normalize(inside, outside, plain, work, key, True)


def _strip(value: Any) -> Any:
    """A patch value landing where nothing existed: drop nulls and directives inside it."""
    if isinstance(value, dict):
        if value.get(_DIRECTIVE) == "delete":
            return {}
        return {k: _strip(v) for k, v in value.items()
                if v is not None and k != _DIRECTIVE and k != _RETAIN_KEYS
                and not k.startswith(_SET_ORDER) and not k.startswith(_DELETE_PRIMITIVE)}
    if isinstance(value, list):
        return [_strip(v) for v in value
                if not (isinstance(v, dict) and v.get(_DIRECTIVE) == "delete")]
    return value


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: Schema | None) -> dict[str, Any]:
    patch = dict(patch)
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            del patch[_DIRECTIVE]
            return _strip(patch)
        if directive == "delete":
            return {}
        raise _SMPError(f"Unknown patch type: {directive} in map: {_go_repr(patch)}", 500)
    out = dict(original) if original else {}

    if _RETAIN_KEYS in patch:
        keep = patch.pop(_RETAIN_KEYS)
        if not isinstance(keep, list):
            raise _SMPError(ERR_BAD_RETAIN_KEYS)
        for k, v in patch.items():
            if v is None or k.startswith(_DELETE_PRIMITIVE) or k.startswith(_SET_ORDER):
                continue
            if k not in keep:
                raise _SMPError(ERR_BAD_RETAIN_KEYS)
        for k in list(out):
            if k not in keep:
                del out[k]

    for k in [k for k in patch if k.startswith(_SET_ORDER)]:
        order = patch.pop(k)
        name = k[len(_SET_ORDER):]
        if not name or not isinstance(order, list):
            raise _SMPError(ERR_BAD_SET_ORDER)
        fschema = property_schema(schema, name)
        strategy, key, _ = _strategy(fschema)
        orig_list = out.get(name, _MISSING)
        patch_list = patch.get(name, _MISSING)
        if orig_list is not _MISSING and not isinstance(orig_list, list):
            raise _SMPError(ERR_BAD_SET_ORDER)
        if patch_list is not _MISSING and not isinstance(patch_list, list):
            raise _SMPError(ERR_BAD_SET_ORDER)
        if orig_list is _MISSING and patch_list is _MISSING:
            continue
        ol: list[Any] = orig_list if isinstance(orig_list, list) else []
        pl: list[Any] = patch_list if isinstance(patch_list, list) else []
        if orig_list is _MISSING:
            merged = [_strip(x) for x in pl]
        elif patch_list is _MISSING:
            merged = ol
        elif strategy == "merge":
            merged = _merge_list(ol, pl, fschema, key, False)
        else:
            merged = [_strip(x) for x in pl]
        kind = _elem_kind(ol, pl) if (ol or pl) else "scalar"
        is_map = kind == "map"
        inside, outside = _partition(merged, order, key if is_map else "", is_map)
        out[name] = _normalize(inside, outside, order, ol, key if is_map else "", is_map)
        patch.pop(name, None)

    for k, pv in patch.items():
        delete_list = False
        if k.startswith(_DELETE_PRIMITIVE):
            name = k[len(_DELETE_PRIMITIVE):]
            if not name or not isinstance(pv, list):
                raise _SMPError(ERR_BAD_PRIMITIVE_LIST)
            k, delete_list = name, True
            if k not in out:
                continue
        if pv is None:
            out.pop(k, None)
            continue
        if k not in out:
            out[k] = _strip(pv)
            continue
        ov = out[k]
        fschema = property_schema(schema, k)
        strategy, key, _ = _strategy(fschema)
        if isinstance(ov, dict) and isinstance(pv, dict):
            out[k] = _strip(pv) if strategy == "replace" else _merge_map(ov, pv, fschema)
        elif isinstance(ov, list) and isinstance(pv, list):
            if strategy == "merge":
                out[k] = _merge_list(ov, pv, fschema, key, delete_list)
            else:
                out[k] = _strip(pv)
        else:
            out[k] = _strip(pv)
    return out


def apply_strategic_merge_patch(doc: dict[str, Any], patch: Any, schema: Schema | None) -> dict[str, Any]:
    """Kubernetes strategic merge patch, driven by the schema's patch markers."""
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {go_kind(patch)} into Go value of type "
                          "map[string]interface {}")
    try:
        return _merge_map(copy.deepcopy(doc), copy.deepcopy(patch), resolve(schema))
    except _SMPError as e:
        if e.code == 400:
            raise bad_request(str(e)) from None
        if e.code == 422:
            raise rejected() from None
        raise StatusError(500, "InternalError", f"Internal error occurred: {e}",
                          {"causes": [{"message": str(e)}]}) from None

