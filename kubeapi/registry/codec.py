"""How objects are stored: the --storage-media-type choice when writing, and sniffing when reading.

Writing uses the configured media type: JSON, or (as upstream kube-apiserver does by default)
the protobuf `k8s\\0` envelope of runtime.Unknown around the object's message. Kinds without a
protobuf schema are always written as JSON. Reading accepts either form regardless of the flag,
so a store can switch media types and can read what a real kube-apiserver wrote.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubeapi import protobuf

JSON = "application/json"
PROTOBUF = protobuf.CONTENT_TYPE
MEDIA_TYPES = (JSON, PROTOBUF)
MAGIC = b"k8s\x00"


def encode_stored(obj: dict[str, Any], media_type: str = JSON) -> bytes:
    """The bytes to store for obj (which carries its apiVersion and kind)."""
    if media_type == PROTOBUF and protobuf.supports(str(obj.get("apiVersion", "")), str(obj.get("kind", ""))):
        return protobuf.encode(obj)
    return orjson.dumps(obj)


def decode_stored(value: bytes) -> dict[str, Any]:
    """A stored value (JSON or protobuf envelope) -> the object as its JSON-shaped dict.

    Raises ValueError (orjson.JSONDecodeError or ProtobufDecodeError) for bytes that are neither,
    and protobuf.UnsupportedKind for an envelope naming a kind we have no schema for."""
    if value.startswith(MAGIC):
        return protobuf.decode(bytes(value))
    obj = orjson.loads(value)
    if not isinstance(obj, dict):
        raise ValueError("stored value is not an object")
    return obj
