"""Encoding as gogo-protobuf does for Kubernetes: ascending field numbers, non-pointer scalars
and structs always written, pointers only when set, map entries sorted by key; values out of
their Go type's range refused with the field's path."""

from __future__ import annotations

import base64
import binascii
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
    OR_ARRAY,
    OR_BOOL,
    OR_STRINGARRAY,
    QUANTITY,
    RAWEXTENSION,
    SCHEMA_PROPS,
    TIME,
    _is_scalar,
    _json_number,
    _zero_scalar,
)
from kubeapi.protobuf.schema import (
    INLINE,
    MAP,
    POINTER,
    REPEATED,
    is_slice_wrapper,
    message,
)
from kubeapi.protobuf.wire import (
    field_bytes,
    field_double,
    field_float,
    field_varint,
)


class EncodeError(ValueError):
    """The dict does not fit the kind's schema (wrong JSON type for a field)."""


class RangeError(Exception):
    """An integer outside its Go type's range; encode_message names the struct and field."""

    def __init__(self, number: str, typ: str, where: str) -> None:
        super().__init__(number, typ, where)
        self.number = number
        self.typ = typ
        self.where = where


# Go's integer types (protobuf scalar name -> inclusive range); a value outside is refused,
# as Go's decoder refuses it, instead of being wrapped on the wire.
_INT_RANGES: dict[str, tuple[int, int]] = {
    "int32": (-(2 ** 31), 2 ** 31 - 1), "sint32": (-(2 ** 31), 2 ** 31 - 1),
    "sfixed32": (-(2 ** 31), 2 ** 31 - 1), "uint32": (0, 2 ** 32 - 1), "fixed32": (0, 2 ** 32 - 1),
    "int64": (-(2 ** 63), 2 ** 63 - 1), "sint64": (-(2 ** 63), 2 ** 63 - 1),
    "sfixed64": (-(2 ** 63), 2 ** 63 - 1), "uint64": (0, 2 ** 64 - 1), "fixed64": (0, 2 ** 64 - 1),
}


def _number_text(v: int | float) -> str:
    """The number as the client wrote it, near enough (Go quotes the literal)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


def _range_message(err: RangeError, typ: str, here: str) -> str:
    struct = typ.rsplit(".", 1)[-1]
    return (f"json: cannot unmarshal number {err.number} into Go struct field {struct}.{here} "
            f"of type {err.typ}")


def _enc_scalar(num: int, typ: str, v: Any, where: str) -> bytes:
    try:
        if typ == "string":
            if not isinstance(v, str):
                raise TypeError
            return field_bytes(num, v.encode("utf-8"))
        if typ == "bytes":
            return field_bytes(num, _b64(v))
        if typ == "bool":
            if not isinstance(v, bool):
                raise TypeError
            return field_varint(num, int(v))
        if typ == "double":
            return field_double(num, float(v))
        if typ == "float":
            return field_float(num, float(v))
        if isinstance(v, bool) or not isinstance(v, int | float) or int(v) != v:
            raise TypeError
        bounds = _INT_RANGES.get(typ)
        if bounds is not None and not bounds[0] <= v <= bounds[1]:
            raise RangeError(_number_text(v), typ, where)
        if typ in ("sint32", "sint64"):
            n = int(v)
            return field_varint(num, (n << 1) ^ (n >> 63))
        return field_varint(num, int(v))
    except (TypeError, ValueError):
        raise EncodeError(f"{where}: cannot encode {v!r} as {typ}") from None


def _b64(v: Any) -> bytes:
    if isinstance(v, bytes):
        return v
    if not isinstance(v, str):
        raise TypeError
    try:
        return base64.b64decode(v, validate=True)
    except binascii.Error:
        raise ValueError from None


def encode_value(typ: str, v: Any, where: str = "") -> bytes:
    """The bytes of a message-typed field holding JSON value `v` (None gives the Go zero value)."""
    special = _SPECIAL_ENCODERS.get(typ)
    if special is not None:
        return special(v, where)
    if is_slice_wrapper(typ):
        return b"".join(_enc_scalar(1, "string", x, where) for x in (v or ()))
    if v is None:
        v = {}
    if not isinstance(v, dict):
        raise EncodeError(f"{where or typ}: expected an object, got {type(v).__name__}")
    return encode_message(typ, v, where)


def encode_message(typ: str, obj: dict[str, Any], where: str = "") -> bytes:
    try:
        return _encode_message(typ, obj, where)
    except RangeError as e:
        # the innermost struct holding the field names it, with the whole path, as Go does
        raise EncodeError(_range_message(e, typ, e.where)) from None


def _encode_message(typ: str, obj: dict[str, Any], where: str = "") -> bytes:
    out = bytearray()
    for f in message(typ).wire_order:
        fl = f.flags
        here = f"{where}.{f.json}" if where else f.json
        if fl & INLINE:
            out += field_bytes(f.number, encode_value(f.type, obj, where))
            continue
        v = obj.get(f.json)
        scalar = _is_scalar(f.type)
        if fl & MAP:
            if not v:
                continue
            if not isinstance(v, dict):
                raise EncodeError(f"{here}: expected an object")
            for key in sorted(v):
                item = v[key]
                entry = field_bytes(1, str(key).encode("utf-8"))
                if scalar:
                    if item is not None or f.type != "bytes":
                        entry += _enc_scalar(2, f.type, _zero_scalar(f.type) if item is None else item, here)
                else:
                    entry += field_bytes(2, encode_value(f.type, item, here))
                out += field_bytes(f.number, entry)
            continue
        if fl & REPEATED:
            if not v:
                continue
            if not isinstance(v, list):
                raise EncodeError(f"{here}: expected an array")
            for item in v:
                if scalar:
                    out += _enc_scalar(f.number, f.type, _zero_scalar(f.type) if item is None else item, here)
                else:
                    out += field_bytes(f.number, encode_value(f.type, item, here))
            continue
        if scalar:
            if v is None:
                if fl & POINTER or f.type == "bytes":
                    continue
                v = _zero_scalar(f.type)
            out += _enc_scalar(f.number, f.type, v, here)
            continue
        if v is None and fl & POINTER:
            continue
        out += field_bytes(f.number, encode_value(f.type, v, here))
    return bytes(out)


def _enc_timestamp(v: Any, where: str) -> bytes:
    if v is None or v == "":
        return b""
    if not isinstance(v, str):
        raise EncodeError(f"{where}: expected an RFC 3339 time string")
    try:
        secs, nanos = gotypes.parse_time(v)
    except ValueError as e:
        raise EncodeError(f"{where}: {e}") from None
    return field_varint(1, secs) + field_varint(2, nanos)


def _enc_time(v: Any, where: str) -> bytes:
    if isinstance(v, str) and v:
        try:
            secs, _ = gotypes.parse_time(v)
        except ValueError as e:
            raise EncodeError(f"{where}: {e}") from None
        return field_varint(1, secs) + field_varint(2, 0)  # metav1.Time keeps whole seconds
    return _enc_timestamp(v, where)


def _enc_microtime(v: Any, where: str) -> bytes:
    if isinstance(v, str) and v:
        try:
            secs, nanos = gotypes.parse_time(v)
        except ValueError as e:
            raise EncodeError(f"{where}: {e}") from None
        return field_varint(1, secs) + field_varint(2, nanos - nanos % 1000)
    return _enc_timestamp(v, where)


def _enc_duration(v: Any, where: str) -> bytes:
    if v is None:
        ns = 0
    elif isinstance(v, str):
        try:
            ns = timefmt.parse_duration_ns(v)
        except ValueError:
            raise EncodeError(f"{where}: invalid duration {v!r}") from None
    else:
        raise EncodeError(f"{where}: expected a duration string")
    return field_varint(1, ns)


def _enc_intorstring(v: Any, where: str) -> bytes:
    if v is None:
        v = 0
    if isinstance(v, str):
        return field_varint(1, 1) + field_varint(2, 0) + field_bytes(3, v.encode("utf-8"))
    if isinstance(v, int) and not isinstance(v, bool):
        return field_varint(1, 0) + field_varint(2, v) + field_bytes(3, b"")
    raise EncodeError(f"{where}: expected an integer or a string")


def _enc_quantity(v: Any, where: str) -> bytes:
    if v is None:
        v = "0"
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        raise EncodeError(f"{where}: expected a quantity")
    text = v if isinstance(v, str) else str(_json_number(float(v)) if isinstance(v, float) else v)
    return field_bytes(1, text.encode("utf-8"))


def _enc_json_bytes(v: Any, where: str) -> bytes:
    if v is None:
        return b""
    return field_bytes(1, orjson.dumps(v))


def _enc_or_array(v: Any, where: str) -> bytes:
    if isinstance(v, list):
        return b"".join(field_bytes(2, encode_value(SCHEMA_PROPS, x, where)) for x in v)
    if v is None:
        return b""
    return field_bytes(1, encode_value(SCHEMA_PROPS, v, where))


def _enc_or_bool(v: Any, where: str) -> bytes:
    if isinstance(v, bool) or v is None:
        return field_varint(1, int(bool(v)))
    return field_varint(1, 1) + field_bytes(2, encode_value(SCHEMA_PROPS, v, where))


def _enc_or_stringarray(v: Any, where: str) -> bytes:
    if isinstance(v, list):
        return b"".join(_enc_scalar(2, "string", x, where) for x in v)
    if v is None:
        return b""
    return field_bytes(1, encode_value(SCHEMA_PROPS, v, where))


_SPECIAL_ENCODERS = {
    TIME: _enc_time,
    MICROTIME: _enc_microtime,
    DURATION: _enc_duration,
    INTORSTRING: _enc_intorstring,
    QUANTITY: _enc_quantity,
    RAWEXTENSION: _enc_json_bytes,
    FIELDSV1: _enc_json_bytes,
    EXT_JSON: _enc_json_bytes,
    OR_ARRAY: _enc_or_array,
    OR_BOOL: _enc_or_bool,
    OR_STRINGARRAY: _enc_or_stringarray,
}

__all__ = ["encode_message", "encode_value", "EncodeError", "RangeError"]
