"""Go's canonical form of a built-in object, computed on the dict itself.

`canonical.canonicalize` defines the form as a round trip through the protobuf tables
(encode, then decode as Go's encoding/json would render the struct).  That round trip was
the largest single cost of a write.  This walks the same tables once and builds the same
dict without making bytes.  It only covers the common shapes; whenever a value is anything
else (a wrong JSON type, an out-of-range integer, a rare special type) it raises
`NotHere`, and the caller falls back to the round trip, which gives the exact answer or the
exact error.  `tests/protobuf/test_normalize.py` holds the two to the same results.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from kubeapi import timefmt
from kubeapi.protobuf import gotypes
from kubeapi.protobuf.codec import (
    DURATION,
    EXT_JSON,
    FIELDSV1,
    INTORSTRING,
    MICROTIME,
    QUANTITY,
    RAWEXTENSION,
    TIME,
    _json_number,
)
from kubeapi.protobuf.schema import (
    INLINE,
    MAP,
    OMITEMPTY,
    OMITZERO,
    POINTER,
    REPEATED,
    is_slice_wrapper,
    message,
)

_OMIT = OMITEMPTY | OMITZERO
_ZERO_TIME = -62135596800  # 0001-01-01T00:00:00Z, which Go marshals as null
_INT_BOUNDS = {
    "int32": (-(2 ** 31), 2 ** 31 - 1), "sint32": (-(2 ** 31), 2 ** 31 - 1), "uint32": (0, 2 ** 32 - 1),
    "int64": (-(2 ** 63), 2 ** 63 - 1), "sint64": (-(2 ** 63), 2 ** 63 - 1), "uint64": (0, 2 ** 64 - 1),
}
_SCALAR_ZERO: dict[str, Any] = {"string": "", "bool": False, **{t: 0 for t in _INT_BOUNDS}, "double": 0}
_TIMES: dict[tuple[str, bool], str | None] = {}  # the same few timestamps recur in every object


class NotHere(Exception):
    """Not a shape this walk handles: use the round trip."""


def message_dict(typ: str, obj: Any) -> dict[str, Any]:
    """What `decode_message(typ, encode_message(typ, obj))` returns, or NotHere."""
    if not isinstance(obj, dict):
        raise NotHere
    out: dict[str, Any] = {}
    for f in message(typ).fields:
        fl = f.flags
        if fl & INLINE:
            out.update(_value(f.type, obj))
            continue
        v = obj.get(f.json)
        t = f.type
        scalar = "." not in t
        if fl & MAP:
            if not v:
                if not fl & _OMIT:
                    out[f.json] = None
                continue
            if not isinstance(v, dict):
                raise NotHere
            if scalar:
                out[f.json] = {str(k): _map_scalar(t, v[k]) for k in sorted(v)}
            else:
                out[f.json] = {str(k): _value(t, v[k]) for k in sorted(v)}
            continue
        if fl & REPEATED:
            if not v:
                if not fl & _OMIT:
                    out[f.json] = None
                continue
            if not isinstance(v, list):
                raise NotHere
            if scalar:
                if t == "bytes":
                    out[f.json] = [_bytes(x) for x in v]
                else:
                    zero = _SCALAR_ZERO.get(t)
                    out[f.json] = [_scalar(t, zero if x is None else x) for x in v]
            else:
                out[f.json] = [_value(t, x) for x in v]
            continue
        if scalar:
            if t == "bytes":
                if v is None:
                    if not fl & _OMIT:
                        out[f.json] = None
                    continue
                text = _bytes(v)
                if text or not fl & _OMIT:
                    out[f.json] = text
                continue
            if v is None:
                if fl & POINTER:
                    if not fl & _OMIT:
                        out[f.json] = None
                    continue
                if t not in _SCALAR_ZERO:
                    raise NotHere
                value = _SCALAR_ZERO[t]
            else:
                value = _scalar(t, v)
            if fl & POINTER:
                out[f.json] = value
            elif not (fl & _OMIT and not value):
                out[f.json] = value
            continue
        if v is None and fl & POINTER:
            if not fl & _OMIT:
                out[f.json] = None
            continue
        out[f.json] = _value(t, v)
    return out


def _value(typ: str, v: Any) -> Any:
    """A message-typed field's value (None gives the Go zero value)."""
    if typ == TIME or typ == MICROTIME:
        return _time(v, typ == MICROTIME)
    if typ == QUANTITY:
        if v is None:
            return "0"
        if isinstance(v, str):
            return v or "0"
        raise NotHere
    if typ == INTORSTRING:
        if v is None:
            return 0
        if isinstance(v, str):
            return v
        if isinstance(v, int) and not isinstance(v, bool) and -(2 ** 31) <= v < 2 ** 31:
            return v
        raise NotHere
    if typ in (RAWEXTENSION, FIELDSV1, EXT_JSON):
        return None if v is None else orjson.loads(orjson.dumps(v))
    if typ == DURATION:
        if v is None:
            return "0s"
        if isinstance(v, str):
            try:
                return timefmt.format_duration(timefmt.parse_duration_ns(v))
            except ValueError:
                raise NotHere from None
        raise NotHere
    if is_slice_wrapper(typ):
        if v is None:
            return []
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return [_string(x) for x in v]
        raise NotHere
    if "apiextensions" in typ and typ.endswith(("OrArray", "OrBool", "OrStringArray")):
        raise NotHere
    return message_dict(typ, {} if v is None else v)


def _time(v: Any, micro: bool) -> str | None:
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise NotHere
    key = (v, micro)
    known = _TIMES.get(key, key)
    if known is not key:
        return known  # type: ignore[return-value]
    try:
        secs, nanos = gotypes.parse_time(v)
    except ValueError:
        raise NotHere from None
    nanos = nanos - nanos % 1000 if micro else 0
    text = None if secs == _ZERO_TIME and nanos == 0 else gotypes.format_time(secs, nanos, micro)
    if len(_TIMES) > 4096:
        _TIMES.clear()
    _TIMES[key] = text
    return text


def _string(v: Any) -> str:
    if not isinstance(v, str):
        raise NotHere
    if not v.isascii():
        try:
            v.encode("utf-8")  # lone surrogates cannot be encoded: the round trip refuses them
        except UnicodeEncodeError:
            raise NotHere from None
    return v


def _scalar(typ: str, v: Any) -> Any:
    if typ == "string":
        return _string(v)
    if typ == "bool":
        if isinstance(v, bool):
            return v
        raise NotHere
    bounds = _INT_BOUNDS.get(typ)
    if bounds is not None:
        if isinstance(v, int) and not isinstance(v, bool) and bounds[0] <= v <= bounds[1]:
            return v
        if isinstance(v, float) and v.is_integer() and bounds[0] <= v <= bounds[1]:
            return int(v)
        raise NotHere
    if typ == "double" and isinstance(v, int | float) and not isinstance(v, bool):
        return _json_number(float(v))
    raise NotHere  # float32, fixed-width, bytes and anything odd: the round trip knows


def _map_scalar(typ: str, v: Any) -> Any:
    if typ == "bytes":
        return None if v is None else _bytes(v)
    return _scalar(typ, _SCALAR_ZERO.get(typ) if v is None else v)


def _bytes(v: Any) -> str:
    if isinstance(v, str):
        try:
            return base64.b64encode(base64.b64decode(v, validate=True)).decode("ascii")
        except ValueError:
            raise NotHere from None
    raise NotHere
