"""One encoded frame per watch event and wire form, shared by every stream that sends it.

Watch streams of one resource are handed the same decoded object for an event (see
``kubeapi.registry.decodememo``); encoding it once per (encoder, event type) and writing
the same bytes to each stream takes per-watcher encoding off fan-out.  The frame as an
HTTP/1.1 chunk (size line, frame, CRLF) is kept too, so streams writing straight to their
connection share that as well instead of each framing it.  Entries are keyed
by the object's identity and hold a reference to it, so an id cannot be reused while its
entry lives; only objects a stream sends unconverted are looked up (a Table or
PartialObjectMetadata row is built per stream and encoded per stream).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Obj = dict[str, Any]
Encoder = Callable[[str, Obj], bytes]

SHARED_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED"})
DEFAULT_SIZE = 512
JOINED_SIZE = 16  # batches in flight at once; more only rebuilds a join


class FrameCache:
    __slots__ = ("_size", "_entries", "hits", "misses", "_joined")

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._entries: dict[tuple[Encoder, str, int], list[Any]] = {}  # [obj, frame, chunk]
        self._joined: dict[tuple[Encoder, int], tuple[Any, bytes, int]] = {}  # [pairs, chunks, payload]
        self.hits = 0
        self.misses = 0

    def chunks(self, encode: Encoder, pairs: Sequence[tuple[str, Obj]]) -> tuple[bytes, int]:
        """A batch of events as its HTTP/1.1 chunks joined, and their payload's length:
        built once for the ``pairs`` object every stream of the batch is handed."""
        entry = self._joined.get((encode, id(pairs)))
        if entry is not None and entry[0] is pairs:  # the entry holds ``pairs``: no id reuse
            return entry[1], entry[2]
        parts = [self.chunk(encode, t, o) for t, o in pairs]
        payload = sum(len(p) - p.index(b"\r\n") - 4 for p in parts)  # less each chunk's framing
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        joined = self._joined
        if len(joined) >= JOINED_SIZE:
            del joined[next(iter(joined))]
        joined[(encode, id(pairs))] = (pairs, data, payload)
        return data, payload

    def frame(self, encode: Encoder, event_type: str, obj: Obj) -> bytes:
        """``encode(event_type, obj)``, computed once while ``obj`` is recent."""
        return self._entry(encode, event_type, obj)[1]  # type: ignore[no-any-return]

    def chunk(self, encode: Encoder, event_type: str, obj: Obj) -> bytes:
        """The frame as one HTTP/1.1 chunk, built once while ``obj`` is recent."""
        entry = self._entries.get((encode, event_type, id(obj)))  # the hit, inline: per watcher
        if entry is not None and entry[0] is obj and entry[2] is not None:
            self.hits += 1
            return entry[2]  # type: ignore[no-any-return]
        entry = self._entry(encode, event_type, obj)
        data = entry[2]
        if data is None:
            data = entry[2] = as_chunk(entry[1])
        return data  # type: ignore[no-any-return]

    def _entry(self, encode: Encoder, event_type: str, obj: Obj) -> list[Any]:
        key = (encode, event_type, id(obj))
        entry = self._entries.get(key)
        if entry is not None and entry[0] is obj:
            self.hits += 1
            return entry
        self.misses += 1
        entry = [obj, encode(event_type, obj), None]
        entries = self._entries
        if len(entries) >= self._size:
            del entries[next(iter(entries))]
        entries[key] = entry
        return entry


def as_chunk(data: bytes) -> bytes:
    """``data`` in HTTP/1.1 chunked framing (as twisted.web's Request.write frames it)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


SHARED = FrameCache()
