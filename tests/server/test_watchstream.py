"""WatchStream flow control: frames flow while the transport takes them, wait while it
pushes back, and a watcher that falls too far behind is dropped instead of growing."""

from __future__ import annotations

from typing import Any

import orjson
from twisted.internet.task import Clock
from twisted.trial import unittest

from kubeapi.server.framecache import as_chunk
from kubeapi.server.watchstream import WatchStream, default_watch_timeout, frame


class Channel:
    """The part of twisted.web's Request a stream uses: write, producer registration."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.producer: Any = None
        self.finished = False
        self._disconnected = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


class ChunkedRequest(Channel):
    """A chunked HTTP/1.1 response with its headers out: the stream writes to the transport."""

    chunked = True
    startedWriting = True

    def __init__(self) -> None:
        super().__init__()
        self.channel = type("Ch", (), {})()
        self.channel.transport = Transport()
        self.sentLength = 0


def identity(_t: str, o: dict) -> dict:
    return o


class WatchStreamTests(unittest.TestCase):
    def test_events_before_start_are_kept_and_flushed_in_order(self) -> None:
        ch, clock = Channel(), Clock()
        s = WatchStream(ch, identity, clock)
        s.sink("ADDED", {"n": 1})
        self.assertEqual(ch.written, [])
        s.start(10)
        s.sink("MODIFIED", {"n": 2})
        frames = [orjson.loads(b) for b in ch.written]
        self.assertEqual(frames, [{"type": "ADDED", "object": {"n": 1}}, {"type": "MODIFIED", "object": {"n": 2}}])
        self.assertTrue(all(b.endswith(b"\n") for b in ch.written))
        self.assertIs(ch.producer, s)

    def test_backpressure_then_resume(self) -> None:
        ch, clock = Channel(), Clock()
        s = WatchStream(ch, identity, clock)
        s.start(10)
        s.pauseProducing()
        s.sink("ADDED", {"n": 1})
        self.assertEqual(ch.written, [])
        s.resumeProducing()
        self.assertEqual(len(ch.written), 1)
        self.assertFalse(s.done.called)

    def test_slow_client_is_dropped(self) -> None:
        ch, clock = Channel(), Clock()
        s = WatchStream(ch, identity, clock, max_events=5)
        s.start(10)
        s.pauseProducing()
        for i in range(6):
            s.sink("ADDED", {"n": i})
        self.assertEqual(self.successResultOf(s.done), "slow")
        self.assertEqual(len(s.queue), 0)
        s.sink("ADDED", {"n": 99})  # after the drop nothing is queued any more
        self.assertEqual(len(s.queue), 0)

    def test_timeout_and_error_end_the_stream(self) -> None:
        ch, clock = Channel(), Clock()
        s = WatchStream(ch, identity, clock)
        s.start(3)
        clock.advance(2.9)
        self.assertFalse(s.done.called)
        clock.advance(0.2)
        self.assertEqual(self.successResultOf(s.done), "timeout")

        ch2 = Channel()
        s2 = WatchStream(ch2, identity, clock)
        s2.start(3)
        s2.sink("ERROR", {"kind": "Status", "code": 410})
        self.assertEqual(self.successResultOf(s2.done), "error")
        self.assertEqual(orjson.loads(ch2.written[0])["type"], "ERROR")
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_chunked_request_gets_whole_chunks_and_held_frames_in_one_write(self) -> None:
        req, clock = ChunkedRequest(), Clock()
        s = WatchStream(req, identity, clock)
        s.sink("ADDED", {"n": 0})  # before the headers: framed as a chunk at start
        s.start(10)
        s.sink("ADDED", {"n": 1})
        s.hold()
        for i in range(2, 5):
            s.sink("MODIFIED", {"n": i})
        self.assertEqual(len(req.channel.transport.written), 2)
        s.release()
        written = req.channel.transport.written
        self.assertEqual(len(written), 3)
        frames = [frame("ADDED", {"n": 0}), frame("ADDED", {"n": 1})] + [frame("MODIFIED", {"n": i}) for i in range(2, 5)]
        self.assertEqual(b"".join(written), b"".join(as_chunk(f) for f in frames))
        self.assertEqual(req.sentLength, sum(len(f) for f in frames))  # the payload, as Request.write counts

    def test_held_frames_still_bounded(self) -> None:
        req, clock = ChunkedRequest(), Clock()
        s = WatchStream(req, identity, clock, max_events=5)
        s.start(10)
        s.hold()
        for i in range(3):
            s.sink("ADDED", {"n": i, "pad": "x" * 30_000})  # past JOIN_BYTES: written, not held
        written = req.channel.transport.written
        self.assertEqual(len(written), 2)  # the first two joined, the third on its own
        self.assertEqual(b"".join(written), b"".join(as_chunk(frame("ADDED", {"n": i, "pad": "x" * 30_000}))
                                                     for i in range(3)))
        s.pauseProducing()
        for i in range(6):
            s.sink("ADDED", {"n": i})
        self.assertEqual(self.successResultOf(s.done), "slow")

    def test_default_timeout_spread(self) -> None:
        for _ in range(50):
            t = default_watch_timeout(1800)
            self.assertTrue(1800 <= t < 3600)


class LimitedRequestTests(unittest.TestCase):
    """The body-limiting request keeps no more than the limit in its buffer."""

    def test_declared_and_streamed_oversize(self) -> None:
        from twisted.web.test.requesthelper import DummyChannel

        from kubeapi.server.site import LimitedRequest

        declared = LimitedRequest(DummyChannel())
        declared.max_body = 10
        declared.gotLength(1000)
        declared.handleContentChunk(b"x" * 1000)
        self.assertTrue(declared.body_too_large)
        self.assertEqual(declared.content.tell(), 0)  # type: ignore[union-attr]

        chunked = LimitedRequest(DummyChannel())
        chunked.max_body = 10
        chunked.gotLength(None)
        chunked.handleContentChunk(b"x" * 8)
        self.assertFalse(chunked.body_too_large)
        chunked.handleContentChunk(b"x" * 8)
        self.assertTrue(chunked.body_too_large)
        self.assertEqual(chunked.content.tell(), 8)  # type: ignore[union-attr]

    def test_large_and_chunked_bodies_stay_in_memory(self) -> None:
        """twisted.web's own choice would be a temporary file on disk for both."""
        from io import BytesIO

        from twisted.web.test.requesthelper import DummyChannel

        from kubeapi.server.site import LimitedRequest

        for length in (200_000, None):
            req = LimitedRequest(DummyChannel())
            req.gotLength(length)
            req.handleContentChunk(b"s" * 200_000)
            self.assertIsInstance(req.content, BytesIO, length)
            self.assertFalse(req.body_too_large)
            self.assertEqual(req.content.getvalue(), b"s" * 200_000)  # type: ignore[union-attr]
