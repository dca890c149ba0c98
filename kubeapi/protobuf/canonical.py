"""Go's canonical JSON for built-in kinds, without Go.

kube-apiserver decodes every body into a Go struct and encodes it again, so what it stores
and serves has no unknown fields, no empty ``omitempty`` values and every non-pointer
struct present (a Deployment always shows ``"status": {}``).  The protobuf tables know the
same struct layout, so a round trip through them gives that very form; the walk below
names the fields the struct has no place for (for ``fieldValidation``).
"""

from __future__ import annotations

import functools
from typing import Any

from kubeapi.jsontypes import deep_copy
from kubeapi.protobuf import normalize
from kubeapi.protobuf.codec import decode_message
from kubeapi.protobuf.encode import _SPECIAL_ENCODERS, EncodeError, encode_message
from kubeapi.protobuf.schema import (
    INLINE,
    MAP,
    REPEATED,
    is_slice_wrapper,
    message,
    message_for_kind,
    supports,
)

__all__ = ["canonicalize", "zero_value", "unknown_fields", "supports", "EncodeError"]


def unknown_fields(obj: dict[str, Any]) -> list[str]:
    """Dotted paths (``spec.foo``, ``spec.containers[0].bar``) the kind's struct cannot hold."""
    name = message_for_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    out: list[str] = []
    _walk(name, obj, "", out)
    return out


@functools.cache  # the tables are fixed: one map per message type (callers only read it)
def _known(typ: str) -> dict[str, Any]:
    """json name -> field, with inlined structs' fields lifted to this level."""
    known: dict[str, Any] = {}
    for f in message(typ).fields:
        if f.flags & INLINE:
            known.update(_known(f.type))
        else:
            known[f.json] = f
    return known


def _walk(typ: str, value: Any, path: str, out: list[str]) -> None:
    if not isinstance(value, dict) or typ in _SPECIAL_ENCODERS or is_slice_wrapper(typ):
        return
    known = _known(typ)
    for key, v in value.items():
        here = f"{path}.{key}" if path else key
        f = known.get(key)
        if f is None:
            if not (path == "" and key in ("kind", "apiVersion")):
                out.append(here)
            continue
        if f.type in _SPECIAL_ENCODERS or "." not in f.type:
            continue  # scalars and special leaves (Time, Quantity, IntOrString, RawExtension ...)
        if f.flags & MAP and isinstance(v, dict):
            for k, item in v.items():
                _walk(f.type, item, f"{here}[{k}]", out)
        elif f.flags & REPEATED and isinstance(v, list):
            for i, item in enumerate(v):
                _walk(f.type, item, f"{here}[{i}]", out)
        else:
            _walk(f.type, v, here, out)


def canonicalize(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as Go would re-encode it (kind and apiVersion first).  Raises EncodeError
    when a value has the wrong JSON type for its field (Go's decoder refuses those too)."""
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    name = message_for_kind(api_version, kind)
    out: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    try:
        out.update(normalize.message_dict(name, obj))
    except Exception:  # an odd value: the round trip gives the exact answer, or the exact error
        out = {"kind": kind, "apiVersion": api_version}
        out.update(round_trip(name, obj))
    return out


def round_trip(name: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The definition of the canonical form: through the protobuf tables and back."""
    return decode_message(name, encode_message(name, obj))


_ZERO: dict[tuple[str, str], dict[str, Any]] = {}


def zero_value(api_version: str, kind: str) -> dict[str, Any]:
    """The kind's empty object as Go serialises it (a fresh copy; computed once per kind)."""
    key = (api_version, kind)
    zero = _ZERO.get(key)
    if zero is None:
        zero = _ZERO[key] = canonicalize({"kind": kind, "apiVersion": api_version})
    return deep_copy(zero)
