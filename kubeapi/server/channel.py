"""The HTTP/1.1 connection with kube-apiserver's limits instead of twisted.web's.

twisted.web's ``HTTPChannel`` allows 16 KiB of request line and headers and then drops the
connection without a word; Go's server (kube-apiserver sets ``MaxHeaderBytes`` 1 MiB) reads
up to 1 MiB plus 4 KiB of slack and answers ``431 Request Header Fields Too Large`` beyond.
The idle timeout alone lets a client keep a connection by trickling one header byte at a
time; kube-apiserver's ``ReadHeaderTimeout`` (32 s) ends that.  A body that does not arrive
within the request timeout ends the request too, and a ``Content-Length`` over the body
limit is refused with 413 before a byte of the body is read.

An upgrade (exec, attach, port-forward, a proxied websocket) takes the connection over from
twisted.web with `take_over`: from then on every byte goes to the upgrade's protocol and the
request counts as finished without an HTTP response being written by twisted.web.
"""

from __future__ import annotations

from typing import Any

import orjson
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol
from twisted.web.http_headers import Headers

from kubeapi.errors import StatusError, too_large

MAX_HEADER_BYTES = 1 << 20  # kube-apiserver's http.Server.MaxHeaderBytes
HEADER_SLACK = 4096  # Go's bufio slack on top of MaxHeaderBytes
READ_HEADER_TIMEOUT = 32.0  # kube-apiserver's http.Server.ReadHeaderTimeout
BODY_TIMEOUT = 60.0  # the default --request-timeout: a body must have arrived by then
LINGER = 2.0  # after refusing a request, read (and drop) what is in flight, then close

_431 = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Connection: close\r\n\r\n431 Request Header Fields Too Large")


def _status_response(err: StatusError) -> bytes:
    body = orjson.dumps(err.status())
    return (f"HTTP/1.1 {err.code} {_REASONS.get(err.code, 'Error')}\r\n"
            f"Content-Type: application/json\r\nCache-Control: no-cache, private\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


_REASONS = {413: "Request Entity Too Large", 504: "Gateway Timeout"}


class LimitedChannel(HTTPChannel):
    """HTTPChannel with Go's header size limit, a header-read and a body-read deadline, and
    an early 413 for an announced body over the limit."""

    MAX_LENGTH = MAX_HEADER_BYTES + HEADER_SLACK  # one line may take all of it
    totalHeadersSize = MAX_HEADER_BYTES + HEADER_SLACK
    maxHeaders = MAX_HEADER_BYTES  # Go counts bytes only; this can never be the one that trips
    max_body = 3 * 1024 * 1024
    read_header_timeout = READ_HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT

    _header_bytes = 0
    _in_headers = False
    _refused = False
    _header_timer: Any = None
    _body_timer: Any = None
    _linger: Any = None
    _taken: Any = None  # the protocol the connection was handed to by take_over
    _host: Any = None
    _peer: Any = None

    def getHost(self) -> Any:
        """The local address, asked of the socket once: twisted.web's Request asks for it
        on every request, and over TCP each ask was a getsockname call."""
        if self._host is None:
            self._host = super().getHost()
        return self._host

    def getPeer(self) -> Any:
        if self._peer is None:
            self._peer = super().getPeer()
        return self._peer

    def writeHeaders(self, version: bytes, code: bytes, reason: bytes, headers: Any) -> None:
        """The status line and headers as one write: twisted.web hands the transport a
        sequence of four pieces per header, and a plain TCP transport checks each piece
        on its own, which was most of the cost of writing a short response."""
        if not isinstance(headers, Headers):
            super().writeHeaders(version, code, reason, headers)
            return
        out = [version, b" ", code, b" ", reason, b"\r\n"]
        for name, values in headers.getAllRawHeaders():
            for value in values:
                out += (name, b": ", value, b"\r\n")
        out.append(b"\r\n")
        transport: Any = self.transport
        transport.write(b"".join(out))

    def dataReceived(self, data: bytes) -> None:
        if self._taken is not None:
            self._taken.dataReceived(data)
            return
        if self._refused:
            return  # the answer is out; drop what the client still sends
        if not self._in_headers and not self._handlingRequest and self.line_mode:
            self._in_headers = True
            self._header_bytes = 0
            self._arm_header_timer()
        HTTPChannel.dataReceived(self, data)

    def _arm_header_timer(self) -> None:
        """One timer per connection, moved on for each request: pushing a timer later is
        cheap in Twisted, where arming and cancelling one per request was not.  When it
        fires between requests it does nothing (see `_header_timeout`)."""
        timer = self._header_timer
        if timer is not None and timer.active():
            timer.reset(self.read_header_timeout)
        else:
            self._header_timer = self.callLater(self.read_header_timeout, self._header_timeout)

    def rawDataReceived(self, data: bytes) -> None:
        if self._refused:
            return
        HTTPChannel.rawDataReceived(self, data)

    def lineReceived(self, line: bytes) -> None:
        if self._refused:
            return
        self._header_bytes += len(line) + 2
        if self._header_bytes > self.totalHeadersSize:
            self._refuse(_431)
            return
        HTTPChannel.lineReceived(self, line)  # not super(): this runs for every line

    def lineLengthExceeded(self, line: bytes) -> None:
        self._refuse(_431)

    def allHeadersReceived(self) -> None:
        self._in_headers = False  # the header timer stays armed for the next request
        HTTPChannel.allHeadersReceived(self)
        length = self.length
        if length is not None and length > self.max_body:
            self._refuse(_status_response(too_large(self.max_body)))
            return
        if length != 0 and self.body_timeout:
            self._body_timer = self.callLater(self.body_timeout, self._body_timeout)

    def allContentReceived(self) -> None:
        if self._body_timer is not None:  # only a request with a body armed one
            self._cancel("_body_timer")
        HTTPChannel.allContentReceived(self)

    def take_over(self, protocol: Any) -> bytes:
        """Hand the connection to ``protocol`` and return what the client sent after the
        request (already buffered).  No HTTP parsing, timeouts or pipelining from here on."""
        self._taken = protocol
        for timer in ("_header_timer", "_body_timer", "_linger"):
            self._cancel(timer)
        self.setTimeout(None)
        self._savedTimeOut = None
        leftover = b"".join(self._dataBuffer)
        self._dataBuffer = []
        self.requests = []  # the request is over as far as twisted.web is concerned
        transport: Any = self.transport
        transport.unregisterProducer()  # the channel no longer paces this connection
        transport.resumeProducing()
        protocol.makeConnection(transport)
        return leftover

    def connectionLost(self, reason: Any = None) -> None:
        if self._taken is not None:
            taken, self._taken = self._taken, None
            taken.connectionLost(reason)
        self._cancel("_header_timer")
        self._cancel("_body_timer")
        self._cancel("_linger")
        super().connectionLost(reason)

    def _cancel(self, name: str) -> None:
        timer = getattr(self, name)
        if timer is not None and timer.active():
            timer.cancel()
        setattr(self, name, None)

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self._in_headers:
            return  # fired between requests: the next one arms a new timer
        # Go closes a connection whose headers are late without a reply.
        self._refused = True
        transport: Any = self.transport
        if transport is not None:
            transport.abortConnection()

    def _body_timeout(self) -> None:
        self._body_timer = None
        self._refuse(_status_response(StatusError(
            504, "Timeout", "request did not complete within requested timeout - context deadline exceeded",
            {})))

    def _refuse(self, response: bytes) -> None:
        """Answer and close, reading (and dropping) for a moment first, so the client sees the
        answer instead of a reset."""
        if self._refused:
            return
        self._refused = True
        self._cancel("_header_timer")
        self._cancel("_body_timer")
        self.setTimeout(None)
        transport: Any = self.transport
        transport.write(response)
        self.setRawMode()
        self._linger = self.callLater(LINGER, self._close)

    def _close(self) -> None:
        self._linger = None
        transport: Any = self.transport
        if transport is not None:
            transport.loseConnection()


def take_over(request: Any, protocol: Any) -> bytes:
    """Take ``request``'s connection away from twisted.web for ``protocol`` (see
    `LimitedChannel.take_over`); the request is marked finished so nothing writes a
    response for it.  Returns the bytes the client sent after the request."""
    channel = request.channel
    if not isinstance(channel, LimitedChannel):
        raise TypeError(f"cannot take over a connection of {type(channel).__name__}")
    leftover = channel.take_over(protocol)
    request.finished = True
    return leftover


def channel_factory(max_body: int) -> Any:
    """A Site.protocol: LimitedChannel wrapped the way twisted.web wraps its own channel
    (HTTP/1.1 here; ALPN h2 is not offered by our TLS contexts)."""

    class _Channel(LimitedChannel):
        pass

    _Channel.max_body = max_body

    def build(*_: Any) -> Any:  # called as site.protocol(): an instance attribute, not bound
        return _GenericHTTPChannelProtocol(_Channel())

    return build
