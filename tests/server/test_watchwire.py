"""A watch stream over a real loopback connection (plain and TLS): the client reads exactly
the chunked body twisted.web's Request.write would have written, whether the frames went
to the socket directly or waited in Twisted's buffer behind a full socket, and a client
that stops reading is still dropped once its queue is over the bound."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from twisted.internet import defer, reactor, threads
from twisted.internet.ssl import CertificateOptions
from twisted.internet.task import deferLater
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.trial import unittest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from kubeapi.server import watchstream
from kubeapi.server.framecache import FrameCache, as_chunk
from kubeapi.server.site import make_site
from tests.support.tls import generate_self_signed

REQUEST = b"GET /watch HTTP/1.1\r\nHost: x\r\n\r\n"


class WatchResource(Resource):
    """Serves one watch whose events the test pushes through ``sinks``."""

    isLeaf = True

    def __init__(self, early: list[Any] | None = None, transform: Any = lambda _t, o: o, **limits: int) -> None:
        super().__init__()
        self.early = early or []  # events the store has at once (a watch from an older revision)
        self.transform = transform
        self.limits = limits
        self.sinks: list[Any] = []
        self.active: set[watchstream.WatchStream] = set()
        self.ended: defer.Deferred[str] = defer.Deferred()
        self.started: defer.Deferred[None] = defer.Deferred()

    def render_GET(self, request: Any) -> Any:
        async def start(sink: Any) -> Any:
            self.sinks.append(sink)
            for obj in self.early:
                sink("ADDED", obj)

            class Handle:
                def stop(self) -> None:
                    pass

            return Handle()

        def on_start() -> None:
            request.setResponseCode(200)
            request.setHeader(b"content-type", b"application/json")
            request.write(b"")
            reactor.callLater(0, self.started.callback, None)

        async def run() -> None:
            why = await watchstream.serve(request, reactor, start, self.transform, 0, on_start,
                                          active=self.active, **self.limits)
            if not request._disconnected:
                request.finish()
            self.ended.callback(why)

        defer.ensureDeferred(run())
        return NOT_DONE_YET


def connect(port: int, tls: bool, rcvbuf: int = 0) -> socket.socket:
    """A client connection with the watch request sent (blocking; runs in a thread)."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    s.sendall(REQUEST)
    return s


def read_response(port: int, tls: bool) -> bytes:
    """Everything up to the end of the chunked body (blocking; runs in a thread)."""
    sock = connect(port, tls)
    data = b""
    while not data.endswith(b"\r\n0\r\n\r\n"):
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    sock.close()
    return data


class WireTests(unittest.TestCase):
    def listen(self, resource: WatchResource, tls: bool = False) -> int:
        factory: Any = make_site(resource)
        if tls:
            from cryptography import x509
            from cryptography.hazmat.primitives.serialization import load_pem_private_key
            from OpenSSL import crypto

            cert, key = generate_self_signed(["127.0.0.1"])
            opts = CertificateOptions(
                privateKey=crypto.PKey.from_cryptography_key(load_pem_private_key(key, None)),  # type: ignore[arg-type]
                certificate=crypto.X509.from_cryptography(x509.load_pem_x509_certificate(cert)))
            factory = TLSMemoryBIOFactory(opts, False, factory)
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        return int(port.getHost().port)

    def count_writes(self) -> dict[str, int]:
        """Count the direct writer's calls (it must be the path taken)."""
        from kubeapi.server import directwrite

        calls = {"write_tcp": 0, "write_tls": 0}
        for name in calls:
            real = getattr(directwrite, name)

            def spy(*a: Any, _real: Any = real, _name: str = name) -> None:
                calls[_name] += 1
                _real(*a)

            self.patch(directwrite, name, spy)
        return calls

    async def _body_is_exact(self, tls: bool) -> None:
        res = WatchResource()
        port = self.listen(res, tls)
        calls = self.count_writes()
        got = threads.deferToThread(read_response, port, tls)
        await res.started
        frames = FrameCache()
        sent = []
        for i in range(300):
            # Mostly small frames; some big ones fill the socket so later ones queue.
            obj = {"metadata": {"name": f"o{i}"}, "data": {"x": "y" * (200_000 if i % 50 == 7 else 10)}}
            frame = frames.frame(watchstream.frame, "MODIFIED", obj)
            sent.append(frame)
            res.sinks[0]("MODIFIED", obj)
            if i % 10 == 0:
                await deferLater(reactor, 0, lambda: None)
        self.assertEqual(watchstream.end_all(res.active), 1)
        self.assertEqual(await res.ended, "shutdown")
        data = await got
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Transfer-Encoding: chunked", head)
        self.assertEqual(body, b"".join(as_chunk(f) for f in sent) + b"0\r\n\r\n")
        self.assertGreater(calls["write_tls" if tls else "write_tcp"], len(sent) // 4)  # (queued ones are joined)

    def test_plain_body_is_exactly_the_chunked_frames(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._body_is_exact(False))

    def test_tls_body_is_exactly_the_chunked_frames(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._body_is_exact(True))

    async def _early_events_follow_the_headers(self, tls: bool) -> None:
        # The headers are written and the replayed events sent in one reactor turn: over TLS
        # Twisted holds the headers back for that turn (small writes are aggregated), and a
        # frame sent past them reached the client first ("malformed HTTP response").
        early = [{"metadata": {"name": f"e{i}"}} for i in range(3)]
        res = WatchResource(early=early)
        port = self.listen(res, tls)
        got = threads.deferToThread(read_response, port, tls)
        await res.started
        self.assertEqual(watchstream.end_all(res.active), 1)
        await res.ended
        data = await got
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:40])
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertEqual(body, b"".join(as_chunk(watchstream.frame("ADDED", o)) for o in early) + b"0\r\n\r\n")

    def test_plain_early_events_follow_the_headers(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._early_events_follow_the_headers(False))

    def test_tls_early_events_follow_the_headers(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._early_events_follow_the_headers(True))

    async def _batches_are_exact(self, tls: bool) -> None:
        res = WatchResource(transform=None)
        port = self.listen(res, tls)
        calls = self.count_writes()
        got = threads.deferToThread(read_response, port, tls)
        await res.started
        stream = res.sinks[0].__self__
        sent = []
        for i in range(100):
            # Batches of 1-4 events; a big object now and then fills the socket (later
            # batches queue behind it) or makes a batch too big to join in one write.
            pairs = tuple(("MODIFIED" if j else "ADDED",
                           {"metadata": {"name": f"o{i}-{j}"},
                            "data": {"x": "y" * (300_000 if (i * 4 + j) % 37 == 5 else 20)}})
                          for j in range(1 + i % 4))
            sent.extend(watchstream.frame(t, o) for t, o in pairs)
            stream.sink_batch(pairs)
            if i % 7 == 0:
                await deferLater(reactor, 0, lambda: None)
        while stream.queue or stream.paused:  # (a stream ended while paused drops what waits)
            await deferLater(reactor, 0.01, lambda: None)
        self.assertEqual(watchstream.end_all(res.active), 1)
        self.assertEqual(await res.ended, "shutdown")
        data = await got
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertEqual(body, b"".join(as_chunk(f) for f in sent) + b"0\r\n\r\n")
        self.assertGreater(calls["write_tls" if tls else "write_tcp"], 10)

    def test_plain_batches_are_exactly_the_chunked_frames(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._batches_are_exact(False))

    def test_tls_batches_are_exactly_the_chunked_frames(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._batches_are_exact(True))

    async def _slow_client_is_dropped(self, tls: bool) -> None:
        res = WatchResource(max_bytes=1 << 20)
        port = self.listen(res, tls)
        sock = await threads.deferToThread(connect, port, tls, 4096)  # and never reads
        self.addCleanup(sock.close)
        await res.started
        big = {"data": "x" * 65536}
        for _ in range(2000):  # up to 128 MiB: far past what the kernel and Twisted buffer
            if res.ended.called:
                break
            res.sinks[0]("MODIFIED", big)
            await deferLater(reactor, 0, lambda: None)
        self.assertEqual(await res.ended, "slow")

    def test_plain_slow_client_is_dropped(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._slow_client_is_dropped(False))

    def test_tls_slow_client_is_dropped(self) -> defer.Deferred[None]:
        return defer.ensureDeferred(self._slow_client_is_dropped(True))
