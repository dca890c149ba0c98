"""Our client-side HTTP/2 against the ``h2`` package's server side, bytes passed in memory.

``h2`` is an independent implementation of RFC 9113/7541: whatever it accepts from us and
whatever it sends that we decode back is the interoperability these tests assert.  Frames
h2 will not produce (CONTINUATION from a server, unknown types, PUSH_PROMISE, bad sizes)
are built with ``hyperframe``.
"""

from __future__ import annotations

import random
from typing import Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    PingReceived,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
)
from h2.settings import SettingCodes
from hyperframe.frame import ContinuationFrame, HeadersFrame, PushPromiseFrame
from twisted.trial.unittest import TestCase

from kubeapi.storage.etcd import http2
from kubeapi.storage.etcd.grpc import GrpcError, _Deframer, frame
from kubeapi.storage.etcd.headerblocks import ReplyDecoder, RequestHeaders

WINDOW = 16 * 1024 * 1024


class Pair:
    """Our client and an h2 server, joined by two in-memory byte queues."""

    def __init__(self, **server_settings: int) -> None:
        self.client = http2.ClientConnection(window=WINDOW, max_frame=1 << 20)
        self.server = H2Connection(H2Configuration(client_side=False, header_encoding=None))
        self.server.initiate_connection()
        if server_settings:
            self.server.update_settings({getattr(SettingCodes, k): v for k, v in server_settings.items()})
        self.client.initiate(ReplyDecoder().decode)
        self.headers = RequestHeaders("http", "etcd:2379", "test/1")
        self.server_events: list[Any] = []
        self.client_events: list[http2.Event] = []
        self.to_client_bytes = 0
        self.pump()

    def pump(self) -> None:
        """Move bytes both ways until neither side has anything more to say."""
        for _ in range(1000):
            up = self.client.data_to_send()
            if up:
                self.server_events += self.server.receive_data(up)
                for ev in self.server_events:
                    if isinstance(ev, DataReceived) and ev.flow_controlled_length:
                        self.server.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            down = self.server.data_to_send()
            if down:
                self.to_client_bytes += len(down)
                self.client_events += self.client.receive_data(down)
            if not up and not down:
                return
        raise AssertionError("the two sides never went quiet")

    def request(self, path: str = "/etcdserverpb.KV/Range", body: bytes = b"req",
                metadata: dict[str, str] | None = None) -> int:
        sid = self.client.open_stream(self.headers.block(path, "5S", metadata))
        self.client.send_data(sid, body, end_stream=True)
        self.pump()
        return sid

    def of(self, kind: int, sid: int | None = None) -> list[Any]:
        return [v for k, s, v in self.client_events if k == kind and (sid is None or s == sid)]

    def raw_to_client(self, frame: Any) -> list[http2.Event]:
        return self.client.receive_data(frame.serialize())


class RequestTests(TestCase):
    def test_server_reads_our_request_headers_and_body(self) -> None:
        p = Pair()
        sid = p.request(metadata={"token": "abc"})
        req = [e for e in p.server_events if isinstance(e, RequestReceived)]
        self.assertEqual(len(req), 1)
        self.assertEqual(req[0].headers, [
            (b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"etcd:2379"),
            (b":path", b"/etcdserverpb.KV/Range"), (b"content-type", b"application/grpc"),
            (b"te", b"trailers"), (b"user-agent", b"test/1"), (b"grpc-timeout", b"5S"),
            (b"token", b"abc")])
        body = b"".join(e.data for e in p.server_events if isinstance(e, DataReceived))
        self.assertEqual(body, b"req")
        self.assertTrue(any(isinstance(e, StreamEnded) and e.stream_id == sid for e in p.server_events))

    def test_stream_ids_are_odd_and_rising(self) -> None:
        p = Pair()
        self.assertEqual([p.request() for _ in range(3)], [1, 3, 5])

    def test_header_block_larger_than_a_frame_goes_in_continuations(self) -> None:
        p = Pair()
        p.request(metadata={"token": "t" * 40000})  # the server's frames are 16 KiB
        req = [e for e in p.server_events if isinstance(e, RequestReceived)]
        self.assertEqual(dict(req[0].headers)[b"token"], b"t" * 40000)

    def test_body_waits_for_the_servers_window_and_goes_when_it_opens(self) -> None:
        p = Pair(INITIAL_WINDOW_SIZE=1000)
        sid = p.client.open_stream(p.headers.block("/x", None, None))
        self.assertEqual(p.client.send_window(sid), 1000)
        p.client.send_data(sid, b"a" * 1000)
        self.assertEqual(p.client.send_window(sid), 0)
        with self.assertRaises(http2.ProtocolError):
            p.client.send_data(sid, b"b")
        p.pump()  # the server acknowledges what it read: WINDOW_UPDATE
        self.assertEqual(p.of(http2.EV_WINDOW, sid), [None])
        self.assertEqual(p.client.send_window(sid), 1000)
        p.client.send_data(sid, b"b" * 1000, end_stream=True)
        p.pump()
        body = b"".join(e.data for e in p.server_events if isinstance(e, DataReceived))
        self.assertEqual(body, b"a" * 1000 + b"b" * 1000)

    def test_a_lower_initial_window_mid_stream_is_applied_to_open_streams(self) -> None:
        p = Pair()
        sid = p.client.open_stream(p.headers.block("/x", None, None))
        p.client.send_data(sid, b"a" * 100)
        p.server.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 50})
        p.pump()
        # 65535 - 100 sent + (50 - 65535) = -50 + whatever the server gave back (100)
        self.assertEqual(p.client.send_window(sid), 50)

    def test_server_stream_limit_refuses_new_streams(self) -> None:
        p = Pair(MAX_CONCURRENT_STREAMS=1)
        p.client.open_stream(p.headers.block("/x", None, None))
        with self.assertRaises(http2.ProtocolError):
            p.client.open_stream(p.headers.block("/x", None, None))

    def test_reset_and_goaway_reach_the_server(self) -> None:
        p = Pair()
        sid = p.client.open_stream(p.headers.block("/x", None, None))
        p.client.reset_stream(sid)
        p.client.reset_stream(sid)  # once is all that is sent
        p.client.close()
        p.pump()
        resets = [e for e in p.server_events if isinstance(e, StreamReset)]
        self.assertEqual([(e.stream_id, e.error_code) for e in resets], [(sid, http2.CANCEL)])
        self.assertTrue(any(isinstance(e, ConnectionTerminated) for e in p.server_events))
        with self.assertRaises(http2.ProtocolError):
            p.client.open_stream(p.headers.block("/x", None, None))

    def test_ping_is_answered_and_acknowledged(self) -> None:
        p = Pair()
        p.client.ping(b"12345678")
        p.server.ping(b"abcdefgh")
        p.pump()
        self.assertEqual(p.of(http2.EV_PING_ACK), [b"12345678"])
        self.assertTrue(any(isinstance(e, PingReceived) for e in p.server_events))


class ReplyTests(TestCase):
    def answer(self, p: Pair, sid: int, data: bytes, trailers: list[tuple[bytes, bytes]],
               **send_kw: Any) -> None:
        p.server.send_headers(sid, [(b":status", b"200"), (b"content-type", b"application/grpc")])
        p.server.send_data(sid, data, **send_kw)
        p.server.send_headers(sid, trailers, end_stream=True)
        p.pump()

    def test_headers_data_trailers_and_end(self) -> None:
        p = Pair()
        sid = p.request()
        self.answer(p, sid, b"reply", [(b"grpc-status", b"0")])
        self.assertEqual([(k, s) for k, s, _ in p.client_events if s == sid],
                         [(http2.EV_HEADERS, sid), (http2.EV_DATA, sid), (http2.EV_HEADERS, sid),
                          (http2.EV_END, sid)])
        self.assertEqual(p.of(http2.EV_HEADERS, sid),
                         [[(b":status", b"200"), (b"content-type", b"application/grpc")],
                          [(b"grpc-status", b"0")]])
        self.assertEqual(p.of(http2.EV_DATA, sid), [b"reply"])
        self.assertEqual(p.client.open_streams, 0)

    def test_padded_data_is_unpadded_and_counted(self) -> None:
        p = Pair()
        sid = p.request()
        self.answer(p, sid, b"padded reply", [(b"grpc-status", b"0")], pad_length=30)
        self.assertEqual(p.of(http2.EV_DATA, sid), [b"padded reply"])

    def test_an_index_that_moved_is_not_read_from_the_cache(self) -> None:
        """(grpc-status, 5) enters the table where (grpc-status, 0) was: the same one-byte
        block then means 5, not 0."""
        p = Pair()
        for status in [b"0", b"0", b"5", b"5", b"0"]:
            sid = p.request()
            self.answer(p, sid, b"r", [(b"grpc-status", status)])
            self.assertEqual(p.of(http2.EV_HEADERS, sid)[-1], [(b"grpc-status", status)])

    def test_changing_headers_decode_right_through_the_cache(self) -> None:
        """h2's encoder indexes as it goes; replies mixing repeated and new values must all
        decode to what was sent, whatever the table holds."""
        p = Pair()
        rng = random.Random(7)
        for i in range(60):
            sid = p.request()
            status = rng.choice([b"0", b"0", b"0", b"5", b"9"])
            message = rng.choice([b"", b"", b"not found", b"x%d" % i])
            trailers = [(b"grpc-status", status), (b"grpc-message", message)]
            self.answer(p, sid, b"r", trailers)
            self.assertEqual(p.of(http2.EV_HEADERS, sid)[-1], trailers, i)

    def test_more_than_the_window_arrives_on_one_stream(self) -> None:
        """Lazy WINDOW_UPDATEs: 40 MiB down one stream and the connection never stalls."""
        p = Pair()
        sid = p.request()
        p.server.send_headers(sid, [(b":status", b"200")])
        chunk = b"z" * 16384
        received = 0
        for _ in range(40 * 64):
            while p.server.local_flow_control_window(sid) < len(chunk):
                before = p.to_client_bytes
                p.pump()
                self.assertGreater(p.to_client_bytes, before, "stalled: no window given back")
            p.server.send_data(sid, chunk)
            if len(p.client_events) > 200:
                received += sum(len(v) for k, _, v in p.client_events if k == http2.EV_DATA)
                p.client_events.clear()
        p.pump()
        received += sum(len(v) for k, _, v in p.client_events if k == http2.EV_DATA)
        self.assertEqual(received, 40 * 1024 * 1024)

    def test_server_reset_ends_the_stream(self) -> None:
        p = Pair()
        sid = p.request()
        p.server.reset_stream(sid, http2.REFUSED_STREAM)
        p.pump()
        self.assertEqual(p.of(http2.EV_RESET, sid), [http2.REFUSED_STREAM])
        self.assertEqual(p.client.open_streams, 0)

    def test_goaway_names_the_last_stream(self) -> None:
        p = Pair()
        first = p.request()
        p.request()
        p.server.close_connection(last_stream_id=first)
        p.pump()
        self.assertEqual([(s, v) for k, s, v in p.client_events if k == http2.EV_GOAWAY], [(first, 0)])

    def test_settings_are_acknowledged(self) -> None:
        p = Pair()
        self.assertEqual(len(p.of(http2.EV_SETTINGS)), 1)
        p.server.update_settings({SettingCodes.MAX_FRAME_SIZE: 65536})
        p.pump()
        self.assertEqual(p.client.max_outbound_frame_size, 65536)
        acks = [e for e in p.server_events if isinstance(e, RemoteSettingsChanged)]
        self.assertTrue(acks)  # the client's own SETTINGS reached the server


class RawFrameTests(TestCase):
    """What h2 will not send for us."""

    def test_continuation_frames_join_into_one_block(self) -> None:
        p = Pair()
        sid = p.request()
        block = p.server.encoder.encode([(b":status", b"200"), (b"x-long", b"v" * 100)])
        head = HeadersFrame(sid, data=block[:10])
        cont1 = ContinuationFrame(sid, data=block[10:50])
        cont2 = ContinuationFrame(sid, data=block[50:], flags=["END_HEADERS"])
        events = p.raw_to_client(head) + p.raw_to_client(cont1) + p.raw_to_client(cont2)
        self.assertEqual(events, [(http2.EV_HEADERS, sid, [(b":status", b"200"), (b"x-long", b"v" * 100)])])

    def test_frame_split_over_many_reads_is_parsed_once_whole(self) -> None:
        p = Pair()
        sid = p.request()
        p.server.send_headers(sid, [(b":status", b"200")])
        p.server.send_data(sid, b"q" * 10000, end_stream=True)
        wire = p.server.data_to_send()
        events: list[http2.Event] = []
        for at in range(0, len(wire), 7):
            events += p.client.receive_data(wire[at : at + 7])
        self.assertEqual([e[0] for e in events], [http2.EV_HEADERS, http2.EV_DATA, http2.EV_END])
        self.assertEqual(events[1][2], b"q" * 10000)

    def test_unknown_frame_types_are_ignored(self) -> None:
        p = Pair()
        self.assertEqual(p.client.receive_data(b"\x00\x00\x05\xee\x00\x00\x00\x00\x00hello"), [])
        sid = p.request()
        p.server.send_headers(sid, [(b":status", b"200")], end_stream=True)
        p.pump()
        self.assertEqual(p.of(http2.EV_END, sid), [None])

    def test_protocol_errors_queue_a_goaway_with_their_code(self) -> None:
        cases: list[tuple[bytes, int]] = [
            (PushPromiseFrame(1, promised_stream_id=2, data=b"").serialize(), http2.PROTOCOL_ERROR),
            (b"\x20\x00\x00\x00\x00\x00\x00\x00\x01", http2.FRAME_SIZE_ERROR),  # 2 MiB frame
            (b"\x00\x00\x03\x06\x00\x00\x00\x00\x00abc", http2.FRAME_SIZE_ERROR),  # 3-byte PING
            (b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00", http2.PROTOCOL_ERROR),  # +0 window
            (b"\x00\x00\x01\x01\x04\x00\x00\x00\x01\xff", http2.COMPRESSION_ERROR),  # bad HPACK
        ]
        for wire, code in cases:
            p = Pair()
            p.request()
            with self.assertRaises(http2.ProtocolError) as caught:
                p.client.receive_data(wire)
            self.assertEqual(caught.exception.code, code, wire)
            p.server_events.clear()
            p.pump()
            gone = [e for e in p.server_events if isinstance(e, ConnectionTerminated)]
            self.assertEqual([e.error_code for e in gone], [code], wire)


class DeframerTests(TestCase):
    """gRPC's length-prefixed messages out of DATA payloads cut anywhere."""

    def test_whole_split_and_joined_messages(self) -> None:
        messages = [b"", b"one", b"x" * 70000, b"last"]
        wire = b"".join(frame(m) for m in messages)
        for cut in (1, 4, 5, 6, 1000, len(wire)):
            d = _Deframer()
            got: list[bytes] = []
            for at in range(0, len(wire), cut):
                got += d.feed(wire[at : at + cut])
            self.assertEqual(got, messages, cut)
            self.assertEqual(d.pending, 0)
        self.assertEqual(_Deframer().feed(frame(b"alone")), [b"alone"])
        with self.assertRaises(GrpcError):
            _Deframer().feed(b"\x01\x00\x00\x00\x01z")  # compressed, and we asked for none
