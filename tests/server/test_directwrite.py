"""Direct writes: bytes go to the socket at once when nothing is buffered, and whatever the
socket does not take (a full buffer, an error) is left to Twisted's own buffered write, so
the peer reads every byte once, in order."""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import tcp
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.trial import unittest

from kubeapi.server.directwrite import write_tcp, write_tls, writer_for


class Reactor:
    """Records (un)registrations for writability; a direct write makes none."""

    def __init__(self) -> None:
        self.writers: list[Any] = []

    def addWriter(self, w: Any) -> None:
        if w not in self.writers:  # a set, as the reactors keep it
            self.writers.append(w)

    def removeWriter(self, w: Any) -> None:
        self.writers.remove(w)

    def addReader(self, r: Any) -> None:
        pass

    def removeReader(self, r: Any) -> None:
        pass


class Sock:
    """A socket whose send takes at most ``take`` bytes, or raises ``error``."""

    def __init__(self, take: int = 1 << 30, error: OSError | None = None) -> None:
        self.take = take
        self.error = error
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> int:
        if self.error is not None:
            raise self.error
        n = min(self.take, len(data))
        self.sent.append(bytes(data[:n]))
        return n

    def fileno(self) -> int:
        return -1

    def setblocking(self, flag: bool) -> None:
        pass


def connection(sock: Any) -> tuple[tcp.Connection, Reactor]:
    r = Reactor()
    conn = tcp.Connection(sock, None, r)  # type: ignore[arg-type]
    conn.connected = True  # as tcp.Server is once accepted
    return conn, r


class WriteTCPTests(unittest.TestCase):
    def test_idle_connection_sends_at_once_without_registering(self) -> None:
        s = Sock()
        conn, r = connection(s)
        write_tcp(conn, b"abc")
        write_tcp(conn, b"def")
        self.assertEqual(s.sent, [b"abc", b"def"])
        self.assertEqual(r.writers, [])
        self.assertEqual((conn.dataBuffer, conn._tempDataBuffer), (b"", []))

    def test_partial_send_leaves_the_rest_to_twisted(self) -> None:
        s = Sock(take=2)
        conn, r = connection(s)
        write_tcp(conn, b"abcdef")
        self.assertEqual(s.sent, [b"ab"])
        self.assertEqual(conn._tempDataBuffer, [b"cdef"])
        self.assertEqual(r.writers, [conn])
        write_tcp(conn, b"gh")  # something is buffered: behind it, not around it
        self.assertEqual(s.sent, [b"ab"])
        self.assertEqual(conn._tempDataBuffer, [b"cdef", b"gh"])

    def test_would_block_or_error_is_left_to_twisted(self) -> None:
        for err in (BlockingIOError(), BrokenPipeError()):
            conn, r = connection(Sock(error=err))
            write_tcp(conn, b"abc")
            self.assertEqual(conn._tempDataBuffer, [b"abc"])
            self.assertEqual(r.writers, [conn])

    def test_closing_connection_takes_twisteds_path(self) -> None:
        s = Sock()
        conn, _ = connection(s)
        conn.disconnecting = True
        write_tcp(conn, b"abc")
        self.assertEqual(s.sent, [])

    def test_real_socket_full_buffer_then_drained_in_order(self) -> None:
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.setblocking(False)
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        conn, r = connection(a)
        chunks = [bytes([65 + i % 26]) * 1000 for i in range(400)]
        for c in chunks:
            write_tcp(conn, c)
        self.assertEqual(r.writers, [conn])  # the kernel stopped taking; Twisted holds the rest
        got = bytearray()
        b.settimeout(5)
        want = b"".join(chunks)
        while len(got) < len(want):
            while conn.dataBuffer or conn._tempDataBuffer:  # the reactor's writable passes
                conn.doWrite()
                try:
                    got += b.recv(1 << 20)
                except BlockingIOError:
                    pass
            if len(got) < len(want):
                got += b.recv(1 << 20)
        self.assertEqual(bytes(got), want)
        self.assertEqual(r.writers, [])


class WriteTLSTests(unittest.TestCase):
    def _tls(self, **state: Any) -> tuple[TLSMemoryBIOProtocol, list[bytes], Sock]:
        s = Sock()
        conn, _ = connection(s)
        tls = TLSMemoryBIOProtocol.__new__(TLSMemoryBIOProtocol)
        written: list[bytes] = []
        tls.transport = conn
        tls._handshakeDone = True
        tls._lostTLSConnection = False
        tls._appSendBuffer = []
        tls.disconnecting = False
        tls.write = written.append  # type: ignore[method-assign]
        for k, v in state.items():
            setattr(tls, k, v)
        return tls, written, s

    def test_unusual_states_take_the_tls_layers_write(self) -> None:
        for state in ({"_handshakeDone": False}, {"_lostTLSConnection": True},
                      {"_appSendBuffer": [b"x"]}, {"disconnecting": True}):
            tls, written, s = self._tls(**state)
            write_tls(tls, b"abc")
            self.assertEqual((written, s.sent), ([b"abc"], []), state)
        tls, written, s = self._tls()
        write_tls(tls, b"x" * (1 << 15))  # more than one record
        self.assertEqual(len(written), 1)

    def test_sealed_record_goes_to_the_socket(self) -> None:
        class Conn:
            def __init__(self) -> None:
                self.out = [b"sealed:"]

            def send(self, data: bytes) -> int:
                self.out.append(data)
                return len(data)

            def bio_read(self, n: int) -> bytes:
                from OpenSSL.SSL import WantReadError

                if not self.out:
                    raise WantReadError()
                return self.out.pop(0)

        tls, written, s = self._tls(_tlsConnection=Conn())
        write_tls(tls, b"abc")
        self.assertEqual(written, [])
        self.assertEqual(s.sent, [b"sealed:abc"])

    def test_writer_for_picks_by_transport(self) -> None:
        tls, written, _ = self._tls(_handshakeDone=False)
        writer_for(tls)(b"abc")
        self.assertEqual(written, [b"abc"])

        class Other:
            def __init__(self) -> None:
                self.got: list[bytes] = []

            def write(self, data: bytes) -> None:
                self.got.append(data)

        o = Other()
        writer_for(o)(b"abc")
        self.assertEqual(o.got, [b"abc"])
