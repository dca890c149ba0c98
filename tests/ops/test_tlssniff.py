"""The TLS port's first bytes: HTTP request lines get Go's 400, anything else goes to TLS."""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.trial import unittest

from kubeapi.server.tlssniff import PLAIN_HTTP_REPLY, SniffingFactory


class _Inner:
    def __init__(self) -> None:
        self.data = b""
        self.transport: Any = None

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Any) -> None:
        pass


class _TLS:
    def __init__(self) -> None:
        self.built: list[_Inner] = []

    def buildProtocol(self, addr: Any) -> _Inner:
        self.built.append(_Inner())
        return self.built[-1]


def _connect() -> tuple[Any, StringTransport, _TLS]:
    factory = SniffingFactory.__new__(SniffingFactory)
    factory.tls = _TLS()  # type: ignore[assignment]
    proto = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport, factory.tls  # type: ignore[return-value]


class Sniffing(unittest.TestCase):
    def test_http_in_pieces_gets_go_reply(self) -> None:
        proto, transport, tls = _connect()
        proto.dataReceived(b"GE")
        self.assertEqual(transport.value(), b"")
        proto.dataReceived(b"T /healthz HTTP/1.1\r\n\r\n")
        self.assertEqual(transport.value(), PLAIN_HTTP_REPLY)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(tls.built, [])

    def test_tls_client_hello_passes_through(self) -> None:
        proto, transport, tls = _connect()
        proto.dataReceived(b"\x16\x03")
        proto.dataReceived(b"\x01\x02\x00rest")
        self.assertEqual(len(tls.built), 1)
        self.assertEqual(tls.built[0].data, b"\x16\x03\x01\x02\x00rest")
        self.assertIs(tls.built[0].transport, transport)
        self.assertEqual(transport.value(), b"")

    def test_other_methods_are_not_http_to_go(self) -> None:
        proto, _, tls = _connect()
        proto.dataReceived(b"DELETE / HTTP/1.1\r\n")  # Go only recognises GET/HEAD/POST/PUT/OPTIONS
        self.assertEqual(len(tls.built), 1)
