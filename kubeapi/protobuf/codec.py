"""Schema-driven decoding: protobuf bytes -> the JSON-shaped dict Go's encoding/json would give.

Decoding follows what a Go server does: unmarshal into the typed struct (absent fields are Go zero
values) and marshal it as JSON (omitempty, pointers, inline structs, custom marshalers). The
type names here are shared with kubeapi.protobuf.encode, the other direction.
"""

from __future__ import annotations

import base64
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
    fixed32_to_float,
    fixed64_to_double,
    iter_fields,
    read_varint,
    signed,
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


__all__ = ["decode_message", "decode_value", "ENVELOPE_MAGIC"]
