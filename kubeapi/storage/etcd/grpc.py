"""gRPC over HTTP/2 on a Twisted protocol: just enough of gRPC to talk to etcd.

No grpcio and no threads: our own client-side HTTP/2 state machine (``http2``)
runs inside a Twisted ``Protocol``.  We frame messages (1-byte flag + 4-byte length),
send the gRPC request headers (``content-type: application/grpc``, ``te: trailers``,
``grpc-timeout``), honour HTTP/2 flow control both ways, and turn the
``grpc-status``/``grpc-message`` trailers into :class:`GrpcError`.

Every error says whether the request may have reached the server (``sent``), so
the caller can tell a safe retry from a write whose fate is unknown.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from twisted.internet import defer
from twisted.internet.base import DelayedCall
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from kubeapi.storage.etcd import http2
from kubeapi.storage.etcd.headerblocks import ReplyDecoder, RequestHeaders
from kubeapi.storage.etcd.http2 import ProtocolError

# gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14

_WINDOW = 16 * 1024 * 1024  # our receive window, per stream and per connection
_MAX_FRAME = 1 << 20  # we accept DATA frames up to 1 MiB
_HEADER = struct.Struct(">BI")


class GrpcError(Exception):
    """A failed call.  ``sent`` is False only when the server certainly never saw it."""

    def __init__(self, code: int, message: str, *, sent: bool = True) -> None:
        super().__init__(f"grpc status {code}: {message}")
        self.code = code
        self.message = message
        self.sent = sent


def frame(message: bytes) -> bytes:
    """One length-prefixed, uncompressed gRPC message."""
    return _HEADER.pack(0, len(message)) + message


def timeout_header(seconds: float) -> str:
    """``grpc-timeout`` value: at most 8 digits and a unit.  A second or more is rounded up
    to whole seconds: the value then repeats from call to call, so the call's header block
    is one already built (our own timer still ends the call on time).  Shorter ones are in
    milliseconds."""
    if seconds >= 1:
        return f"{min(math.ceil(seconds), 99_999_999)}S"
    return f"{max(1, int(seconds * 1000))}m"


def _int_header(value: bytes, otherwise: int) -> int:
    """A numeric header's value, ``otherwise`` when it is not a number."""
    try:
        return int(value)
    except ValueError:
        return otherwise


class _Deframer:
    """Splits a byte stream into gRPC messages."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        if not self._buf and len(data) >= 5:  # most replies: one whole message in one frame
            flag, length = _HEADER.unpack_from(data)
            if len(data) == 5 + length and not flag & 1:
                return [data[5:]]
        self._buf += data
        out: list[bytes] = []
        while len(self._buf) >= 5:
            flag, length = _HEADER.unpack_from(self._buf)
            if len(self._buf) < 5 + length:
                break
            if flag & 1:
                raise GrpcError(INTERNAL, "compressed message without grpc-encoding")
            with memoryview(self._buf) as view:  # one copy of a large message, not two
                out.append(bytes(view[5 : 5 + length]))
            del self._buf[: 5 + length]
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)


@dataclass(eq=False)
class _Stream:
    """Per-stream state: outbound buffer, inbound deframer, and who to tell."""

    id: int
    on_message: Callable[[bytes], None]
    on_close: Callable[[GrpcError | None], None]
    outbound: bytearray = field(default_factory=bytearray)
    end_after_flush: bool = False
    local_closed: bool = False
    data_sent: bool = False
    status: int | None = None
    message: str = ""
    http_status: int | None = None
    deframer: _Deframer = field(default_factory=_Deframer)
    timer: DelayedCall | None = None
    done: bool = False


class StreamHandle:
    """The caller's side of a bidirectional stream (Watch, LeaseKeepAlive)."""

    def __init__(self, conn: GrpcProtocol, stream_id: int) -> None:
        self._conn = conn
        self.stream_id = stream_id

    def send(self, message: bytes) -> None:
        self._conn._queue(self.stream_id, frame(message), end=False)

    def close_send(self) -> None:
        self._conn._queue(self.stream_id, b"", end=True)

    def cancel(self) -> None:
        """Reset the stream; ``on_close`` fires with CANCELLED unless it already finished."""
        self._conn._cancel(self.stream_id, GrpcError(CANCELLED, "cancelled by client"))


@implementer(IHandshakeListener)
class GrpcProtocol(Protocol):
    """One HTTP/2 connection to one gRPC server, carrying many concurrent calls.

    ``ready`` fires once the server's SETTINGS arrived (so TLS and the h2 preface
    both succeeded); it errbacks if the connection dies first.  ``on_lost`` is told
    once when the connection is gone.
    """

    def __init__(
        self,
        reactor: Any,
        authority: str,
        *,
        scheme: str = "http",
        keepalive_interval: float = 10.0,
        keepalive_timeout: float = 5.0,
    ) -> None:
        self._reactor = reactor
        self.authority = authority
        self.scheme = scheme
        self._h2 = http2.ClientConnection(window=_WINDOW, max_frame=_MAX_FRAME)
        self._request_headers = RequestHeaders(scheme, authority, "kubeapi-etcd/1")
        self._streams: dict[int, _Stream] = {}
        self.ready: defer.Deferred[GrpcProtocol] = defer.Deferred()
        self._ready_fired = False
        self.lost = False
        self.retired = False  # no new streams; drop the connection once idle
        self.on_lost: Callable[[GrpcProtocol], None] | None = None
        self._goaway_last: int | None = None
        self._ka_interval = keepalive_interval
        self._ka_timeout = keepalive_timeout
        self._ka_call: DelayedCall | None = None
        self._ka_deadline: DelayedCall | None = None

    # -- connection lifecycle -------------------------------------------------

    def connectionMade(self) -> None:
        # Small request frames must not wait on Nagle + delayed ACK (40 ms per call otherwise).
        set_no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            set_no_delay(True)
        self._h2.initiate(ReplyDecoder().decode)
        self._flush_h2()

    def handshakeCompleted(self) -> None:
        """TLS finished; readiness still waits for the server's SETTINGS frame."""

    def connectionLost(self, reason: Failure = Failure(ConnectionError("connection lost"))) -> None:
        self.lost = True
        self._stop_keepalive()
        err_text = reason.getErrorMessage() if reason is not None else "connection lost"
        if not self._ready_fired:
            self._ready_fired = True
            self.ready.errback(GrpcError(UNAVAILABLE, f"connection failed: {err_text}", sent=False))
        for st in list(self._streams.values()):
            # DATA never handed to the transport means the server never saw it.
            self._finish(st, GrpcError(UNAVAILABLE, f"connection lost: {err_text}", sent=st.data_sent))
        if self.on_lost is not None:
            cb, self.on_lost = self.on_lost, None
            cb(self)

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            transport: Any = self.transport
            self._h2.close()
            self._flush_h2()
            transport.loseConnection()

    def abort(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def retire(self) -> None:
        """Take no new calls; close when the last running one ends."""
        self.retired = True
        if not self._streams:
            self.close()

    @property
    def usable(self) -> bool:
        return self._ready_fired and not self.lost and not self.retired and self._goaway_last is None

    @property
    def active_streams(self) -> int:
        return len(self._streams)

    # -- calls ----------------------------------------------------------------

    def _open(
        self,
        path: str,
        on_message: Callable[[bytes], None],
        on_close: Callable[[GrpcError | None], None],
        timeout: float | None,
        metadata: dict[str, str] | None,
    ) -> _Stream:
        if not self.usable:
            raise GrpcError(UNAVAILABLE, "connection not usable", sent=False)
        block = self._request_headers.block(
            path, None if timeout is None else timeout_header(timeout), metadata)
        try:
            sid = self._h2.open_stream(block)
        except ProtocolError as e:  # e.g. the peer's concurrent-stream limit: nothing was sent
            raise GrpcError(UNAVAILABLE, f"cannot open stream: {e}", sent=False) from e
        st = _Stream(sid, on_message, on_close)
        self._streams[sid] = st
        if timeout is not None:
            st.timer = self._reactor.callLater(timeout, self._expire, sid)
        return st

    def _expire(self, sid: int) -> None:
        """A call's deadline passed (its error is built only then: most calls end first)."""
        self._cancel(sid, GrpcError(DEADLINE_EXCEEDED, "deadline exceeded (client)"))

    def unary(
        self, path: str, request: bytes, *, timeout: float | None = None,
        metadata: dict[str, str] | None = None,
    ) -> defer.Deferred[bytes]:
        """Send one message, get one message back; errback with GrpcError."""
        replies: list[bytes] = []
        cancelled = False

        def on_close(err: GrpcError | None) -> None:
            if cancelled:
                return  # d has failed with CancelledError, as the caller asked
            if err is not None:
                d.errback(err)
            elif len(replies) != 1:
                d.errback(GrpcError(INTERNAL, f"unary call got {len(replies)} messages"))
            else:
                d.callback(replies[0])

        def cancel(_: defer.Deferred[bytes]) -> None:
            nonlocal cancelled
            cancelled = True
            self._cancel(st.id, GrpcError(CANCELLED, "cancelled by caller"))

        d: defer.Deferred[bytes] = defer.Deferred(cancel)
        try:
            st = self._open(path, replies.append, on_close, timeout, metadata)
        except GrpcError as e:
            return defer.fail(e)
        self._queue(st.id, frame(request), end=True)
        return d

    def stream(
        self,
        path: str,
        on_message: Callable[[bytes], None],
        on_close: Callable[[GrpcError | None], None],
        *,
        metadata: dict[str, str] | None = None,
    ) -> StreamHandle:
        """Open a bidirectional stream; ``on_close(None)`` means grpc-status OK."""
        st = self._open(path, on_message, on_close, None, metadata)
        self._flush_h2()
        return StreamHandle(self, st.id)

    # -- outbound with flow control ---------------------------------------------

    def _queue(self, sid: int, data: bytes, *, end: bool) -> None:
        st = self._streams.get(sid)
        if st is None or st.local_closed or self.lost:
            return
        st.outbound += data
        if end:
            st.end_after_flush = True
        self._pump(st)
        self._flush_h2()

    def _pump(self, st: _Stream) -> None:
        """Send as much buffered data as the peer's windows allow.  The last DATA frame of
        a stream we end carries END_STREAM itself (not an empty frame after it)."""
        while st.outbound:
            window = min(self._h2.send_window(st.id), self._h2.max_outbound_frame_size)
            if window <= 0:
                return
            chunk = bytes(st.outbound[:window])
            del st.outbound[:window]
            last = st.end_after_flush and not st.outbound
            self._h2.send_data(st.id, chunk, end_stream=last)
            st.data_sent = True
            if last:
                st.local_closed = True
                return
        if st.end_after_flush and not st.local_closed:
            st.local_closed = True
            self._h2.end_stream(st.id)

    def _pump_all(self) -> None:
        for st in list(self._streams.values()):
            if st.outbound or (st.end_after_flush and not st.local_closed):
                try:
                    self._pump(st)
                except ProtocolError:
                    pass

    def _flush_h2(self) -> None:
        data = self._h2.data_to_send()
        transport: Any = self.transport
        if data and transport is not None:
            transport.write(data)

    def _cancel(self, sid: int, err: GrpcError) -> None:
        st = self._streams.get(sid)
        if st is None or st.done:
            return
        self._h2.reset_stream(sid)
        self._flush_h2()
        err.sent = st.data_sent
        self._finish(st, err)

    def _finish(self, st: _Stream, err: GrpcError | None) -> None:
        if st.done:
            return
        st.done = True
        self._streams.pop(st.id, None)
        if st.timer is not None and st.timer.active():
            st.timer.cancel()
        try:
            st.on_close(err)
        finally:
            if self.retired and not self._streams:
                self.close()

    # -- inbound --------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except ProtocolError as e:
            self._flush_h2()
            self.abort()
            if not self._ready_fired:
                self._ready_fired = True
                self.ready.errback(GrpcError(UNAVAILABLE, f"http/2 error: {e}", sent=False))
            return
        for ev in events:
            self._handle(ev)
        self._flush_h2()

    def _handle(self, ev: http2.Event) -> None:
        kind, sid, value = ev
        if kind == http2.EV_DATA:
            st = self._streams.get(sid)
            if st is None:
                return
            try:
                messages = st.deframer.feed(value)
            except GrpcError as e:
                self._cancel(st.id, e)
                return
            for m in messages:
                if st.done:
                    break
                st.on_message(m)
        elif kind == http2.EV_HEADERS:
            st = self._streams.get(sid)
            if st is not None:
                self._take_headers(st, value)
        elif kind == http2.EV_END:
            st = self._streams.get(sid)
            if st is not None:
                self._end(st)
        elif kind == http2.EV_RESET:
            st = self._streams.get(sid)
            if st is not None:
                refused = value == http2.REFUSED_STREAM
                code = UNAVAILABLE if refused else CANCELLED
                self._finish(st, GrpcError(code, f"stream reset by server (error code {value})",
                                           sent=not refused))
        elif kind == http2.EV_WINDOW or kind == http2.EV_SETTINGS:
            if kind == http2.EV_SETTINGS and not self._ready_fired:
                self._ready_fired = True
                self._start_keepalive()
                self.ready.callback(self)
            self._pump_all()
        elif kind == http2.EV_PING_ACK:
            if self._ka_deadline is not None and self._ka_deadline.active():
                self._ka_deadline.cancel()
            self._ka_deadline = None
        elif kind == http2.EV_GOAWAY:
            self._goaway_last = sid
            for st in list(self._streams.values()):
                if st.id > sid:  # the server promises it never processed these
                    self._finish(st, GrpcError(UNAVAILABLE, "server going away", sent=False))
            if not self._streams:
                self.close()

    def _take_headers(self, st: _Stream, headers: list[tuple[bytes, bytes]]) -> None:
        for name, value in headers:
            if name == b":status":
                st.http_status = _int_header(value, 0)
            elif name == b"grpc-status":
                st.status = _int_header(value, UNKNOWN)
            elif name == b"grpc-message":
                st.message = unquote(value.decode("utf-8", "replace"))

    def _end(self, st: _Stream) -> None:
        if not st.local_closed:  # the server answered before we finished sending: stop
            st.local_closed = True
            self._h2.reset_stream(st.id, http2.NO_ERROR)
        if st.status is None:
            if st.http_status not in (None, 200):
                err = GrpcError(_http_to_grpc(st.http_status), f"HTTP status {st.http_status}")
            else:
                err = GrpcError(INTERNAL, "stream ended without grpc-status")
            self._finish(st, err)
        elif st.status != OK:
            self._finish(st, GrpcError(st.status, st.message))
        elif st.deframer.pending:
            self._finish(st, GrpcError(INTERNAL, "truncated message"))
        else:
            self._finish(st, None)

    # -- keepalive --------------------------------------------------------------

    def _start_keepalive(self) -> None:
        if self._ka_interval > 0:
            self._ka_call = self._reactor.callLater(self._ka_interval, self._ping)

    def _ping(self) -> None:
        self._ka_call = None
        if self.lost:
            return
        self._h2.ping(b"kubeapi!")
        self._flush_h2()
        self._ka_deadline = self._reactor.callLater(self._ka_timeout, self._ping_timeout)
        self._ka_call = self._reactor.callLater(self._ka_interval, self._ping)

    def _ping_timeout(self) -> None:
        self._ka_deadline = None
        self.abort()

    def _stop_keepalive(self) -> None:
        for c in (self._ka_call, self._ka_deadline):
            if c is not None and c.active():
                c.cancel()
        self._ka_call = self._ka_deadline = None


def _http_to_grpc(status: int | None) -> int:
    """The gRPC spec's mapping for responses that carry no grpc-status."""
    return {400: INTERNAL, 401: 16, 403: 7, 404: UNIMPLEMENTED, 429: UNAVAILABLE,
            502: UNAVAILABLE, 503: UNAVAILABLE, 504: UNAVAILABLE}.get(status or 0, UNKNOWN)
