"""The protobuf encoder's fast path: a plan per message type, worked out once (tags as
bytes, each field's handling chosen up front), with no error paths kept.

`kubeapi.protobuf.encode` walks the schema for every object and carries each field's JSON
path along for its error messages; for one ConfigMap that was some 50 µs, more than the rest
of a GET.  Here anything out of the ordinary (a value of the wrong JSON type, a number out
of range, an unknown message) gives up, and `encode_message` encodes the object again the
careful way, which writes the same bytes or raises the exact error.  So this module only has
to be right about the objects it does encode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeapi.protobuf.codec import _is_scalar, _zero_scalar
from kubeapi.protobuf.encode import _SPECIAL_ENCODERS, _enc_scalar, encode_value
from kubeapi.protobuf.encode import encode_message as careful_encode_message
from kubeapi.protobuf.schema import INLINE, MAP, POINTER, REPEATED, is_slice_wrapper, message
from kubeapi.protobuf.wire import LENGTH, VARINT, tag, varint

_SMALL = [bytes((i,)) for i in range(128)]
_INT_TYPES = frozenset({"int32", "int64", "uint32", "uint64"})

# Field kinds.
_STRING, _BOOL, _INT, _SCALAR, _MESSAGE, _SPECIAL, _WRAPPER, _INLINE, _MAP, _REPEATED = range(10)

Plan = tuple[tuple[Any, ...], ...]
_plans: dict[str, Plan] = {}
SPECIAL_CACHE_SIZE = 4096
_special_texts: dict[tuple[Any, str], bytes] = {}  # (encoder, text) -> its bytes


def _uvarint(v: int) -> bytes:
    return _SMALL[v] if 0 <= v < 128 else varint(v)


def _plan(typ: str) -> Plan:
    plan = _plans.get(typ)
    if plan is not None:
        return plan
    steps: list[tuple[Any, ...]] = []
    for f in message(typ).wire_order:
        fl, t = f.flags, f.type
        pointer = bool(fl & POINTER)
        if fl & INLINE:
            steps.append((_INLINE, f.json, tag(f.number, LENGTH), f.number, t, pointer))
        elif fl & MAP:
            steps.append((_MAP, f.json, tag(f.number, LENGTH), f.number, t, pointer))
        elif fl & REPEATED:
            steps.append((_REPEATED, f.json, tag(f.number, VARINT if t == "bool" or t in _INT_TYPES else LENGTH),
                          f.number, t, pointer))
        elif t == "string":
            steps.append((_STRING, f.json, tag(f.number, LENGTH), f.number, t, pointer))
        elif t == "bool":
            steps.append((_BOOL, f.json, tag(f.number, VARINT), f.number, t, pointer))
        elif t in _INT_TYPES:
            steps.append((_INT, f.json, tag(f.number, VARINT), f.number, t, pointer))
        elif _is_scalar(t):
            steps.append((_SCALAR, f.json, b"", f.number, t, pointer))
        elif t in _SPECIAL_ENCODERS:
            steps.append((_SPECIAL, f.json, tag(f.number, LENGTH), f.number, _SPECIAL_ENCODERS[t], pointer))
        elif is_slice_wrapper(t):
            steps.append((_WRAPPER, f.json, tag(f.number, LENGTH), f.number, t, pointer))
        else:
            message(t)  # an unknown message fails here, not halfway through an object
            steps.append((_MESSAGE, f.json, tag(f.number, LENGTH), f.number, t, pointer))
    plan = _plans[typ] = tuple(steps)
    return plan


class _GiveUp(Exception):
    """Not the ordinary case: encode it the careful way."""


def _int_ok(typ: str, v: Any) -> bool:
    if type(v) is not int:
        return False
    if typ == "int32":
        return -(1 << 31) <= v < (1 << 31)
    if typ == "int64":
        return -(1 << 63) <= v < (1 << 63)
    if typ == "uint32":
        return 0 <= v < (1 << 32)
    return 0 <= v < (1 << 64)


def _scalar(num: int, typ: str, v: Any) -> bytes:
    if typ == "string" and type(v) is str:
        b = v.encode("utf-8")
        return _uvarint((num << 3) | LENGTH) + _uvarint(len(b)) + b
    return _enc_scalar(num, typ, v, "")


def _value(typ: str, v: Any) -> bytes:
    """encode_value's bytes for a message-typed value."""
    special: Callable[[Any, str], bytes] | None = _SPECIAL_ENCODERS.get(typ)
    if special is not None:
        return special(v, "")
    if is_slice_wrapper(typ):
        return encode_value(typ, v, "")
    if v is None:
        v = {}
    elif type(v) is not dict:
        raise _GiveUp
    return _message(_plan(typ), v)


def _message(plan: Plan, obj: dict[str, Any]) -> bytes:
    out = bytearray()
    get = obj.get
    for kind, name, tg, num, typ, pointer in plan:
        if kind == _INLINE:
            body = _value(typ, obj)
            out += tg
            out += _uvarint(len(body))
            out += body
            continue
        v = get(name)
        if kind == _STRING:
            if v is None:
                if pointer:
                    continue
                v = ""
            elif type(v) is not str:
                raise _GiveUp
            b = v.encode("utf-8")
            out += tg
            out += _uvarint(len(b))
            out += b
        elif kind == _MESSAGE:
            if v is None:
                if pointer:
                    continue
                v = {}
            elif type(v) is not dict:
                raise _GiveUp
            body = _message(_plan(typ), v)
            out += tg
            out += _uvarint(len(body))
            out += body
        elif kind == _MAP:
            if not v:
                continue
            if type(v) is not dict:
                raise _GiveUp
            scalar = _is_scalar(typ)
            for key in sorted(v):
                item = v[key]
                entry = _scalar(1, "string", str(key))
                if scalar:
                    if item is not None or typ != "bytes":
                        entry += _scalar(2, typ, _zero_scalar(typ) if item is None else item)
                else:
                    sub = _value(typ, item)
                    entry += b"\x12" + _uvarint(len(sub)) + sub
                out += tg
                out += _uvarint(len(entry))
                out += entry
        elif kind == _REPEATED:
            if not v:
                continue
            if type(v) is not list:
                raise _GiveUp
            if _is_scalar(typ):
                for item in v:
                    out += _scalar(num, typ, _zero_scalar(typ) if item is None else item)
            else:
                for item in v:
                    body = _value(typ, item)
                    out += tg
                    out += _uvarint(len(body))
                    out += body
        elif kind == _SPECIAL:
            if v is None and pointer:
                continue
            if type(v) is str:  # times, quantities, durations: the same few texts again and again
                key = (typ, v)
                known = _special_texts.get(key)
                if known is None:
                    known = typ(v, "")
                    if len(_special_texts) >= SPECIAL_CACHE_SIZE:
                        _special_texts.clear()
                    _special_texts[key] = known
                body = known
            else:
                body = typ(v, "")
            out += tg
            out += _uvarint(len(body))
            out += body
        elif kind == _BOOL:
            if v is None:
                if pointer:
                    continue
                v = False
            if v is True:
                out += tg
                out += b"\x01"
            elif v is False:
                out += tg
                out += b"\x00"
            else:
                raise _GiveUp
        elif kind == _INT:
            if v is None:
                if pointer:
                    continue
                v = 0
            if not _int_ok(typ, v):
                raise _GiveUp
            out += tg
            out += _uvarint(v) if v >= 0 else varint(v)
        elif kind == _WRAPPER:
            if v is None and pointer:
                continue
            body = encode_value(typ, v, "")
            out += tg
            out += _uvarint(len(body))
            out += body
        else:  # _SCALAR: doubles, floats, bytes, sint and fixed kinds
            if v is None:
                if pointer or typ == "bytes":
                    continue
                v = _zero_scalar(typ)
            out += _enc_scalar(num, typ, v, "")
    return bytes(out)


def encode_message(typ: str, obj: dict[str, Any]) -> bytes:
    """The message bytes of ``obj`` as `kubeapi.protobuf.encode.encode_message` writes them
    (and its errors, for an object it refuses)."""
    try:
        return _message(_plan(typ), obj)
    except Exception:
        return careful_encode_message(typ, obj)
