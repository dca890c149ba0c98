"""Shared watch work: one decode and one frame per event for every plain watch stream,
while selector-filtered and converted streams still get exactly their own frames, and a
write is acknowledged before its watchers have been handed the event."""

from __future__ import annotations

from typing import Any

import orjson
from twisted.trial import unittest

from kubeapi.registry.options import ListOptions
from kubeapi.server.framecache import FrameCache
from kubeapi.server.watchstream import WatchStream, frame
from tests.registry.test_store_fixtures import WIDGETS, StoreCase, W, async_test, widget
from tests.server.test_watchstream import Channel, identity
from tests.support.waiting import eventually

MERGE = "application/merge-patch+json"


def _events(ch: Channel) -> list[tuple[str, str]]:
    out = []
    for b in ch.written:
        ev = orjson.loads(b)
        out.append((ev["type"], ev["object"]["metadata"]["name"]))
    return out


class Collector:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event_type: str, obj: dict[str, Any]) -> None:
        self.events.append((event_type, obj))


class SharedWatchTests(StoreCase):
    def _stream(self, frames: FrameCache, transform: Any = identity) -> tuple[WatchStream, Channel]:
        ch = Channel()
        s = WatchStream(ch, transform, self.clock, frames=frames)
        s.start(0)
        return s, ch

    @async_test
    async def test_one_frame_shared_by_plain_streams_selectors_still_filter(self) -> None:
        st = self.store(WIDGETS)
        frames = FrameCache()
        plain = [self._stream(frames) for _ in range(5)]
        red, red_ch = self._stream(frames)

        def table(_t: str, o: dict[str, Any]) -> dict[str, Any]:
            return {"kind": "Row", "metadata": {"name": o["metadata"]["name"]}}

        conv, conv_ch = self._stream(frames, table)
        handles = [await st.watch("default", ListOptions(), s.sink) for s, _ in plain]
        handles.append(await st.watch("default", ListOptions(field_selector="spec.color=red"), red.sink))
        handles.append(await st.watch("default", ListOptions(), conv.sink))
        await st.create("default", widget("a", color="red"), W)
        await st.create("default", widget("b", color="blue"), W)
        await st.patch("default", "a", MERGE, b'{"spec":{"color":"blue"}}', W)
        self.assertTrue(await eventually(lambda: len(plain[-1][1].written) == 3, 5))
        self.assertTrue(await eventually(lambda: len(conv_ch.written) == 3 and len(red_ch.written) == 2, 5))
        want = [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a")]
        for _, ch in plain:
            self.assertEqual(_events(ch), want)
        for i in range(3):  # the very same bytes object went to every plain stream
            self.assertEqual(len({id(ch.written[i]) for _, ch in plain}), 1)
        self.assertEqual(_events(red_ch), [("ADDED", "a"), ("DELETED", "a")])  # stopped matching
        self.assertEqual(_events(conv_ch), want)
        self.assertEqual(orjson.loads(conv_ch.written[0])["object"]["kind"], "Row")
        # Encoded: the 3 plain events, and the filtered stream's DELETED (the old state); its
        # ADDED is the plain streams' frame.  Rows are built per stream and never looked up.
        self.assertEqual(frames.misses, 3 + 1)
        self.assertEqual(frames.hits, 4 * 3 + 1)
        for h in handles:
            h.stop()

    @async_test
    async def test_in_process_consumers_get_their_own_objects(self) -> None:
        st = self.store(WIDGETS)
        a, b = Collector(), Collector()
        ha = await st.watch("default", ListOptions(), a)
        hb = await st.watch("default", ListOptions(), b)
        await st.create("default", widget("a"), W)
        self.assertTrue(await eventually(lambda: len(a.events) == 1 and len(b.events) == 1, 5))
        self.assertIsNot(a.events[0][1], b.events[0][1])  # a plain callable may change what it gets
        ha.stop()
        hb.stop()

    @async_test
    async def test_write_acknowledged_before_streams_are_handed_the_event(self) -> None:
        st = self.store(WIDGETS)
        s, ch = self._stream(FrameCache())
        got = Collector()
        h = await st.watch("default", ListOptions(), s.sink)
        h2 = await st.watch("default", ListOptions(), got)
        await st.create("default", widget("a"), W)
        self.assertEqual(ch.written, [])  # acknowledged; the stream hears of it on a later turn
        self.assertEqual(len(got.events), 1)  # an in-process consumer reads its write back at once
        self.assertTrue(await eventually(lambda: len(ch.written) == 1, 5))
        h.stop()
        h2.stop()

    @async_test
    async def test_slow_watcher_does_not_hold_up_writes_and_keeps_order(self) -> None:
        st = self.store(WIDGETS)
        s, ch = self._stream(FrameCache())
        h = await st.watch("default", ListOptions(), s.sink)
        s.pauseProducing()  # the client reads nothing for now
        for i in range(20):
            await st.create("default", widget(f"w{i:02d}"), W)
        self.assertTrue(await eventually(lambda: len(s.queue) == 20, 5))
        self.assertEqual(ch.written, [])
        s.resumeProducing()
        self.assertEqual(_events(ch), [("ADDED", f"w{i:02d}") for i in range(20)])
        h.stop()


class FrameCacheTests(StoreCase):
    def test_same_object_other_encoder_or_type_is_another_frame(self) -> None:
        fc = FrameCache(size=2)
        obj = {"metadata": {"name": "x"}}
        one = fc.frame(frame, "ADDED", obj)
        self.assertIs(fc.frame(frame, "ADDED", obj), one)
        self.assertIsNot(fc.frame(frame, "MODIFIED", obj), one)
        self.assertEqual(fc.frame(frame, "MODIFIED", dict(obj)), frame("MODIFIED", obj))
        self.assertEqual(len(fc._entries), 2)  # bounded


class BatchToOneWriteTests(unittest.TestCase):
    def test_events_of_one_batch_leave_in_one_write(self) -> None:
        from twisted.internet.task import Clock

        from kubeapi.registry.watch import EventTranslator
        from kubeapi.storage.interface import Event, KeyValue
        from tests.server.test_watchstream import ChunkedRequest

        req = ChunkedRequest()
        s = WatchStream(req, identity, Clock())
        s.start(0)

        def decode(kv: KeyValue, rev: int) -> dict[str, Any]:
            return {"metadata": {"name": kv.key, "resourceVersion": str(rev)}}

        t = EventTranslator(decode=decode, matches=lambda _o: True, sink=s.sink, kind="Widget",
                            api_version="example.com/v1", start_revision=1, everything=True)
        kv = [KeyValue(f"k{i}", b"", 2, 2 + i) for i in range(3)]
        t.on_events([Event("PUT", kv[0], None), Event("PUT", kv[1], kv[0]), Event("DELETE", kv[2], kv[1])])
        self.assertEqual(len(req.channel.transport.written), 1)
        body = req.channel.transport.written[0]
        self.assertEqual([orjson.loads(line)["type"] for line in body.split(b"\r\n")[1::2]],
                         ["ADDED", "MODIFIED", "DELETED"])
        self.assertEqual(t.last_revision, 4)
        t.on_events([Event("PUT", KeyValue("k9", b"", 2, 5), kv[0])])  # one event: written at once
        self.assertEqual(len(req.channel.transport.written), 2)


class BatchSinkTests(unittest.TestCase):
    """A plain stream (no conversion) is handed a whole batch at once: what its client reads
    is the same chunks, in the same order, as event by event."""

    def _setup(self, n: int) -> tuple[list[Any], list[Any], FrameCache, Any]:
        from twisted.internet.task import Clock

        from kubeapi.registry.decodememo import DecodeMemo
        from kubeapi.registry.watch import EventTranslator
        from tests.server.test_watchstream import ChunkedRequest

        frames = FrameCache()
        memo = DecodeMemo(lambda kv, rev: {"metadata": {"name": kv.key, "resourceVersion": str(rev)}})
        reqs, translators = [], []
        for _ in range(n):
            req = ChunkedRequest()
            s = WatchStream(req, None, Clock(), frames=frames)
            s.start(0)
            reqs.append(req)
            translators.append(EventTranslator(decode=memo, matches=lambda _o: True, sink=s.sink, kind="Widget",
                                               api_version="example.com/v1", start_revision=1, everything=True))
        return reqs, translators, frames, memo

    def test_batch_is_one_shared_write_per_stream_in_order(self) -> None:
        from kubeapi.server.framecache import as_chunk
        from kubeapi.storage.interface import Event, KeyValue

        reqs, translators, frames, memo = self._setup(3)
        kv = [KeyValue(f"k{i}", b"v%d" % i, 2, 2 + i) for i in range(3)]
        batch = (Event("PUT", kv[0], None), Event("PUT", kv[1], kv[0]), Event("DELETE", kv[2], kv[1]))
        for t in translators:
            t.on_events(batch)  # the hub hands every watcher the same tuple
        written = [r.channel.transport.written for r in reqs]
        self.assertEqual([len(w) for w in written], [1, 1, 1])
        self.assertEqual(len({id(w[0]) for w in written}), 1)  # one joined bytes object for all
        pairs = [("ADDED", memo(kv[0], 2)), ("MODIFIED", memo(kv[1], 3)), ("DELETED", memo(kv[1], 4))]
        want = b"".join(as_chunk(frame(t, o)) for t, o in pairs)
        self.assertEqual(written[0][0], want)
        self.assertEqual([orjson.loads(line)["object"]["metadata"]["resourceVersion"]
                          for line in want.split(b"\r\n")[1::2]], ["2", "3", "4"])
        self.assertEqual(reqs[0].sentLength, sum(len(frame(t, o)) for t, o in pairs))
        self.assertEqual([t.last_revision for t in translators], [4, 4, 4])  # what bookmarks carry
        self.assertEqual(frames.misses, 3)

    def test_queued_stream_keeps_order_behind_what_waits(self) -> None:
        from kubeapi.server.framecache import as_chunk
        from kubeapi.storage.interface import Event, KeyValue

        reqs, translators, _, memo = self._setup(1)
        stream = translators[0]._sink.__self__
        stream.pauseProducing()  # the client's socket is full
        kv = [KeyValue(f"k{i}", b"", 2, 2 + i) for i in range(4)]
        translators[0].on_events((Event("PUT", kv[0], None), Event("PUT", kv[1], None)))
        translators[0].on_events((Event("PUT", kv[2], None),))
        self.assertEqual(reqs[0].channel.transport.written, [])
        self.assertEqual(len(stream.queue), 3)
        stream.resumeProducing()
        translators[0].on_events((Event("PUT", kv[3], None),))
        body = b"".join(reqs[0].channel.transport.written)
        self.assertEqual(body, b"".join(as_chunk(frame("ADDED", memo(k, k.mod_revision))) for k in kv))

    def test_closed_stream_takes_nothing(self) -> None:
        from kubeapi.storage.interface import Event, KeyValue

        reqs, translators, _, _ = self._setup(1)
        reqs[0]._disconnected = True
        translators[0].on_events((Event("PUT", KeyValue("k", b"", 2, 2), None),))
        self.assertEqual(reqs[0].channel.transport.written, [])
        self.assertTrue(translators[0]._sink.__self__.closed)
