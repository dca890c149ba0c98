"""JSON patch (RFC 6902) and JSON merge patch (RFC 7386), and JSON decoding that fails with
Go's encoding/json wording (kubectl prints it verbatim).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson

from kubeapi.errors import StatusError, bad_request
from kubeapi.jsontypes import go_kind

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
        got = "object" if isinstance(patch_ops, dict) else go_kind(patch_ops)
        raise bad_request(f"json: cannot unmarshal {got} into Go value of type jsonpatch.Patch")
    for op in patch_ops:
        if not isinstance(op, dict):
            raise bad_request(f"json: cannot unmarshal {go_kind(op)} into Go value of type "
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

