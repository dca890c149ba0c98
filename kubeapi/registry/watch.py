"""Storage events → Kubernetes watch events for one watch request.

Filtering follows upstream's cacher: an object that stops matching the selectors is sent
as DELETED (its previous state, at the event's revision), one that starts matching as
ADDED.  Bookmarks carry the newest revision this watch has seen, filtered or not."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from kubeapi import errors
from kubeapi.registry.decodememo import DecodeMemo
from kubeapi.storage.interface import CompactedError, Event, KeyValue, StorageError, Watch

Obj = dict[str, Any]
Sink = Callable[[str, Obj], None]
Decode = Callable[[KeyValue, int], Obj]  # (kv, resourceVersion to stamp) -> object
Matches = Callable[[Obj], bool]

_log = Logger()

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


class EventTranslator:
    """Turns storage events into watch events and hands them to the sink; owns bookmarks."""

    def __init__(self, *, decode: Decode, matches: Matches, sink: Sink, kind: str, api_version: str,
                 start_revision: int, clock: Any = None,
                 bookmark_interval: float = 0.0, everything: bool = False) -> None:
        self._decode = decode
        self._matches = matches
        self._everything = everything  # no selectors: an update's old state need not be read
        # The sink is a client's watch stream: the store may tell it after acknowledging.
        owner = getattr(sink, "__self__", None)
        self.deliver_later = bool(getattr(owner, "shares_objects", False))
        # A stream that can gather several events' frames into one write (``hold``/``release``).
        self._holder = owner if callable(getattr(owner, "hold", None)) else None
        # A stream that takes a whole batch of (type, object) pairs in one call, shared by
        # every watcher of the batch: with no selectors and the store's decode memo, a
        # batch is translated once (``DecodeMemo.plain``) and handed over as it is.
        batch_sink = getattr(owner, "sink_batch", None)
        self._batch_sink = (batch_sink if everything and self.deliver_later and isinstance(decode, DecodeMemo)
                            and callable(batch_sink) else None)
        self._plain_batch = decode.plain if isinstance(decode, DecodeMemo) else None
        self._sink = sink
        self._kind = kind
        self._api_version = api_version
        self.last_revision = start_revision
        self._storage_watch: Watch | None = None
        self._stopped = False
        self._bookmarks: LoopingCall | None = None
        if bookmark_interval > 0:
            lc = LoopingCall(self.bookmark)
            if clock is not None:
                lc.clock = clock
            self._bookmarks = lc
        self._bookmark_interval = bookmark_interval

    def attach(self, storage_watch: Watch) -> None:
        self._storage_watch = storage_watch
        if self._stopped:
            storage_watch.stop()
            return
        if self._bookmarks is not None:
            self._bookmarks.start(self._bookmark_interval, now=False)

    def bookmark_object(self, revision: int, annotations: dict[str, str] | None = None) -> Obj:
        meta: Obj = {"resourceVersion": str(revision)}
        if annotations:
            meta["annotations"] = annotations
        return {"kind": self._kind, "apiVersion": self._api_version, "metadata": meta}

    def bookmark(self) -> None:
        self._emit("BOOKMARK", self.bookmark_object(self.last_revision))

    def _emit(self, kind: str, obj: Obj) -> None:
        if self._stopped:
            return
        try:
            self._sink(kind, obj)
        except Exception:
            _log.failure("watch sink failed; stopping the watch")
            self.stop()

    def emit_initial(self, obj: Obj) -> None:
        if self._matches(obj):
            self._emit("ADDED", obj)

    def on_events(self, events: Sequence[Event]) -> None:
        batch_sink = self._batch_sink
        if batch_sink is not None:  # the fan-out's path: once per watcher per batch
            if self._stopped:
                return
            pairs, newest = self._plain_batch(events)  # type: ignore[misc]  # set with _batch_sink
            if newest > self.last_revision:
                self.last_revision = newest
            try:
                batch_sink(pairs)
            except Exception:
                _log.failure("watch sink failed; stopping the watch")
                self.stop()
            return
        holder = self._holder
        if holder is None or len(events) < 2:
            self._dispatch(events)
            return
        holder.hold()
        try:
            self._dispatch(events)
        finally:
            holder.release()

    def _dispatch(self, events: Sequence[Event]) -> None:
        if self._everything and self.deliver_later:
            self._plain(events)
            return
        for ev in events:
            if self._stopped:
                return
            self.last_revision = max(self.last_revision, ev.revision)
            self._one(ev)

    def _plain(self, events: Sequence[Event]) -> None:
        """``on_events`` for a watch without selectors whose sink only reads what it gets
        (a client's stream): every event goes out as it is, so the per-event steps of
        ``_one`` and ``_emit`` fold into one loop (this runs once per watcher per event)."""
        decode = self._decode
        sink = self._sink
        for ev in events:
            if self._stopped:
                return
            kv = ev.kv
            rev = kv.mod_revision
            if rev > self.last_revision:
                self.last_revision = rev
            if ev.type == "DELETE":
                event_type, obj = "DELETED", decode(ev.prev or kv, rev)
            else:
                event_type, obj = "ADDED" if ev.prev is None else "MODIFIED", decode(kv, rev)
            try:
                sink(event_type, obj)
            except Exception:
                _log.failure("watch sink failed; stopping the watch")
                self.stop()

    def _one(self, ev: Event) -> None:
        rev = ev.revision
        if ev.type == "DELETE":
            old = self._decode(ev.prev or ev.kv, rev)
            if self._matches(old):
                self._emit("DELETED", old)
            return
        new = self._decode(ev.kv, ev.kv.mod_revision)
        if self._everything:
            self._emit("ADDED" if ev.prev is None else "MODIFIED", new)
            return
        new_ok = self._matches(new)
        if ev.prev is None:
            if new_ok:
                self._emit("ADDED", new)
            return
        old = self._decode(ev.prev, rev)
        old_ok = self._matches(old)
        if new_ok and old_ok:
            self._emit("MODIFIED", new)
        elif new_ok:
            self._emit("ADDED", new)
        elif old_ok:
            self._emit("DELETED", old)

    def on_error(self, err: StorageError) -> None:
        if isinstance(err, CompactedError):
            status = errors.too_old_resource_version(self.last_revision, err.compact_revision).status()
        else:
            status = errors.internal_error(str(err)).status()
        self._emit("ERROR", status)
        self.stop()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._bookmarks is not None and self._bookmarks.running:
            self._bookmarks.stop()
        if self._storage_watch is not None:
            self._storage_watch.stop()

    @property
    def stopped(self) -> bool:
        return self._stopped
