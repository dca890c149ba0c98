"""The gRPC transport and the etcd client: against a scripted h2 server and a real etcd."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, RequestReceived, StreamEnded
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import TestCase

from kubeapi.storage.etcd import grpc
from kubeapi.storage.etcd.client import EtcdClient
from kubeapi.storage.etcd.proto import rpc_pb2 as pb
from kubeapi.storage.interface import (
    CompactedError,
    FutureRevisionError,
    StorageError,
    TimeoutError_,
    TooLargeError,
    UnavailableError,
)
from tests.storage.contract import run
from tests.support.etcd import shared_cluster
from tests.support.net import free_port

reactor: Any = _reactor

# handler(path, headers, request_messages) -> (reply messages, grpc-status, grpc-message) or None = hang
Handler = Callable[[str, dict[str, str], list[bytes]], "tuple[list[bytes], int, str] | None"]


class _FakeGrpcServer(Protocol):
    """A scripted HTTP/2 gRPC server: enough to see what our client sends and receives."""

    def __init__(self, handler: Handler, seen: list[dict[str, str]]) -> None:
        self.h2 = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        self.handler = handler
        self.seen = seen
        self.headers: dict[int, dict[str, str]] = {}
        self.bodies: dict[int, bytes] = {}
        self.data_frames: dict[int, int] = {}

    def _send(self) -> None:
        transport: Any = self.transport
        transport.write(self.h2.data_to_send())

    def connectionMade(self) -> None:
        self.h2.initiate_connection()
        self._send()

    def dataReceived(self, data: bytes) -> None:
        for ev in self.h2.receive_data(data):
            if isinstance(ev, RequestReceived):
                self.headers[ev.stream_id] = dict(ev.headers)  # type: ignore[arg-type]
                self.bodies[ev.stream_id] = b""
                self.data_frames[ev.stream_id] = 0
            elif isinstance(ev, DataReceived):
                self.bodies[ev.stream_id] += ev.data
                self.data_frames[ev.stream_id] += 1
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, StreamEnded):
                self._answer(ev.stream_id)
        self._send()

    def _answer(self, sid: int) -> None:
        headers = self.headers[sid]
        self.seen.append({**headers, "(data frames)": str(self.data_frames[sid])})
        body, msgs = self.bodies[sid], []
        while body:
            n = int.from_bytes(body[1:5], "big")
            msgs.append(body[5 : 5 + n])
            body = body[5 + n :]
        result = self.handler(headers[":path"], headers, msgs)
        if result is None:
            return
        replies, status, message = result
        if not replies and status != 0:  # trailers-only response
            self.h2.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc"),
                                       ("grpc-status", str(status)), ("grpc-message", message)],
                                 end_stream=True)
            return
        self.h2.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc")])
        data = b"".join(grpc.frame(m) for m in replies)
        # Respect the client's window (it is large; this is the server half of flow control).
        while data:
            n = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size, len(data))
            self.h2.send_data(sid, data[:n])
            data = data[n:]
        self.h2.send_headers(sid, [("grpc-status", str(status)), ("grpc-message", message)],
                             end_stream=True)


class TransportTests(TestCase):
    timeout = 20

    def serve(self, handler: Handler) -> tuple[str, list[dict[str, str]]]:
        seen: list[dict[str, str]] = []
        factory = Factory.forProtocol(lambda: _FakeGrpcServer(handler, seen))
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return f"http://127.0.0.1:{port.getHost().port}", seen

    def client(self, endpoints: list[str], **kw: Any) -> EtcdClient:
        c = EtcdClient(endpoints, **kw)
        self.addCleanup(lambda: Deferred.fromCoroutine(c.close()))
        return c

    def test_unary_call_sends_grpc_headers_and_decodes_reply(self) -> Deferred[Any]:
        def handler(path: str, headers: dict[str, str], msgs: list[bytes]) -> Any:
            req = pb.RangeRequest.FromString(msgs[0])
            resp = pb.RangeResponse(count=7, header=pb.ResponseHeader(revision=42))
            resp.kvs.add(key=req.key, value=b"v" * 300_000, mod_revision=42)
            return [resp.SerializeToString()], 0, ""

        async def go() -> None:
            url, seen = self.serve(handler)
            c = self.client([url], request_timeout=3.0)
            resp = await c.range(b"/k")
            self.assertEqual(resp.header.revision, 42)
            self.assertEqual(resp.kvs[0].key, b"/k")
            self.assertEqual(len(resp.kvs[0].value), 300_000)  # > the default 64 KiB window
            h = seen[0]
            self.assertEqual(h[":path"], "/etcdserverpb.KV/Range")
            self.assertEqual(h[":method"], "POST")
            self.assertEqual(h["content-type"], "application/grpc")
            self.assertEqual(h["te"], "trailers")
            self.assertEqual(h["grpc-timeout"], "3S")  # whole seconds, rounded up: the same on every call
            self.assertEqual(h["(data frames)"], "1")  # END_STREAM rides on the message's frame
        return run(go())

    def test_large_request_is_sent_within_peer_window(self) -> Deferred[Any]:
        got: list[int] = []

        def handler(path: str, headers: dict[str, str], msgs: list[bytes]) -> Any:
            got.append(len(pb.PutRequest.FromString(msgs[0]).value))
            return [pb.PutResponse().SerializeToString()], 0, ""

        async def go() -> None:
            url, _ = self.serve(handler)
            c = self.client([url])
            await c.put(b"/k", b"x" * 1_000_000)  # the fake server keeps h2's 64 KiB window
            self.assertEqual(got, [1_000_000])
        return run(go())

    def test_grpc_status_maps_to_storage_errors(self) -> Deferred[Any]:
        cases = {
            "/etcdserverpb.KV/Range": (11, "etcdserver: mvcc: required revision has been compacted"),
            "/etcdserverpb.KV/Put": (3, "etcdserver: request is too large"),
            "/etcdserverpb.KV/DeleteRange": (14, "etcdserver: no leader"),
            "/etcdserverpb.KV/Txn": (4, "context deadline exceeded"),
            "/etcdserverpb.KV/Compact": (11, "etcdserver: mvcc: required revision is a future revision"),
            "/etcdserverpb.Maintenance/Status": (7, "permission%20denied"),
        }

        def handler(path: str, headers: dict[str, str], msgs: list[bytes]) -> Any:
            code, msg = cases[path]
            return [], code, msg

        async def go() -> None:
            url, _ = self.serve(handler)
            c = self.client([url])
            with self.assertRaises(CompactedError):
                await c.range(b"/k", revision=1)
            with self.assertRaises(TooLargeError):
                await c.put(b"/k", b"v")
            with self.assertRaises(UnavailableError):
                await c.delete_range(b"/k")
            with self.assertRaises(TimeoutError_):
                await c.txn([], [])
            with self.assertRaises(FutureRevisionError):
                await c.compact(10**9)
            with self.assertRaises(StorageError) as cm:
                await c.status()
            self.assertIn("permission denied", str(cm.exception))  # grpc-message is percent-decoded
            self.assertEqual(cm.exception.__cause__.code, 7)  # type: ignore[union-attr]
        return run(go())

    def test_local_deadline_cancels_a_call_the_server_never_answers(self) -> Deferred[Any]:
        async def go() -> None:
            url, seen = self.serve(lambda p, h, m: None)
            c = self.client([url], request_timeout=0.3)
            t0 = time.monotonic()
            with self.assertRaises(TimeoutError_):
                await c.put(b"/k", b"v")
            self.assertLess(time.monotonic() - t0, 1.5)
            self.assertEqual(len(seen), 1)  # a write whose fate is unknown is not retried
        return run(go())

    def test_refused_endpoint_fails_over_and_refused_cluster_fails_fast(self) -> Deferred[Any]:
        def handler(path: str, headers: dict[str, str], msgs: list[bytes]) -> Any:
            return [pb.PutResponse(header=pb.ResponseHeader(revision=5)).SerializeToString()], 0, ""

        async def go() -> None:
            url, seen = self.serve(handler)
            dead = f"http://127.0.0.1:{free_port()}"
            c = self.client([dead, url], dial_timeout=1.0)
            resp = await c.put(b"/k", b"v")  # never sent to `dead`, so it may go to `url`
            self.assertEqual(resp.header.revision, 5)
            self.assertEqual(c.current_endpoint.port, int(url.rsplit(":", 1)[1]))
            lonely = self.client([dead, f"http://127.0.0.1:{free_port()}"], dial_timeout=1.0)
            t0 = time.monotonic()
            with self.assertRaises(UnavailableError):
                await lonely.range(b"/k")
            self.assertLess(time.monotonic() - t0, 2.0)
        return run(go())

    def test_server_going_away_mid_call_is_unknown_fate_for_writes(self) -> Deferred[Any]:
        servers: list[_FakeGrpcServer] = []

        def handler(path: str, headers: dict[str, str], msgs: list[bytes]) -> Any:
            transport: Any = servers[-1].transport
            reactor.callLater(0, transport.loseConnection)
            return None

        async def go() -> None:
            url, seen = self.serve(handler)
            # Capture the protocol instance so the handler can drop its connection.
            orig = _FakeGrpcServer.connectionMade

            def made(self_: _FakeGrpcServer) -> None:
                servers.append(self_)
                orig(self_)

            self.patch(_FakeGrpcServer, "connectionMade", made)
            c = self.client([url], request_timeout=3.0)
            with self.assertRaises(UnavailableError):
                await c.put(b"/k", b"v")
            self.assertEqual(len(seen), 1)  # not replayed
            with self.assertRaises(UnavailableError):
                await c.range(b"/k")  # a read is retried, but this server always drops it
            self.assertGreaterEqual(len(seen), 3)
        return run(go())


class RealEtcdClientTests(TestCase):
    timeout = 30

    def client(self) -> EtcdClient:
        c = shared_cluster().client()
        self.addCleanup(lambda: Deferred.fromCoroutine(c.close()))
        return c

    def test_value_size_limit(self) -> Deferred[Any]:
        async def go() -> None:
            c = self.client()
            near = b"n" * (1536 * 1024 - 1024)  # just under etcd's 1.5 MiB --max-request-bytes
            put = await c.put(b"/limit/near", near)
            got = await c.range(b"/limit/near")
            self.assertEqual(got.kvs[0].value, near)
            self.assertEqual(got.kvs[0].mod_revision, put.header.revision)
            with self.assertRaises(TooLargeError):
                await c.put(b"/limit/over", b"o" * (1536 * 1024 + 1024))  # etcd: request is too large
            with self.assertRaises(TooLargeError):
                await c.put(b"/limit/huge", b"h" * (3 * 1024 * 1024))  # grpc: larger than max
            self.assertEqual(len((await c.range(b"/limit/over")).kvs), 0)
            # The connection is still fine afterwards.
            self.assertEqual((await c.status()).header.revision >= put.header.revision, True)
        return run(go())

    def test_lease_grant_keepalive_revoke(self) -> Deferred[Any]:
        async def go() -> None:
            c = self.client()
            lease = await c.lease_grant(30)
            self.assertGreater(lease.ID, 0)
            await c.put(b"/lease/k", b"v", lease=lease.ID)
            ka = await c.lease_keep_alive_once(lease.ID)
            self.assertEqual(ka.ID, lease.ID)
            self.assertGreater(ka.TTL, 0)
            await c.lease_revoke(lease.ID)
            self.assertEqual(len((await c.range(b"/lease/k")).kvs), 0)
        return run(go())

    def test_future_revision_read(self) -> Deferred[Any]:
        async def go() -> None:
            c = self.client()
            with self.assertRaises(FutureRevisionError):
                await c.range(b"/k", revision=10**12)
        return run(go())

    def test_replies_larger_than_our_receive_window(self) -> Deferred[Any]:
        """Two ranges of ~21 MiB each on one connection: more than our 16 MiB stream and
        connection windows, so etcd stalls unless our WINDOW_UPDATEs give them back."""
        async def go() -> None:
            c = self.client()
            value = b"w" * (1400 * 1024)
            for i in range(15):
                await c.put(b"/window/k%02d" % i, value)
            for _ in range(2):
                got = await c.range(b"/window/", b"/window0", timeout=20)
                self.assertEqual(len(got.kvs), 15)
                self.assertTrue(all(kv.value == value for kv in got.kvs))
            await c.delete_range(b"/window/", b"/window0")
        return run(go())
