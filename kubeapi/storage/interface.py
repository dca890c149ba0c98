"""The storage contract every backend (embedded SQLite, etcd v3) implements.

It is etcd-shaped on purpose: keys are strings under the configured prefix, every
write bumps one global revision, updates are compare-and-swap on the key's
``mod_revision``, and a watch replays every event after a revision.  The generic
registry (kubeapi/registry/store.py) is the only caller; it never sees SQL or gRPC.

Revisions: ``resourceVersion`` in Kubernetes objects is the ``mod_revision`` of the
key that holds them; a list's ``resourceVersion`` is the store revision it was read at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol


class StorageError(Exception):
    """Base of every error a backend raises; the registry maps each to a Status."""


class KeyExistsError(StorageError):
    """create() on a key that already holds a value."""


class KeyNotFoundError(StorageError):
    """update()/delete() on a key that holds nothing."""


class ConflictError(StorageError):
    """The key's mod_revision is not the one the caller expected."""

    def __init__(self, current: KeyValue | None = None) -> None:
        super().__init__("mod_revision mismatch")
        self.current = current


class CompactedError(StorageError):
    """The asked revision is older than the oldest one kept (watch/list → 410 Gone)."""

    def __init__(self, compact_revision: int, current_revision: int = 0) -> None:
        super().__init__(f"required revision has been compacted (compacted at {compact_revision})")
        self.compact_revision = compact_revision
        self.current_revision = current_revision


class FutureRevisionError(StorageError):
    """The asked revision is newer than the store's current revision."""


class UnavailableError(StorageError):
    """The backend cannot be reached now (→ 503); safe to retry reads, never blind-retry writes."""


class TimeoutError_(StorageError):
    """The backend did not answer in time (→ 504 Timeout)."""


class TooLargeError(StorageError):
    """The backend refused the value as too large (→ 413)."""


class KeyValue(NamedTuple):
    """One stored key at one revision.  A NamedTuple, not a frozen dataclass: a LIST builds
    one per key, and this is half the cost to make."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int


EventType = Literal["PUT", "DELETE"]


@dataclass(frozen=True, slots=True)
class Event:
    """One change.  For PUT, ``kv`` is the new value and ``prev`` the old one (None on create).
    For DELETE, ``kv.value`` is the value that was deleted, ``kv.mod_revision`` is the
    revision of the deletion, and ``prev`` is that same old KeyValue as it was stored."""

    type: EventType
    kv: KeyValue
    prev: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the store revision the list was read at
    more: bool  # True when ``limit`` cut the list short
    remaining: int = 0  # how many keys after the last returned one (for remainingItemCount)


class Watch(Protocol):
    """A running watch.  Events are delivered, in revision order, to the callback given to
    ``Storage.watch``; ``stop`` ends it and no callback fires afterwards."""

    def stop(self) -> None: ...


OnEvents = Callable[[Sequence[Event]], None]
OnError = Callable[[StorageError], None]


class Storage(Protocol):
    """All methods that talk to the backend are coroutines; none blocks the reactor."""

    async def get(self, key: str) -> KeyValue | None: ...

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str | None = None
    ) -> ListResult:
        """Keys starting with ``prefix`` in key order.  ``revision`` 0 = now; otherwise read the
        snapshot at that revision (CompactedError if compacted away, FutureRevisionError if
        ahead).  ``start_after``: resume strictly after this key (pagination)."""
        ...

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Write only if the key is absent, else KeyExistsError."""
        ...

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        """CAS: write only if the key's mod_revision == expected_revision.
        KeyNotFoundError if absent, ConflictError (with .current) if the revision differs."""
        ...

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Delete and return the deleted KeyValue.  expected_revision 0 = unconditional.
        KeyNotFoundError if absent, ConflictError if the revision differs."""
        ...

    async def current_revision(self) -> int: ...

    async def watch(
        self, prefix: str, start_revision: int, on_events: OnEvents, on_error: OnError
    ) -> Watch:
        """Deliver every event on keys under ``prefix`` with revision >= start_revision
        (0 = only from now on), in order, then live ones.  Raises CompactedError (before
        returning) if start_revision is older than what is kept.  A watch that later
        fails (backend lost and the history it needs gone) reports through on_error once
        and stops."""
        ...

    async def compact(self, revision: int) -> None:
        """Forget history older than ``revision`` (current values are always kept)."""
        ...

    async def healthy(self) -> bool:
        """For /readyz: True when the backend answers now."""
        ...

    async def close(self) -> None: ...
