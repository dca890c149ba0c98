"""HPACK for our gRPC requests: header blocks that need no compression state.

Every field is sent as a literal *without indexing* (RFC 7541 §6.2.2), naming a static-table
entry where one exists.  Such a block adds nothing to either side's dynamic table, so the
block for a given (path, timeout, metadata) is the same bytes on every call and on every
connection: it is built once and cached.  etcd's replies are decoded by ``hpack``'s
Decoder, behind a cache of its own (:class:`ReplyDecoder`).
"""

from __future__ import annotations

from hpack import Decoder

# RFC 7541 Appendix A: the static-table entries our requests use.
_METHOD_POST = 3  # (:method, POST), indexed whole
_SCHEME = {"http": 6, "https": 7}  # (:scheme, http|https), indexed whole
_AUTHORITY = 1
_PATH = 4
_CONTENT_TYPE = 31
_USER_AGENT = 58

#: The first block on a connection starts with a dynamic-table size update to 0: our
#: encoder never uses the table, and says so (§6.3).
TABLE_SIZE_ZERO = b"\x20"

_CACHE_LIMIT = 256


def _integer(value: int, prefix_bits: int, first: int) -> bytes:
    """An HPACK integer (§5.1) with ``first``'s high bits above the prefix."""
    top = (1 << prefix_bits) - 1
    if value < top:
        return bytes([first | value])
    out = bytearray([first | top])
    value -= top
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(raw: bytes) -> bytes:
    """A string literal without Huffman coding (§5.2)."""
    return _integer(len(raw), 7, 0) + raw


def _literal(name: int | bytes, value: bytes) -> bytes:
    """A literal field without indexing, its name a static index or a literal (§6.2.2)."""
    if isinstance(name, int):
        return _integer(name, 4, 0) + _string(value)
    return b"\x00" + _string(name) + _string(value)


class RequestHeaders:
    """The header blocks of one connection's calls, built once per distinct call shape."""

    def __init__(self, scheme: str, authority: str, user_agent: str) -> None:
        # Pseudo-headers first (RFC 9113 §8.3), :path last of them: it varies.
        self._pseudo = (
            _integer(_METHOD_POST, 7, 0x80)
            + _integer(_SCHEME[scheme], 7, 0x80)
            + _literal(_AUTHORITY, authority.encode())
        )
        self._regular = (
            _literal(_CONTENT_TYPE, b"application/grpc")
            + _literal(b"te", b"trailers")
            + _literal(_USER_AGENT, user_agent.encode())
        )
        self._cache: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], bytes] = {}

    def block(self, path: str, timeout: str | None, metadata: dict[str, str] | None) -> bytes:
        key = (path, timeout, tuple(metadata.items()) if metadata else ())
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        parts = [self._pseudo, _literal(_PATH, path.encode()), self._regular]
        if timeout is not None:
            parts.append(_literal(b"grpc-timeout", timeout.encode()))
        for name, value in key[2]:
            parts.append(_literal(name.lower().encode(), value.encode()))
        block = b"".join(parts)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = block
        return block


class ReplyDecoder:
    """``hpack.Decoder`` with a cache for blocks that cannot change the dynamic table.

    A block made only of one-byte indexed fields (every byte has the high bit set and none
    is 0xFF, which would start a multi-byte index) decodes to the same headers for as long
    as the dynamic table stays as it is; and the table changes only when a block with other
    representations is decoded, which empties the cache.  Once etcd's encoder has indexed
    ``:status 200``, ``content-type`` and ``grpc-status 0``, every reply is such a block.
    """

    def __init__(self) -> None:
        self._decoder = Decoder()
        self._cache: dict[bytes, list[tuple[bytes, bytes]]] = {}

    def decode(self, block: bytes) -> list[tuple[bytes, bytes]]:
        cached = self._cache.get(block)
        if cached is not None:
            return cached
        headers: list[tuple[bytes, bytes]] = [
            (bytes(n), bytes(v)) for n, v in self._decoder.decode(block, raw=True)
        ]
        if block and min(block) >= 0x80 and 0xFF not in block:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[block] = headers
        else:
            self._cache.clear()
        return headers
