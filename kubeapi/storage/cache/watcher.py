"""One client watch served from a resource's cache.

A watcher holds no queue of its own: it keeps a cursor into the resource's event ring
(plus, for its first delivery only, the replay it asked for).  Falling behind therefore
costs no memory; a watcher whose cursor drops off the ring's tail is cut off with
``CompactedError`` (the client relists), as upstream's cacher drops a watcher that cannot
keep up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from twisted.internet.base import DelayedCall

from kubeapi.storage.callbacks import deliver_events, report_error
from kubeapi.storage.interface import Event, OnError, OnEvents, StorageError

if TYPE_CHECKING:
    from kubeapi.storage.cache.resource import ResourceCache


WatchState = Literal["holding", "live", "stopped"]


class CachedWatch:
    """Satisfies the ``Watch`` protocol, plus ``pause``/``resume`` for back-pressure."""

    def __init__(self, resource: ResourceCache, prefix: str, start: int, cursor: int,
                 on_events: OnEvents, on_error: OnError) -> None:
        self._resource = resource
        self.prefix = prefix
        self.start = start  # the oldest revision this watcher wants
        self.cursor = cursor  # ring sequence number of the next event to look at
        self._replay: list[Event] = []
        self._on_events = on_events
        self._on_error = on_error
        self._whole = prefix == resource.prefix
        self.state: WatchState = "holding"  # until one reactor turn after watch() returned
        self.paused = False
        self.release_call: DelayedCall | None = None

    @property
    def stopped(self) -> bool:
        return self.state == "stopped"

    def stop(self) -> None:
        """End the watch; no callback fires afterwards.  Idempotent."""
        if self.state == "stopped":
            return
        self.state = "stopped"
        self._replay = []
        if self.release_call is not None and self.release_call.active():
            self.release_call.cancel()
        self.release_call = None
        self._resource.forget(self)

    def pause(self) -> None:
        """Stop delivering (the consumer is full).  Events are not queued for the watcher:
        once the ring moves past it, it is cut off with CompactedError."""
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self._resource.wake(self)

    @property
    def behind(self) -> int:
        """How many ring events (of any key of the resource) this watcher has not looked at."""
        return self._resource.ring.end - self.cursor

    # -- called by the resource cache --------------------------------------------------

    @property
    def has_replay(self) -> bool:
        return bool(self._replay)

    def set_replay(self, history: Sequence[Event]) -> None:
        """Held events this watcher asked for; they go out ahead of its first delivery."""
        self._replay = []
        self._replay = self.select(history)

    def select(self, events: Sequence[Event]) -> list[Event]:
        start = self.start
        if self._whole:
            out = [e for e in events if e.revision >= start]
        else:
            prefix = self.prefix
            out = [e for e in events if e.revision >= start and e.kv.key.startswith(prefix)]
        if self._replay:
            out = self._replay + out
            self._replay = []
        return out

    def deliver(self, events: Sequence[Event]) -> None:
        if not events or self.state != "live":
            return
        deliver_events(self._on_events, events)

    def fail(self, error: StorageError) -> None:
        """Report ``error`` once and stop."""
        if self.state == "stopped":
            return
        on_error = self._on_error
        self.stop()
        report_error(on_error, error)

    def close_silently(self) -> None:
        self.stop()
