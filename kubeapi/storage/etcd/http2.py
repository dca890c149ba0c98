"""The client half of HTTP/2 (RFC 9113), as much of it as a gRPC client uses.

A sans-I/O state machine: bytes in through :meth:`ClientConnection.receive_data`, which
returns events; frames out through :meth:`ClientConnection.data_to_send`.  It does the
framing, both directions of flow control, SETTINGS, PING, GOAWAY and RST_STREAM, and
HEADERS split over CONTINUATION frames.  It never sends server push, priority or padding,
and it replenishes its receive windows lazily: one WINDOW_UPDATE per half window consumed,
not one per DATA frame.  Header blocks are bytes both ways (see ``headerblocks``).

It replaced the general-purpose ``h2`` package here because that one validates, logs and
builds event objects for every frame, which cost about two thirds of the CPU of a call.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from kubeapi.storage.etcd.headerblocks import TABLE_SIZE_ZERO

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# Settings (§6.5.2).
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, \
    MAX_HEADER_LIST_SIZE = range(1, 7)

# Error codes (§7).
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0, 1, 2, 3
FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR = 6, 7, 8, 9

# Events receive_data returns: (kind, stream id, value).
EV_HEADERS = 1  # value: list of (name, value) bytes pairs; END follows when the frame ended the stream
EV_DATA = 2  # value: bytes
EV_END = 3  # the peer ended the stream
EV_RESET = 4  # value: error code
EV_SETTINGS = 5  # the peer's SETTINGS arrived (and were acknowledged)
EV_WINDOW = 6  # send windows grew: buffered data may go now
EV_PING_ACK = 7
EV_GOAWAY = 8  # stream id: the last one the peer processed; value: error code

Event = tuple[int, int, Any]

_MAX_WINDOW = 2**31 - 1
_MAX_STREAM_ID = 2**31 - 1
_MAX_HEADER_BLOCK = 1 << 20
_FRAME_HEAD = struct.Struct(">BHBBL")  # length (24 bits as 8 + 16), type, flags, stream id
_U32 = struct.Struct(">L")
_SETTING = struct.Struct(">HL")


class ProtocolError(Exception):
    """The peer broke HTTP/2, or a call asked for something the connection cannot do."""

    def __init__(self, message: str, code: int = PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _frame(kind: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    n = len(payload)
    return _FRAME_HEAD.pack(n >> 16, n & 0xFFFF, kind, flags, sid) + payload


class _Stream:
    __slots__ = ("send_window", "unacked", "local_closed", "remote_closed")

    def __init__(self, send_window: int) -> None:
        self.send_window = send_window
        self.unacked = 0  # bytes received and not yet given back by a WINDOW_UPDATE
        self.local_closed = False
        self.remote_closed = False


class ClientConnection:
    """One client connection's HTTP/2 state.  ``window`` is our receive window, for the
    connection and for each stream; ``max_frame`` the largest frame we accept."""

    def __init__(self, *, window: int, max_frame: int) -> None:
        self._window = window
        self._max_frame = max_frame
        self._decode: Callable[[bytes], list[tuple[bytes, bytes]]] | None = None
        self._out: list[bytes] = []
        self._in = bytearray()
        self._need = 9  # bytes the next frame needs before it can be parsed
        self._streams: dict[int, _Stream] = {}
        self._next_id = 1
        self._send_window = 65535  # the connection's, towards the peer
        self._unacked = 0
        self._peer_initial_window = 65535
        self._peer_max_streams = 2**32
        self.max_outbound_frame_size = 16384
        self._continuing: tuple[int, bool, list[bytes]] | None = None  # sid, end_stream, block
        self._first_block = True
        self.closed = False

    # -- outbound ---------------------------------------------------------------

    def initiate(self, decode: Callable[[bytes], list[tuple[bytes, bytes]]]) -> None:
        """The preface, our SETTINGS and the connection window; ``decode`` reads header blocks."""
        self._decode = decode
        settings = b"".join(_SETTING.pack(k, v) for k, v in (
            (ENABLE_PUSH, 0), (INITIAL_WINDOW_SIZE, self._window), (MAX_FRAME_SIZE, self._max_frame)))
        self._out += (PREFACE, _frame(SETTINGS, 0, 0, settings))
        if self._window > 65535:
            self._out.append(_frame(WINDOW_UPDATE, 0, 0, _U32.pack(self._window - 65535)))

    def open_stream(self, block: bytes) -> int:
        """Start a request with this header block (its body follows as DATA); returns its
        stream id."""
        if self.closed:
            raise ProtocolError("connection closed")
        if len(self._streams) >= self._peer_max_streams:
            raise ProtocolError(f"the server allows {self._peer_max_streams} concurrent streams",
                                REFUSED_STREAM)
        sid = self._next_id
        if sid > _MAX_STREAM_ID:
            raise ProtocolError("no stream ids left", REFUSED_STREAM)
        self._next_id += 2
        self._streams[sid] = _Stream(self._peer_initial_window)
        if self._first_block:
            self._first_block = False
            block = TABLE_SIZE_ZERO + block
        limit = self.max_outbound_frame_size
        if len(block) <= limit:
            self._out.append(_frame(HEADERS, END_HEADERS, sid, block))
        else:
            self._out.append(_frame(HEADERS, 0, sid, block[:limit]))
            for at in range(limit, len(block), limit):
                last = at + limit >= len(block)
                self._out.append(_frame(CONTINUATION, END_HEADERS if last else 0, sid,
                                        block[at : at + limit]))
        return sid

    def send_window(self, sid: int) -> int:
        """How many DATA bytes the stream may send now."""
        st = self._streams.get(sid)
        if st is None or st.local_closed:
            return 0
        return min(self._send_window, st.send_window)

    def send_data(self, sid: int, data: bytes, *, end_stream: bool = False) -> None:
        """One DATA frame: at most ``max_outbound_frame_size`` and ``send_window(sid)`` bytes."""
        st = self._streams.get(sid)
        if st is None or st.local_closed:
            raise ProtocolError(f"stream {sid} is closed for sending")
        n = len(data)
        if n > min(self._send_window, st.send_window, self.max_outbound_frame_size):
            raise ProtocolError("DATA larger than the send window", FLOW_CONTROL_ERROR)
        self._send_window -= n
        st.send_window -= n
        self._out.append(_frame(DATA, END_STREAM if end_stream else 0, sid, data))
        if end_stream:
            self._close_local(sid, st)

    def end_stream(self, sid: int) -> None:
        self.send_data(sid, b"", end_stream=True)

    def reset_stream(self, sid: int, code: int = CANCEL) -> None:
        """Abandon a stream; nothing is sent for one that is already over."""
        if self._streams.pop(sid, None) is not None:
            self._out.append(_frame(RST_STREAM, 0, sid, _U32.pack(code)))

    def ping(self, opaque: bytes) -> None:
        self._out.append(_frame(PING, 0, 0, opaque))

    def close(self, code: int = NO_ERROR) -> None:
        """GOAWAY: we started no streams the peer could have pushed, so the last is 0."""
        if not self.closed:
            self.closed = True
            self._out.append(_frame(GOAWAY, 0, 0, _U32.pack(0) + _U32.pack(code)))

    def data_to_send(self) -> bytes:
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def _close_local(self, sid: int, st: _Stream) -> None:
        st.local_closed = True
        if st.remote_closed:
            del self._streams[sid]

    def _close_remote(self, sid: int, st: _Stream) -> None:
        st.remote_closed = True
        if st.local_closed:
            del self._streams[sid]

    # -- inbound ----------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Parse what arrived; on a ProtocolError a GOAWAY is queued and the caller should
        send it and drop the connection."""
        buf = self._in
        buf += data
        if len(buf) < self._need:
            return []
        events: list[Event] = []
        pos, end = 0, len(buf)
        try:
            with memoryview(buf) as view:
                while end - pos >= 9:
                    hi, lo, kind, flags, sid = _FRAME_HEAD.unpack_from(buf, pos)
                    length = hi << 16 | lo
                    if length > self._max_frame:
                        raise ProtocolError(f"{length}-byte frame", FRAME_SIZE_ERROR)
                    if end - pos < 9 + length:
                        self._need = 9 + length
                        break
                    payload = bytes(view[pos + 9 : pos + 9 + length])
                    pos += 9 + length
                    self._frame_in(kind, flags, sid & _MAX_STREAM_ID, payload, events)
                else:
                    self._need = 9
        except ProtocolError as e:
            self.close(e.code)
            raise
        finally:
            del buf[:pos]
        return events

    def _frame_in(self, kind: int, flags: int, sid: int, payload: bytes, events: list[Event]) -> None:
        if self._continuing is not None and kind != CONTINUATION:
            raise ProtocolError("header block interrupted")
        if kind == DATA:
            self._data_in(flags, sid, payload, events)
        elif kind == HEADERS:
            if sid == 0:
                raise ProtocolError("HEADERS on stream 0")
            block = self._unpad(flags, payload)
            if flags & PRIORITY_FLAG:
                block = block[5:]
            if flags & END_HEADERS:
                self._headers_in(sid, bool(flags & END_STREAM), block, events)
            else:
                self._continuing = (sid, bool(flags & END_STREAM), [block])
        elif kind == CONTINUATION:
            if self._continuing is None or self._continuing[0] != sid:
                raise ProtocolError("CONTINUATION without HEADERS")
            parts = self._continuing[2]
            parts.append(payload)
            if sum(map(len, parts)) > _MAX_HEADER_BLOCK:
                raise ProtocolError("header block too large")
            if flags & END_HEADERS:
                end_stream = self._continuing[1]
                self._continuing = None
                self._headers_in(sid, end_stream, b"".join(parts), events)
        elif kind == SETTINGS:
            self._settings_in(flags, sid, payload, events)
        elif kind == WINDOW_UPDATE:
            if len(payload) != 4:
                raise ProtocolError("WINDOW_UPDATE of the wrong size", FRAME_SIZE_ERROR)
            increment = _U32.unpack(payload)[0] & _MAX_WINDOW
            if increment == 0:
                raise ProtocolError("WINDOW_UPDATE of 0")
            if sid == 0:
                self._send_window += increment
                if self._send_window > _MAX_WINDOW:
                    raise ProtocolError("connection window overflow", FLOW_CONTROL_ERROR)
            else:
                st = self._streams.get(sid)
                if st is None:
                    return
                st.send_window += increment
                if st.send_window > _MAX_WINDOW:
                    raise ProtocolError("stream window overflow", FLOW_CONTROL_ERROR)
            events.append((EV_WINDOW, sid, None))
        elif kind == PING:
            if len(payload) != 8 or sid != 0:
                raise ProtocolError("malformed PING", FRAME_SIZE_ERROR)
            if flags & ACK:
                events.append((EV_PING_ACK, 0, payload))
            else:
                self._out.append(_frame(PING, ACK, 0, payload))
        elif kind == RST_STREAM:
            if len(payload) != 4 or sid == 0:
                raise ProtocolError("malformed RST_STREAM", FRAME_SIZE_ERROR)
            if self._streams.pop(sid, None) is not None:
                events.append((EV_RESET, sid, _U32.unpack(payload)[0]))
        elif kind == GOAWAY:
            if len(payload) < 8 or sid != 0:
                raise ProtocolError("malformed GOAWAY", FRAME_SIZE_ERROR)
            events.append((EV_GOAWAY, _U32.unpack_from(payload)[0] & _MAX_STREAM_ID,
                           _U32.unpack_from(payload, 4)[0]))
        elif kind == PUSH_PROMISE:
            raise ProtocolError("PUSH_PROMISE with push disabled")
        # PRIORITY and frame types we do not know are ignored (§4.1, §5.5).

    @staticmethod
    def _unpad(flags: int, payload: bytes) -> bytes:
        if not flags & PADDED:
            return payload
        if not payload or payload[0] >= len(payload):
            raise ProtocolError("padding longer than the frame")
        return payload[1 : len(payload) - payload[0]]

    def _data_in(self, flags: int, sid: int, payload: bytes, events: list[Event]) -> None:
        if sid == 0:
            raise ProtocolError("DATA on stream 0")
        counted = len(payload)
        data = self._unpad(flags, payload)
        self._unacked += counted
        if self._unacked >= self._window // 2:
            self._out.append(_frame(WINDOW_UPDATE, 0, 0, _U32.pack(self._unacked)))
            self._unacked = 0
        st = self._streams.get(sid)
        if st is None or st.remote_closed:
            return  # a stream we reset or that is over: only the connection window counts
        if data:
            events.append((EV_DATA, sid, data))
        if flags & END_STREAM:
            self._close_remote(sid, st)
            events.append((EV_END, sid, None))
            return
        st.unacked += counted
        if st.unacked >= self._window // 2:
            self._out.append(_frame(WINDOW_UPDATE, 0, sid, _U32.pack(st.unacked)))
            st.unacked = 0

    def _headers_in(self, sid: int, end_stream: bool, block: bytes, events: list[Event]) -> None:
        assert self._decode is not None, "initiate() first"
        try:
            headers = self._decode(block)  # always: the decoder's table must see every block
        except Exception as e:  # hpack's errors, e.g. an index past the table
            raise ProtocolError(f"undecodable header block: {e}", COMPRESSION_ERROR) from e
        st = self._streams.get(sid)
        if st is None or st.remote_closed:
            return
        events.append((EV_HEADERS, sid, headers))
        if end_stream:
            self._close_remote(sid, st)
            events.append((EV_END, sid, None))

    def _settings_in(self, flags: int, sid: int, payload: bytes, events: list[Event]) -> None:
        if sid != 0:
            raise ProtocolError("SETTINGS on a stream")
        if flags & ACK:
            if payload:
                raise ProtocolError("SETTINGS ACK with a payload", FRAME_SIZE_ERROR)
            return
        if len(payload) % 6:
            raise ProtocolError("SETTINGS of the wrong size", FRAME_SIZE_ERROR)
        for at in range(0, len(payload), 6):
            key, value = _SETTING.unpack_from(payload, at)
            if key == INITIAL_WINDOW_SIZE:
                if value > _MAX_WINDOW:
                    raise ProtocolError("INITIAL_WINDOW_SIZE too large", FLOW_CONTROL_ERROR)
                delta = value - self._peer_initial_window
                self._peer_initial_window = value
                for st in self._streams.values():
                    st.send_window += delta
                    if st.send_window > _MAX_WINDOW:
                        raise ProtocolError("stream window overflow", FLOW_CONTROL_ERROR)
            elif key == MAX_FRAME_SIZE:
                if not 16384 <= value <= 16777215:
                    raise ProtocolError(f"MAX_FRAME_SIZE {value}")
                self.max_outbound_frame_size = value
            elif key == MAX_CONCURRENT_STREAMS:
                self._peer_max_streams = value
            # HEADER_TABLE_SIZE: our encoder uses no table; the rest do not concern a client.
        self._out.append(_frame(SETTINGS, ACK, 0))
        events.append((EV_SETTINGS, 0, None))
