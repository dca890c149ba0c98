"""Protobuf wire primitives: varints, tags and length-delimited fields (proto2 as gogo writes it)."""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class ProtobufDecodeError(ValueError):
    """The bytes are not a well-formed Kubernetes protobuf message (the server answers 400)."""


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise ProtobufDecodeError("unexpected EOF in varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufDecodeError("integer overflow in varint")


def iter_fields(data: bytes | memoryview) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value): ints for varint/fixed, bytes for length-delimited."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        num, wt = key >> 3, key & 7
        if num <= 0:
            raise ProtobufDecodeError(f"illegal tag {num}")
        if wt == VARINT:
            v, pos = read_varint(data, pos)
            yield num, wt, v
        elif wt == LENGTH:
            n, pos = read_varint(data, pos)
            if n > end - pos:
                raise ProtobufDecodeError("unexpected EOF in length-delimited field")
            yield num, wt, bytes(data[pos:pos + n])
            pos += n
        elif wt == FIXED64:
            if pos + 8 > end:
                raise ProtobufDecodeError("unexpected EOF in fixed64 field")
            yield num, wt, int.from_bytes(data[pos:pos + 8], "little")
            pos += 8
        elif wt == FIXED32:
            if pos + 4 > end:
                raise ProtobufDecodeError("unexpected EOF in fixed32 field")
            yield num, wt, int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        else:
            raise ProtobufDecodeError(f"illegal wire type {wt} for field {num}")


def signed(v: int, bits: int) -> int:
    """Reinterpret a varint as a two's-complement signed integer of `bits` width."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def fixed64_to_double(v: int) -> float:
    return float(struct.unpack("<d", v.to_bytes(8, "little"))[0])


def fixed32_to_float(v: int) -> float:
    return float(struct.unpack("<f", v.to_bytes(4, "little"))[0])


_ONE_BYTE = [bytes((i,)) for i in range(0x80)]


def varint(v: int) -> bytes:
    if 0 <= v < 0x80:
        return _ONE_BYTE[v]  # tags and most lengths: no bytearray built for them
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while v > 0x7F:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def tag(num: int, wt: int) -> bytes:
    return varint((num << 3) | wt)


def field_varint(num: int, v: int) -> bytes:
    return tag(num, VARINT) + varint(v)


def field_bytes(num: int, v: bytes) -> bytes:
    return tag(num, LENGTH) + varint(len(v)) + v


def field_double(num: int, v: float) -> bytes:
    return tag(num, FIXED64) + struct.pack("<d", v)


def field_float(num: int, v: float) -> bytes:
    return tag(num, FIXED32) + struct.pack("<f", v)
