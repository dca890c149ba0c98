"""A storage watch on etcd that survives losing its endpoint.

It remembers the next revision it owes the caller.  Events come from etcd with
``prev_kv``; progress notifications move the mark forward without events.  When
the stream breaks, it is opened again (on whichever endpoint the client reaches)
from that mark, so nothing is lost and, since anything below the mark is dropped,
nothing is delivered twice.  If the history it needs was compacted meanwhile, the
caller hears ``on_error(CompactedError)`` once and the watch ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from kubeapi.storage.etcd.client import EtcdClient, WatchStream
from kubeapi.storage.etcd.proto import kv_pb2
from kubeapi.storage.etcd.proto import rpc_pb2 as pb
from kubeapi.storage.interface import (
    CompactedError,
    Event,
    KeyValue,
    OnError,
    OnEvents,
    StorageError,
    UnavailableError,
)

_DELETE = kv_pb2.Event.EventType.DELETE


def to_event(ev: kv_pb2.Event) -> Event:
    key = ev.kv.key.decode("utf-8", "surrogateescape")
    prev = None
    if ev.HasField("prev_kv") and ev.prev_kv.mod_revision:
        prev = KeyValue(key, ev.prev_kv.value, ev.prev_kv.create_revision, ev.prev_kv.mod_revision)
    if ev.type == _DELETE:
        old_value = prev.value if prev is not None else b""
        old_create = prev.create_revision if prev is not None else 0
        return Event("DELETE", KeyValue(key, old_value, old_create, ev.kv.mod_revision), prev)
    kv = KeyValue(key, ev.kv.value, ev.kv.create_revision, ev.kv.mod_revision)
    if ev.kv.version == 1:
        prev = None  # a creation, even if an older incarnation of the key was seen
    return Event("PUT", kv, prev)


class EtcdWatch:
    def __init__(
        self,
        client: EtcdClient,
        key: bytes,
        range_end: bytes,
        start_revision: int,
        on_events: OnEvents,
        on_error: OnError,
        *,
        retry_timeout: float = 60.0,
        on_stop: Callable[[EtcdWatch], None] | None = None,
    ) -> None:
        self._client = client
        self._key = key
        self._end = range_end
        self.next_revision = start_revision  # 0 until etcd tells us "now"
        self._on_events = on_events
        self._on_error = on_error
        self._retry_timeout = retry_timeout
        self._on_stop = on_stop
        self._stream: WatchStream | None = None
        self._stopped = False
        self._resuming = False
        self._broken_again = False
        self._pending: defer.Deferred[Any] | None = None
        self.reconnects = 0

    @property
    def authority(self) -> str | None:
        """Where the stream currently runs (tests use it to kill that member)."""
        return self._stream.authority if self._stream is not None else None

    async def start(self) -> None:
        self._stream = await self._open()

    async def _open(self) -> WatchStream:
        create = pb.WatchCreateRequest(
            key=self._key, range_end=self._end, start_revision=max(self.next_revision, 0),
            prev_kv=True, progress_notify=True,
        )
        stream, created = await self._client.watch(create, self._on_response, self._on_closed)
        if self.next_revision <= 0:
            self.next_revision = int(created.header.revision) + 1
        return stream

    # -- from etcd --------------------------------------------------------------------

    def _on_response(self, resp: pb.WatchResponse) -> None:
        if self._stopped:
            return
        if resp.compact_revision:
            self._fail(CompactedError(int(resp.compact_revision), int(resp.header.revision)))
            return
        if resp.canceled:
            self._on_closed(UnavailableError(f"etcd canceled the watch: {resp.cancel_reason}"))
            return
        if resp.events:
            batch = [to_event(e) for e in resp.events if e.kv.mod_revision >= self.next_revision]
            if batch:
                self.next_revision = batch[-1].revision + 1
                self._on_events(batch)
        elif resp.header.revision >= self.next_revision:
            # progress notification: nothing up to header.revision is still to come
            self.next_revision = int(resp.header.revision) + 1

    def _on_closed(self, err: Exception) -> None:
        if self._stopped:
            return
        if self._resuming:
            self._broken_again = True  # the stream being set up died already
            return
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None
        self._resuming = True
        self._broken_again = False
        self._pending = defer.ensureDeferred(self._resume())

    async def _resume(self) -> None:
        reactor = self._client.reactor
        deadline = time.monotonic() + self._retry_timeout
        delay = 0.05
        try:
            while not self._stopped:
                try:
                    stream = await self._open()
                except CompactedError as e:
                    self._fail(e)
                    return
                except StorageError as e:
                    if time.monotonic() > deadline:
                        self._fail(UnavailableError(f"etcd watch could not be re-established: {e}"))
                        return
                    wait: defer.Deferred[None] = defer.Deferred()
                    reactor.callLater(delay, wait.callback, None)
                    await wait
                    delay = min(delay * 2, 1.0)
                    continue
                if self._stopped:
                    stream.cancel()
                    return
                self.reconnects += 1
                self._stream = stream
                return
        finally:
            self._resuming = False
        if self._broken_again and not self._stopped:
            self._on_closed(UnavailableError("etcd watch stream lost while resuming"))

    # -- ending -------------------------------------------------------------------------

    def _fail(self, err: StorageError) -> None:
        if self._stopped:
            return
        self.stop()
        self._on_error(err)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None
        if self._on_stop is not None:
            self._on_stop(self)
