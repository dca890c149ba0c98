"""The `k8s\\0` + runtime.Unknown envelope, and the length-prefixed frames of protobuf watch streams."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from kubeapi.protobuf.codec import ENVELOPE_MAGIC, decode_message
from kubeapi.protobuf.fastencode import encode_message
from kubeapi.protobuf.schema import UnsupportedKind, message_for_kind
from kubeapi.protobuf.wire import LENGTH, ProtobufDecodeError, field_bytes, iter_fields

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
WATCH_CONTENT_TYPE = "application/vnd.kubernetes.protobuf;stream=watch"


def _unwrap(body: bytes) -> tuple[str, str, bytes]:
    """(apiVersion, kind, raw) from an enveloped body."""
    if not body.startswith(ENVELOPE_MAGIC):
        raise ProtobufDecodeError("provided data does not appear to be a protobuf message, "
                                  "expected prefix [107 56 115 0]")
    api_version = kind = ""
    raw = b""
    encoding = ""
    for num, wt, val in iter_fields(memoryview(body)[4:]):
        if wt != LENGTH:
            continue
        assert isinstance(val, bytes)
        if num == 1:
            for n2, wt2, v2 in iter_fields(val):
                if wt2 == LENGTH and isinstance(v2, bytes):
                    if n2 == 1:
                        api_version = v2.decode("utf-8", errors="replace")
                    elif n2 == 2:
                        kind = v2.decode("utf-8", errors="replace")
        elif num == 2:
            raw = val
        elif num == 3:
            encoding = val.decode("utf-8", errors="replace")
    if encoding:
        raise ProtobufDecodeError(f"unsupported content encoding {encoding!r}")
    if not kind:
        raise ProtobufDecodeError("Object 'Kind' is missing in protobuf body")
    return api_version, kind, raw


def peek_type(body: bytes) -> tuple[str, str]:
    """(apiVersion, kind) named by an enveloped body, without decoding the object."""
    api_version, kind, _ = _unwrap(body)
    return api_version, kind


def decode(body: bytes) -> dict[str, Any]:
    """An enveloped protobuf body -> the object as its JSON form (kind and apiVersion first).

    Raises UnsupportedKind for kinds without a schema and ProtobufDecodeError (a ValueError)
    for malformed bytes."""
    api_version, kind, raw = _unwrap(body)
    name = message_for_kind(api_version, kind)
    obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    obj.update(decode_message(name, raw))
    return obj


_EMPTY_ENCODING = field_bytes(3, b"") + field_bytes(4, b"")


@lru_cache(maxsize=1024)
def _envelope_head(api_version: str, kind: str) -> bytes:
    type_meta = field_bytes(1, api_version.encode()) + field_bytes(2, kind.encode())
    return ENVELOPE_MAGIC + field_bytes(1, type_meta)


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return _envelope_head(api_version, kind) + field_bytes(2, raw) + _EMPTY_ENCODING


def encode_raw(obj: dict[str, Any]) -> bytes:
    """The object's own message bytes (no envelope), chosen by its apiVersion/kind."""
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not kind:
        raise UnsupportedKind(str(api_version or ""), str(kind or ""))
    return encode_message(message_for_kind(api_version, kind), obj)


def encode(obj: dict[str, Any]) -> bytes:
    """A JSON-shaped object (with apiVersion and kind) -> `k8s\\0` + runtime.Unknown bytes."""
    raw = encode_raw(obj)
    return _envelope(obj["apiVersion"], obj["kind"], raw)


def encode_list(obj: dict[str, Any]) -> bytes:
    """A list object ({"kind": "FooList", "metadata": ..., "items": [...]}) -> enveloped bytes.

    Items are written without their own kind/apiVersion, as kube-apiserver's lists carry them."""
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind.endswith("List"):
        raise UnsupportedKind(str(obj.get("apiVersion", "")), str(kind))
    return encode(obj)


def encode_status(status: dict[str, Any]) -> bytes:
    """A metav1.Status dict -> enveloped bytes (apiVersion v1, kind Status unless given)."""
    full = {"kind": "Status", "apiVersion": "v1", **status}
    return encode(full)


def encode_watch_event_message(event_type: str, obj: dict[str, Any]) -> bytes:
    """A metav1.WatchEvent message whose object.raw is the enveloped object."""
    raw_ext = field_bytes(1, encode(obj))
    return field_bytes(1, event_type.encode()) + field_bytes(2, raw_ext)


def encode_watch_event(event_type: str, obj: dict[str, Any]) -> bytes:
    """One frame of a protobuf watch stream: 4-byte big-endian length + WatchEvent message.

    As in kube-apiserver's stream serializer, the WatchEvent itself is not enveloped; the object
    inside it is."""
    msg = encode_watch_event_message(event_type, obj)
    return struct.pack(">I", len(msg)) + msg


def iter_watch_frames(stream: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
    """Split a protobuf watch stream into (type, object) pairs (for tests and clients)."""
    pos = 0
    while pos < len(stream):
        if pos + 4 > len(stream):
            raise ProtobufDecodeError("truncated watch frame header")
        (n,) = struct.unpack_from(">I", stream, pos)
        pos += 4
        if pos + n > len(stream):
            raise ProtobufDecodeError("truncated watch frame")
        yield decode_watch_event_message(stream[pos:pos + n])
        pos += n


def decode_watch_event_message(data: bytes) -> tuple[str, dict[str, Any]]:
    event_type = ""
    raw = b""
    for num, wt, val in iter_fields(data):
        if wt != LENGTH or not isinstance(val, bytes):
            continue
        if num == 1:
            event_type = val.decode("utf-8", errors="replace")
        elif num == 2:
            for n2, wt2, v2 in iter_fields(val):
                if n2 == 1 and wt2 == LENGTH and isinstance(v2, bytes):
                    raw = v2
    return event_type, decode(raw)
