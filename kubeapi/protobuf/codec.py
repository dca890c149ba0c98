"""Schema-driven message codec: protobuf bytes <-> the JSON-shaped dict Go's encoding/json would give.

Decoding follows what a Go server does: unmarshal into the typed struct (absent fields are Go zero
values) and marshal it as JSON (omitempty, pointers, inline structs, custom marshalers). Encoding
follows gogo-protobuf as Kubernetes generates it: ascending field numbers, non-pointer scalars and
structs always written, pointers only when set, map entries sorted by key.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from kubeapi import timefmt
from kubeapi.protobuf import gotypes
from kubeapi.protobuf.schema import (
    INLINE,
    MAP,
    META,
    OMITEMPTY,
    OMITZERO,
    POINTER,
    REPEATED,
    Field,
    is_slice_wrapper,
    message,
)
from kubeapi.protobuf.wire import (
    FIXED32,
    FIXED64,
    LENGTH,
    VARINT,
    ProtobufDecodeError,
    field_bytes,
    field_double,
    field_float,
    field_varint,
    fixed32_to_float,
    fixed64_to_double,
    iter_fields,
    read_varint,
    signed,
    varint,
)

TIME = f"{META}.Time"
MICROTIME = f"{META}.MicroTime"
DURATION = f"{META}.Duration"
FIELDSV1 = f"{META}.FieldsV1"
INTORSTRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
RAWEXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
_APIEXT = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1"
EXT_JSON = f"{_APIEXT}.JSON"
OR_ARRAY = f"{_APIEXT}.JSONSchemaPropsOrArray"
OR_BOOL = f"{_APIEXT}.JSONSchemaPropsOrBool"
OR_STRINGARRAY = f"{_APIEXT}.JSONSchemaPropsOrStringArray"
SCHEMA_PROPS = f"{_APIEXT}.JSONSchemaProps"

_VARINT_TYPES = {"int32", "int64", "uint32", "uint64", "bool", "sint32", "sint64"}
_WIRE = {"double": FIXED64, "fixed64": FIXED64, "sfixed64": FIXED64, "float": FIXED32,
         "fixed32": FIXED32, "sfixed32": FIXED32, "string": LENGTH, "bytes": LENGTH}
ENVELOPE_MAGIC = b"k8s\x00"


def _wire_type(typ: str) -> int:
    if typ in _VARINT_TYPES:
        return VARINT
    return _WIRE.get(typ, LENGTH)


def _is_scalar(typ: str) -> bool:
    return "." not in typ


# ---------------------------------------------------------------- decoding

def _scalar(typ: str, wt: int, raw: int | bytes) -> Any:
    if typ == "string":
        assert isinstance(raw, bytes)
        return raw.decode("utf-8", errors="replace")
    if typ == "bytes":
        return raw
    assert isinstance(raw, int)
    if typ == "bool":
        return raw != 0
    if typ in ("int32", "sfixed32"):
        return signed(raw, 32)
    if typ in ("int64", "sfixed64"):
        return signed(raw, 64)
    if typ == "sint32" or typ == "sint64":
        return (raw >> 1) ^ -(raw & 1)
    if typ == "double":
        return _json_number(fixed64_to_double(raw))
    if typ == "float":
        return _json_number(fixed32_to_float(raw))
    return raw


def _json_number(v: float) -> int | float:
    """Go prints integral float64 values without a fraction."""
    return int(v) if v.is_integer() and abs(v) < 1e21 else v


def _unpack(typ: str, data: bytes) -> list[Any]:
    """A packed repeated scalar (accepted on input; gogo itself never packs proto2 fields)."""
    wt = _wire_type(typ)
    out: list[Any] = []
    pos = 0
    while pos < len(data):
        if wt == VARINT:
            v, pos = read_varint(data, pos)
        elif wt == FIXED64:
            v, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        else:
            v, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        if pos > len(data):
            raise ProtobufDecodeError("truncated packed field")
        out.append(_scalar(typ, wt, v))
    return out


def decode_value(typ: str, data: bytes) -> Any:
    """The JSON value of a message-typed field whose bytes are `data` (b"" gives the Go zero value)."""
    special = _SPECIAL_DECODERS.get(typ)
    if special is not None:
        return special(data)
    if is_slice_wrapper(typ):
        return [_scalar("string", LENGTH, v) for n, wt, v in iter_fields(data) if n == 1 and wt == LENGTH]
    return decode_message(typ, data)


def _read_message_fields(typ: str, data: bytes) -> dict[int, Any]:
    msg = message(typ)
    vals: dict[int, Any] = {}
    for num, wt, raw in iter_fields(data):
        f = msg.by_number.get(num)
        if f is None:
            continue  # unknown field: skipped, as Go does
        if f.flags & MAP:
            if wt != LENGTH:
                raise ProtobufDecodeError(f"{typ}.{f.json}: wrong wire type {wt}")
            assert isinstance(raw, bytes)
            key, value = _map_entry(f, raw)
            vals.setdefault(num, {})[key] = value
            continue
        scalar = _is_scalar(f.type)
        if f.flags & REPEATED and scalar and wt == LENGTH and _wire_type(f.type) != LENGTH:
            assert isinstance(raw, bytes)
            vals.setdefault(num, []).extend(_unpack(f.type, raw))
            continue
        if wt != (_wire_type(f.type) if scalar else LENGTH):
            raise ProtobufDecodeError(f"{typ}.{f.json}: wrong wire type {wt}")
        if scalar:
            value = _scalar(f.type, wt, raw)
        else:
            assert isinstance(raw, bytes)
            value = decode_value(f.type, raw)
        if f.flags & REPEATED:
            vals.setdefault(num, []).append(value)
        else:
            vals[num] = value
    return vals


def _map_entry(f: Field, data: bytes) -> tuple[str, Any]:
    key = ""
    value: Any = None
    seen_value = False
    for num, wt, raw in iter_fields(data):
        if num == 1 and wt == LENGTH:
            assert isinstance(raw, bytes)
            key = raw.decode("utf-8", errors="replace")
        elif num == 2:
            if _is_scalar(f.type):
                if wt != _wire_type(f.type):
                    raise ProtobufDecodeError(f"map {f.json}: wrong wire type {wt}")
                value = _scalar(f.type, wt, raw)
            else:
                if wt != LENGTH:
                    raise ProtobufDecodeError(f"map {f.json}: wrong wire type {wt}")
                assert isinstance(raw, bytes)
                value = decode_value(f.type, raw)
            seen_value = True
    if not seen_value:
        value = _zero_scalar(f.type) if _is_scalar(f.type) else decode_value(f.type, b"")
    if f.type == "bytes":
        value = None if value is None else base64.b64encode(value).decode("ascii")
    return key, value


def _zero_scalar(typ: str) -> Any:
    if typ == "string":
        return ""
    if typ == "bool":
        return False
    if typ == "bytes":
        return None
    return 0


def decode_message(typ: str, data: bytes) -> dict[str, Any]:
    """Render one message as Go's encoding/json would render the typed struct."""
    vals = _read_message_fields(typ, data)
    out: dict[str, Any] = {}
    for f in message(typ).fields:
        present = f.number in vals
        v: Any = vals.get(f.number)
        fl = f.flags
        if fl & INLINE:
            out.update(v if present else decode_value(f.type, b""))
            continue
        if fl & (MAP | REPEATED):
            if present:
                if f.type == "bytes" and not fl & MAP:
                    v = [base64.b64encode(x).decode("ascii") for x in v]
                out[f.json] = v
            elif not fl & (OMITEMPTY | OMITZERO):
                out[f.json] = None
            continue
        if f.type == "bytes":
            if present and (v or not fl & (OMITEMPTY | OMITZERO)):
                out[f.json] = base64.b64encode(v).decode("ascii")
            elif not present and not fl & (OMITEMPTY | OMITZERO):
                out[f.json] = None
            continue
        if fl & POINTER:
            if present:
                out[f.json] = v
            elif not fl & (OMITEMPTY | OMITZERO):
                out[f.json] = None
            continue
        if _is_scalar(f.type):
            value = v if present else _zero_scalar(f.type)
            if fl & (OMITEMPTY | OMITZERO) and not value:
                continue
            out[f.json] = value
            continue
        # a struct held by value: encoding/json never omits it for omitempty
        value = v if present else decode_value(f.type, b"")
        if fl & OMITZERO and not present:
            continue
        out[f.json] = value
    return out


def _dec_time(data: bytes) -> str | None:
    return _dec_timestamp(data, micro=False)


def _dec_microtime(data: bytes) -> str | None:
    return _dec_timestamp(data, micro=True)


def _dec_timestamp(data: bytes, micro: bool) -> str | None:
    if not data:
        return None  # the zero time marshals as null
    secs = nanos = 0
    for num, wt, raw in iter_fields(data):
        if wt != VARINT:
            raise ProtobufDecodeError("Time: wrong wire type")
        assert isinstance(raw, int)
        if num == 1:
            secs = signed(raw, 64)
        elif num == 2:
            nanos = signed(raw, 32)
    if secs == -62135596800 and nanos == 0:
        return None
    return gotypes.format_time(secs, nanos, micro)


def _dec_duration(data: bytes) -> str:
    ns = 0
    for num, wt, raw in iter_fields(data):
        if num == 1 and wt == VARINT:
            assert isinstance(raw, int)
            ns = signed(raw, 64)
    return timefmt.format_duration(ns)


def _dec_intorstring(data: bytes) -> int | str:
    vals = _read_message_fields(INTORSTRING, data)
    if vals.get(1, 0) == 1:
        return str(vals.get(3, ""))
    return int(vals.get(2, 0))


def _dec_quantity(data: bytes) -> str:
    for num, wt, raw in iter_fields(data):
        if num == 1 and wt == LENGTH:
            assert isinstance(raw, bytes)
            text = raw.decode("utf-8", errors="replace")
            return text or "0"
    return "0"


def _raw_bytes(data: bytes) -> bytes | None:
    raw: bytes | None = None
    for num, wt, v in iter_fields(data):
        if num == 1 and wt == LENGTH:
            assert isinstance(v, bytes)
            raw = v
    return raw


def _dec_json_bytes(data: bytes) -> Any:
    raw = _raw_bytes(data)
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ProtobufDecodeError(f"embedded JSON is invalid: {e}") from None


def _dec_rawextension(data: bytes) -> Any:
    raw = _raw_bytes(data)
    if not raw:
        return None
    if raw.startswith(ENVELOPE_MAGIC):
        from kubeapi.protobuf.envelope import decode

        return decode(raw)
    return _dec_json_bytes(data)


def _dec_or_array(data: bytes) -> Any:
    vals = _read_message_fields(OR_ARRAY, data)
    if vals.get(2):
        return vals[2]
    return vals.get(1)


def _dec_or_bool(data: bytes) -> Any:
    vals = _read_message_fields(OR_BOOL, data)
    if 2 in vals:
        return vals[2]
    return bool(vals.get(1, False))


def _dec_or_stringarray(data: bytes) -> Any:
    vals = _read_message_fields(OR_STRINGARRAY, data)
    if vals.get(2):
        return vals[2]
    return vals.get(1)


_SPECIAL_DECODERS = {
    TIME: _dec_time,
    MICROTIME: _dec_microtime,
    DURATION: _dec_duration,
    INTORSTRING: _dec_intorstring,
    QUANTITY: _dec_quantity,
    RAWEXTENSION: _dec_rawextension,
    FIELDSV1: _dec_json_bytes,
    EXT_JSON: _dec_json_bytes,
    OR_ARRAY: _dec_or_array,
    OR_BOOL: _dec_or_bool,
    OR_STRINGARRAY: _dec_or_stringarray,
}


# ---------------------------------------------------------------- encoding

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

__all__ = ["decode_message", "decode_value", "encode_message", "encode_value", "EncodeError",
           "ENVELOPE_MAGIC", "varint"]
