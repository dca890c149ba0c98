"""PATCH bodies: JSON patch (RFC 6902), merge patch (RFC 7386), Kubernetes strategic
merge patch, and a first server-side apply.

All functions work on plain JSON values and never mutate their inputs.  Failures are
``StatusError``s shaped as kube-apiserver's patch handler shapes them, because kubectl
prints ``reason``/``message`` verbatim.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import yaml

from kubeapi.api.types import FieldError
from kubeapi.errors import StatusError, bad_request, invalid, unsupported_media_type
from kubeapi.registry.schemacheck import items_schema, property_schema, resolve

Schema = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Upstream's order, as listed in 415 answers.
BUILTIN_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
CUSTOM_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)

MAX_JSON_PATCH_OPERATIONS = 10000

_MISSING = object()


class _PatchFailed(Exception):
    """A JSON patch operation that does not apply (rendered as 422)."""


def rejected() -> StatusError:
    """422 Invalid without details: what upstream answers when a patch does not apply."""
    return StatusError(422, "Invalid", "the server rejected our request due to an error in our request")


# --- JSON decoding with Go's error wording ---------------------------------------------------


def _go_char(c: str) -> str:
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    return f"'{c}'"


def go_json_error_message(body: bytes) -> str:
    """Explain why ``body`` is not JSON the way Go's encoding/json does (kubectl users
    see this text in 400 answers)."""
    text = body.decode("utf-8", errors="replace")
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        pos = e.pos
        if pos >= len(text) or not text[pos:].strip():
            return "unexpected end of JSON input"
        c = _go_char(text[pos])
        msg = e.msg
        if msg.startswith("Expecting value"):
            return f"invalid character {c} looking for beginning of value"
        if msg.startswith("Expecting property name"):
            return f"invalid character {c} looking for beginning of object key string"
        if msg.startswith("Expecting ':'"):
            return f"invalid character {c} after object key"
        if msg.startswith("Expecting ','"):
            depth: list[str] = []
            in_str = esc = False
            for ch in text[:pos]:
                if in_str:
                    esc = (not esc) and ch == "\\"
                    if ch == '"' and not esc:
                        in_str = False
                    continue
                if ch == '"':
                    in_str = True
                elif ch in "{[":
                    depth.append(ch)
                elif ch in "}]" and depth:
                    depth.pop()
            where = "object key:value pair" if depth and depth[-1] == "{" else "array element"
            return f"invalid character {c} after {where}"
        if msg.startswith("Extra data"):
            return f"invalid character {c} after top-level value"
        if msg.startswith("Invalid control character"):
            return f"invalid character {c} in string literal"
        return f"invalid character {c} looking for beginning of value"
    # json accepted what orjson refused (NaN, Infinity, bad UTF-8 ...).
    for i, ch in enumerate(text):
        if ch in "NI" and text[i:i + 3] in ("NaN", "Inf"):
            return f"invalid character {_go_char(ch)} looking for beginning of value"
    return "invalid character looking for beginning of value"


def decode_json(body: bytes) -> Any:
    """orjson decode; a 400 BadRequest worded as Go's decoder on failure."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad_request(go_json_error_message(body)) from None


# --- RFC 6902 --------------------------------------------------------------------------------


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise _PatchFailed("path is not a string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchFailed(f"JSON pointer must be empty or start with a \"/\": {path}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    try:
        i = int(token)
    except ValueError:
        raise _PatchFailed(f"invalid array index {token!r}") from None
    if token != str(i) or (token.startswith("0") and token != "0"):
        raise _PatchFailed(f"invalid array index {token!r}")
    n = len(container)
    if i < 0:
        if i < -n:
            raise _PatchFailed(f"array index out of bounds: {i}")
        i += n
    limit = n if for_add else n - 1
    if i > limit:
        raise _PatchFailed(f"array index out of bounds: {i}")
    return i


def _parent(doc: Any, tokens: list[str]) -> Any:
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise _PatchFailed("doc is missing path")
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, for_add=False)]
        else:
            raise _PatchFailed("doc is missing path")
    return cur


def _get(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        return doc
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        return parent.get(last, _MISSING)
    if isinstance(parent, list):
        try:
            return parent[_index(parent, last, for_add=False)]
        except _PatchFailed:
            return _MISSING
    return _MISSING


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True), value)
    else:
        raise _PatchFailed("add operation does not apply: doc is missing path")
    return doc


def _remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise _PatchFailed("unable to remove the whole document")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchFailed("remove operation does not apply: doc is missing key")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, for_add=False))
    raise _PatchFailed("remove operation does not apply: doc is missing path")


def _replace(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchFailed("replace operation does not apply: doc is missing key")
        parent[last] = value
    elif isinstance(parent, list):
        parent[_index(parent, last, for_add=False)] = value
    else:
        raise _PatchFailed("replace operation does not apply: doc is missing path")
    return doc


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _apply_op(doc: Any, op: Any) -> Any:
    if not isinstance(op, dict):
        raise _PatchFailed("operation is not an object")
    kind = op.get("op")
    if "path" not in op:
        raise _PatchFailed("operation missing path field")
    tokens = _pointer(op["path"])
    if kind in ("add", "replace", "test") and "value" not in op:
        raise _PatchFailed("missing value")
    if kind == "add":
        return _add(doc, tokens, copy.deepcopy(op["value"]))
    if kind == "remove":
        _remove(doc, tokens)
        return doc
    if kind == "replace":
        return _replace(doc, tokens, copy.deepcopy(op["value"]))
    if kind in ("move", "copy"):
        if "from" not in op:
            raise _PatchFailed("operation missing from field")
        src = _pointer(op["from"])
        if kind == "move":
            if tokens[:len(src)] == src and len(tokens) > len(src):
                raise _PatchFailed("cannot move a value into one of its children")
            value = _remove(doc, src) if src else doc
        else:
            value = _get(doc, src)
            if value is _MISSING:
                raise _PatchFailed("copy operation does not apply: doc is missing from path")
            value = copy.deepcopy(value)
        return _add(doc, tokens, value)
    if kind == "test":
        current = _get(doc, tokens)
        if current is _MISSING:
            if op["value"] is None:
                return doc
            raise _PatchFailed("test failed")
        if not _equal(current, op["value"]):
            raise _PatchFailed("test failed")
        return doc
    raise _PatchFailed(f"Unexpected kind: {kind}")


def apply_json_patch(doc: Any, patch_ops: Any) -> Any:
    """RFC 6902.  A body that is not a list of operations is 400 BadRequest; more than
    10000 operations 413; an operation that does not apply 422 Invalid."""
    if not isinstance(patch_ops, list):
        got = "object" if isinstance(patch_ops, dict) else _go_kind(patch_ops)
        raise bad_request(f"json: cannot unmarshal {got} into Go value of type jsonpatch.Patch")
    for op in patch_ops:
        if not isinstance(op, dict):
            raise bad_request(f"json: cannot unmarshal {_go_kind(op)} into Go value of type "
                              "jsonpatch.Operation")
    if len(patch_ops) > MAX_JSON_PATCH_OPERATIONS:
        raise StatusError(413, "RequestEntityTooLarge",
                          "Request entity too large: The allowed maximum operations in a JSON patch "
                          f"is {MAX_JSON_PATCH_OPERATIONS}, got {len(patch_ops)}")
    out = copy.deepcopy(doc)
    try:
        for op in patch_ops:
            out = _apply_op(out, op)
    except _PatchFailed:
        raise rejected() from None
    return out


def _go_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


# --- RFC 7386 --------------------------------------------------------------------------------


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = apply_merge_patch(out.get(k), v)
    return out


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
        raise bad_request(f"json: cannot unmarshal {_go_kind(patch)} into Go value of type "
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


# --- server-side apply (first version) -------------------------------------------------------


def _apply_merge(live: Any, applied: Any, schema: Schema | None) -> Any:
    """Merge the applied configuration into the live object: maps recursively, lists by
    their list type (``map`` by ``x-kubernetes-list-map-keys`` or the patch merge key,
    ``set`` as a union, anything else replaced)."""
    schema = resolve(schema)
    if isinstance(applied, dict) and isinstance(live, dict):
        out = dict(live)
        for k, v in applied.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _apply_merge(live.get(k), v, property_schema(schema, k))
        return out
    if isinstance(applied, list) and isinstance(live, list) and schema:
        list_type = schema.get("x-kubernetes-list-type", "")
        keys = list(schema.get("x-kubernetes-list-map-keys") or [])
        if not keys and schema.get("x-kubernetes-patch-merge-key"):
            keys = [schema["x-kubernetes-patch-merge-key"]]
            list_type = list_type or ("map" if "merge" in str(schema.get("x-kubernetes-patch-strategy"))
                                      else "")
        if list_type == "set" or (not list_type and "merge" in str(schema.get("x-kubernetes-patch-strategy"))
                                  and not keys):
            return _dedupe(live + applied)
        if list_type == "map" and keys:
            sub = items_schema(schema)
            out_list = list(live)
            for item in applied:
                if not isinstance(item, dict):
                    return copy.deepcopy(applied)
                ident = [item.get(k) for k in keys]
                for i, cur in enumerate(out_list):
                    if isinstance(cur, dict) and [cur.get(k) for k in keys] == ident:
                        out_list[i] = _apply_merge(cur, item, sub)
                        break
                else:
                    out_list.append(_strip(item))
            return out_list
    return _strip(copy.deepcopy(applied))


def apply_server_side(doc: dict[str, Any] | None, applied: Any, schema: Schema | None) -> dict[str, Any]:
    """A first server-side apply: the applied configuration merged into the live object.
    Not done yet: managedFields ownership, removal of fields a manager stopped applying,
    and conflict detection (``force``)."""
    if not isinstance(applied, dict):
        raise bad_request("error decoding YAML: the applied configuration is not an object")
    result = _apply_merge(copy.deepcopy(doc or {}), applied, schema)
    assert isinstance(result, dict)
    return result


def decode_apply_yaml(body: bytes) -> Any:
    try:
        return yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise bad_request(f"error decoding YAML: {e}") from None


# --- dispatch --------------------------------------------------------------------------------


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def supported_patch_types(schema: Schema | None) -> tuple[str, ...]:
    """Strategic merge needs Go struct tags upstream, so CRDs (no patch markers) lack it;
    here: kinds without a schema."""
    return BUILTIN_PATCH_TYPES if schema is not None else CUSTOM_PATCH_TYPES


def apply_patch(doc: dict[str, Any] | None, patch_type: str, body: bytes, schema: Schema | None,
                *, allow_strategic: bool | None = None) -> dict[str, Any]:
    """Apply a PATCH body of the given Content-Type to ``doc`` (None: no live object, only
    meaningful for apply).  ``allow_strategic`` overrides the schema-based choice (CRDs
    carry a schema but upstream still refuses strategic merge for them)."""
    mt = media_type(patch_type)
    accepted = BUILTIN_PATCH_TYPES if (schema is not None if allow_strategic is None else allow_strategic) \
        else CUSTOM_PATCH_TYPES
    if mt not in accepted:
        raise unsupported_media_type(mt, accepted)
    if mt == APPLY_PATCH:
        return apply_server_side(doc, decode_apply_yaml(body), schema)
    if doc is None:
        raise StatusError(404, "NotFound", "the server could not find the requested resource")
    if mt == JSON_PATCH:
        ops = decode_json(body)
        result = apply_json_patch(doc, ops)
    elif mt == MERGE_PATCH:
        try:
            patch = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise bad_request("Invalid JSON Patch") from None
        result = apply_merge_patch(doc, patch)
    else:
        result = apply_strategic_merge_patch(doc, decode_json(body), schema)
    if not isinstance(result, dict):
        raise invalid("", "", "", [FieldError("FieldValueInvalid", "patch", "patch result is not an object",
                                               orjson.dumps(result).decode(), True)])
    return result


def validate_patch_options(patch_type: str, field_manager: str, force_given: bool = False) -> None:
    """PatchOptions checks upstream makes before anything else (422 on PatchOptions)."""
    errs: list[FieldError] = []
    if media_type(patch_type) == APPLY_PATCH:
        if not field_manager:
            errs.append(FieldError("FieldValueRequired", "fieldManager", "is required for apply patch"))
    elif force_given:
        errs.append(FieldError("FieldValueForbidden", "force", "may not be specified for non-apply patch"))
    if len(field_manager) > 128:
        errs.append(FieldError("FieldValueTooLong", "fieldManager",
                               "may not be more than 128 bytes"))
    if errs:
        raise invalid("PatchOptions", "meta.k8s.io", "", errs)
