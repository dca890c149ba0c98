"""Streaming a watch: one ``{"type":..,"object":..}\\n`` frame per event (or, when protobuf
was negotiated, one length-prefixed WatchEvent) over a chunked HTTP/1.1 (or HTTP/2) response.

The store calls ``sink`` from the reactor; frames go straight to the transport.  On an
HTTP/1.1 connection each frame is written as one pre-built chunk (shared by every stream
sending the same event, see ``framecache``) through ``directwrite``, which sends it to the
socket at once when nothing is buffered: twisted.web's Request.write framed each write
again and Twisted's transport registered the socket with epoll and unregistered it per
write, which was most of a 10,000-watcher fan-out's time.  When the
transport pushes back (the client reads slower than we produce) frames wait in a bounded
queue; past the bound the watcher is dropped and the stream ends, as upstream's watch cache
terminates a watcher that cannot keep up.  Client disconnect, ``timeoutSeconds`` and a
terminal ERROR event all stop the store watch.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import orjson
from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer, IReactorTime
from zope.interface import implementer

from kubeapi.errors import StatusError
from kubeapi.registry.store import WatchHandle
from kubeapi.server.directwrite import writer_for
from kubeapi.server.framecache import SHARED, SHARED_TYPES, FrameCache, as_chunk

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Encoder = Callable[[str, Obj], bytes]
MIN_REQUEST_TIMEOUT = 1800.0
MAX_QUEUED_BYTES = 8 * 1024 * 1024
MAX_QUEUED_EVENTS = 10_000
JOIN_BYTES = 64 * 1024  # queued chunks joined into one write up to this much (one send each)
# Every stream's queue while nothing waits: a deque costs ~700 bytes even empty, and most
# streams never queue.  It takes nothing (maxlen 0); ``sink`` swaps in a real one first.
_NO_QUEUE: deque[bytes] = deque(maxlen=0)


class Counter(Protocol):
    def inc(self, amount: float = 1.0) -> None: ...


def default_watch_timeout(min_request_timeout: float = MIN_REQUEST_TIMEOUT) -> float:
    """Upstream spreads watch lifetimes over [min, 2*min) so reconnects do not bunch up."""
    return min_request_timeout * (1.0 + random.random())


def frame(event_type: str, obj: Obj) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}, option=orjson.OPT_NON_STR_KEYS) + b"\n"


@implementer(IPushProducer)
class WatchStream:
    """Writes frames to one request; ``done`` fires when the stream should end."""

    # The stream only reads the objects the store hands it (encodes them, or converts them
    # into new ones), so the store may hand every stream the same decoded object.
    shares_objects = True

    def __init__(self, request: Any, transform: Callable[[str, Obj], Obj] | None, clock: Any,
                 max_bytes: int = MAX_QUEUED_BYTES, max_events: int = MAX_QUEUED_EVENTS,
                 encode: Encoder = frame, frames: FrameCache = SHARED, counter: Counter | None = None) -> None:
        """``transform`` converts what the store sends (None: objects go out as they are);
        ``counter`` (``inc(n)``) counts the events handed to the stream."""
        self.request = request
        self.counter = counter
        self.encode = encode
        self.frames = frames
        self.transform = transform
        self.clock = clock
        self.max_bytes = max_bytes
        self.max_events = max_events
        self.done: defer.Deferred[str] = defer.Deferred()
        self.started = False
        self.paused = False
        self.closed = False
        self.queue: deque[bytes] = _NO_QUEUE
        self.queued_bytes = 0
        self.events = 0
        self._timer: Any = None
        # Set by ``start`` when the response is chunked HTTP/1.1 straight over a transport:
        # the queue then holds whole chunks, written past Request.write.
        self._write: Callable[[bytes], None] | None = None
        self._held = False  # between hold() and release(): frames wait to go out in one write

    # --- IPushProducer: the transport tells us when its buffer is full / drained
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self._drain()

    def stopProducing(self) -> None:
        self._finish("disconnected")

    # --- the store's sink
    def sink(self, event_type: str, obj: Obj) -> None:
        if self.closed:
            return
        if self.counter is not None:
            self.counter.inc()
        try:
            out = obj if self.transform is None else self.transform(event_type, obj)
            if out is obj and event_type in SHARED_TYPES:
                if self._write is not None:
                    data = self.frames.chunk(self.encode, event_type, obj)
                else:
                    data = self.frames.frame(self.encode, event_type, obj)
            else:
                data = self._wire(self.encode(event_type, out))
        except StatusError as e:
            data = self._wire(self.encode("ERROR", e.status()))
            event_type = "ERROR"
        except Exception:
            log.exception("encoding a watch event failed")
            return
        if not data:
            return
        if self._write is not None and not self.queue and not self.paused and not self._held:  # send now
            self.events += 1
            request = self.request
            if request._disconnected or request.finished:
                self._finish("disconnected")
                return
            request.sentLength += len(data) - data.index(b"\r\n") - 4  # the payload, as Request.write counts
            self._write(data)
            if event_type == "ERROR":
                self._finish("error")
            return
        if self.queue is _NO_QUEUE:
            self.queue = deque()
        self.queue.append(data)
        self.queued_bytes += len(data)
        self.events += 1
        if len(self.queue) > self.max_events or self.queued_bytes > self.max_bytes:
            log.warning("watch client too slow (%d events, %d bytes queued); dropping it",
                        len(self.queue), self.queued_bytes)
            self.queue = _NO_QUEUE
            self.queued_bytes = 0
            self._finish("slow")
            return
        if self._held and self.queued_bytes < JOIN_BYTES and event_type != "ERROR":
            return
        self._drain()
        if event_type == "ERROR":
            self._finish("error")

    def sink_batch(self, pairs: Sequence[tuple[str, Obj]]) -> None:
        """Several events (ADDED/MODIFIED/DELETED, in order) in one call: the fan-out's path.
        The same ``pairs`` reach every stream of the batch, so their chunks are joined
        once (``FrameCache.chunks``) and an idle stream sends them with one write; any
        other case takes them one by one through ``sink``, in one write when it can."""
        if self.closed:
            return
        write = self._write
        if write is None or self.transform is not None or self.queue or self.paused or self._held:
            self._sink_each(pairs)
            return
        data, payload = self.frames.chunks(self.encode, pairs)
        if payload > JOIN_BYTES:  # a large batch: the queue's bounded joins, not one huge copy
            self._sink_each(pairs)
            return
        n = len(pairs)
        self.events += n
        if self.counter is not None:
            self.counter.inc(n)
        request = self.request
        if request._disconnected or request.finished:
            self._finish("disconnected")
            return
        request.sentLength += payload  # the payload, as Request.write counts
        write(data)

    def _sink_each(self, pairs: Sequence[tuple[str, Obj]]) -> None:
        if len(pairs) == 1:
            self.sink(*pairs[0])
            return
        self.hold()
        try:
            for event_type, obj in pairs:
                self.sink(event_type, obj)
        finally:
            self.release()

    def hold(self) -> None:
        """Several events are coming in one go (a batch of writes): queue their frames, so
        ``release`` sends them in one write, one ``send`` for the lot instead of one each."""
        self._held = True

    def release(self) -> None:
        self._held = False
        self._drain()

    def start(self, timeout: float) -> None:
        """Headers are out: register for flow control, flush what the store sent early."""
        self.started = True
        try:
            self.request.registerProducer(self, True)
        except Exception:  # channel without producer support: no back-pressure
            log.debug("no producer support on this channel")
        self._write = _direct_writer(self.request)
        if self._write is not None and self.queue:  # queued before the headers: frame them now
            self.queue = deque(as_chunk(d) for d in self.queue)
            self.queued_bytes = sum(len(d) for d in self.queue)
        if timeout > 0:
            self._timer = self.clock.callLater(timeout, self._finish, "timeout")
        self._drain()

    def _drain(self) -> None:
        if not self.started or self.paused:
            return
        queue = self.queue
        while queue and not self.paused:
            if getattr(self.request, "_disconnected", False) or self.request.finished:
                self._finish("disconnected")
                return
            data = queue.popleft()
            if self._write is not None and queue and len(data) < JOIN_BYTES:
                parts = [data]
                size = len(data)
                while queue and size + len(queue[0]) <= JOIN_BYTES:
                    data = queue.popleft()
                    parts.append(data)
                    size += len(data)
                self.queued_bytes -= size
                self._send_many(parts)
                continue
            self.queued_bytes -= len(data)
            self._send(data)
        if not queue and queue is self.queue:  # drained: let the deque go until it is needed
            self.queue = _NO_QUEUE

    def _wire(self, data: bytes) -> bytes:
        return as_chunk(data) if self._write is not None and data else data

    def _send(self, data: bytes) -> None:
        write = self._write
        if write is None:
            self.request.write(data)
            return
        self.request.sentLength += len(data) - data.index(b"\r\n") - 4  # the payload, as Request.write counts
        write(data)

    def _send_many(self, chunks: list[bytes]) -> None:
        """Whole chunks in one write (the direct writer only)."""
        assert self._write is not None
        self.request.sentLength += sum(len(d) - d.index(b"\r\n") - 4 for d in chunks)
        self._write(b"".join(chunks))

    def _finish(self, why: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        if not self.done.called:
            self.done.callback(why)

    def close(self) -> None:
        """Flush what is left (unless the client is gone) and let go of the channel."""
        self._finish("closed")
        if self.started and self.queue and not self.paused and not getattr(self.request, "_disconnected", False):
            while self.queue:
                self._send(self.queue.popleft())
        try:
            self.request.unregisterProducer()
        except Exception:
            pass


async def serve(request: Any, clock: IReactorTime, start_watch: Callable[[Callable[[str, Obj], None]],
                Awaitable[WatchHandle]], transform: Callable[[str, Obj], Obj] | None, timeout: float,
                on_start: Callable[[], None], active: set[WatchStream] | None = None,
                encode: Encoder = frame, counter: Counter | None = None, **limits: int) -> str:
    """Run one watch to its end; returns why it ended.  ``on_start`` sets status and headers.
    A 410 from the store becomes a 200 stream with one ERROR event; other StatusErrors
    raised before the stream starts propagate (the caller renders them).  ``encode`` frames
    one event (JSON lines by default)."""
    stream = WatchStream(request, transform, clock, limits.get("max_bytes", MAX_QUEUED_BYTES),
                         limits.get("max_events", MAX_QUEUED_EVENTS), encode=encode, counter=counter)
    try:
        handle = await start_watch(stream.sink)
    except StatusError as e:
        if e.code != 410:
            raise
        on_start()
        request.write(encode("ERROR", e.status()))
        return "gone"
    on_start()
    stream.start(timeout)
    if active is not None:
        active.add(stream)
    try:
        why = await stream.done
    except defer.CancelledError:
        stream._finish("disconnected")
        raise
    finally:
        if active is not None:
            active.discard(stream)
        handle.stop()
        stream.close()
    return why


def _direct_writer(request: Any) -> Callable[[bytes], None] | None:
    """A writer of whole chunks to ``request``'s connection, when its response is plain
    chunked HTTP/1.1 with its headers out; None when Request.write must frame (HTTP/1.0,
    HTTP/2, a HEAD or encoded response, a test double)."""
    channel = getattr(request, "channel", None)
    transport = getattr(channel, "transport", None)
    if (transport is None or not getattr(request, "chunked", False) or not getattr(request, "startedWriting", False)
            or getattr(request, "_encoder", None) is not None or getattr(request, "_inFakeHead", False)
            or "write" in vars(request) or not isinstance(getattr(request, "sentLength", None), int)):
        return None
    return writer_for(transport)  # type: ignore[no-any-return]


def end_all(active: set[WatchStream], why: str = "shutdown") -> int:
    """End every running stream cleanly (server shutdown); returns how many there were."""
    streams = list(active)
    for s in streams:
        s._finish(why)
    return len(streams)
