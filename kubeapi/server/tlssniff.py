"""The TLS port's first look at a connection: plain HTTP gets Go's 400 answer.

Go's TLS server reads the first record header; when those five bytes look like an HTTP
request line instead, net/http writes a fixed 400 reply and closes.  kube-apiserver's
clients see that text (``Client sent an HTTP request to an HTTPS server.``), so a wrong
``http://`` URL is self-explaining.  Anything else goes on to the TLS protocol unchanged.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

PLAIN_HTTP_REPLY = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
_HTTP_STARTS = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")  # as Go's looksLikeHTTP
_PEEK = 5


class SniffingProtocol(Protocol):
    """Holds the first bytes; then answers plain HTTP itself or hands over to TLS."""

    def __init__(self, factory: SniffingFactory, addr: IAddress | None) -> None:
        self.sniffing_factory = factory
        self.addr = addr
        self.buffer = b""
        self.inner: Any = None
        self.refused = False

    def dataReceived(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.dataReceived(data)
            return
        if self.refused:
            return
        self.buffer += data
        if len(self.buffer) < _PEEK and any(s.startswith(self.buffer) for s in _HTTP_STARTS):
            return  # could still be an HTTP request line; wait for the rest of the five bytes
        if self.buffer[:_PEEK] in _HTTP_STARTS:
            self.refused = True
            transport: Any = self.transport
            transport.write(PLAIN_HTTP_REPLY)
            transport.loseConnection()
            return
        self.inner = self.sniffing_factory.tls.buildProtocol(self.addr)
        if self.inner is None:
            t: Any = self.transport
            t.loseConnection()
            return
        self.inner.makeConnection(self.transport)
        buffered, self.buffer = self.buffer, b""
        self.inner.dataReceived(buffered)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        if self.inner is not None:
            self.inner.connectionLost(reason)


class SniffingFactory(Factory):
    """Wraps ``site`` in TLS (as reactor.listenSSL would), behind the plain-HTTP check."""

    noisy = False

    def __init__(self, context_factory: Any, site: Any) -> None:
        self.tls = TLSMemoryBIOFactory(context_factory, False, site)
        self.site = site

    def doStart(self) -> None:
        self.tls.doStart()

    def doStop(self) -> None:
        self.tls.doStop()

    def buildProtocol(self, addr: IAddress | None) -> SniffingProtocol:
        return SniffingProtocol(self, addr)
