"""Storage metrics under upstream's names: ``etcd_request_duration_seconds{operation,group,
resource}`` timed around each store call (whatever the backend — embedded SQLite too, as
upstream's label is about the storage layer), and ``apiserver_storage_objects{resource}``
counted about once a minute."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Coroutine, Iterable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from kubeapi.api.types import ResourceDef

COUNT_INTERVAL = 60.0


class TimedStorage:
    """The storage one resource's store sees, timing each call into the metrics.  The calls
    a store makes per request are plain methods with their histogram child found once; the
    rest of the storage's interface passes through."""

    def __init__(self, storage: Any, metrics: Any, group: str, resource: str) -> None:
        self._storage = storage
        family = metrics.etcd_duration
        self._get, self._list, self._create, self._update, self._delete = (
            family.labels(op, group, resource) for op in ("get", "list", "create", "update", "delete"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    async def get(self, key: str) -> Any:
        began = time.monotonic()  # `_timed` inline: a coroutine less on every GET
        try:
            return await self._storage.get(key)
        finally:
            self._get.observe(time.monotonic() - began)

    async def current_revision(self) -> int:
        return int(await _timed(self._get, self._storage.current_revision()))

    async def list(self, prefix: str, **kwargs: Any) -> Any:
        return await _timed(self._list, self._storage.list(prefix, **kwargs))

    async def create(self, key: str, value: bytes) -> Any:
        return await _completing(self._create, self._storage.create(key, value))

    async def update(self, key: str, value: bytes, expected_revision: int) -> Any:
        return await _completing(self._update, self._storage.update(key, value, expected_revision))

    async def delete(self, key: str, expected_revision: int = 0) -> Any:
        return await _completing(self._delete, self._storage.delete(key, expected_revision))


async def _timed(histogram: Any, call: Awaitable[Any]) -> Any:
    began = time.monotonic()
    try:
        return await call
    finally:
        histogram.observe(time.monotonic() - began)


def _completing(histogram: Any, call: Coroutine[Any, Any, Any]) -> Deferred[Any]:
    """A write once handed to storage runs to its end, as upstream's does once sent to etcd:
    cancelling the result (the client hung up) fails it at once with CancelledError but
    leaves the write itself alone, so both backends keep exactly the writes that got this
    far (an etcd call cancelled midway may or may not have been applied)."""
    began = time.monotonic()
    write = Deferred.fromCoroutine(call)
    result: Deferred[Any] = Deferred()

    def relay(outcome: Any) -> None:
        histogram.observe(time.monotonic() - began)
        if result.called:  # cancelled meanwhile; the outcome is not anyone's to see
            return
        if isinstance(outcome, Failure):
            result.errback(outcome)
        else:
            result.callback(outcome)

    write.addBoth(relay)
    return result


def resource_label(rdef: ResourceDef) -> str:
    """``pods``, ``deployments.apps``: upstream's group-resource string."""
    return f"{rdef.plural}.{rdef.group}" if rdef.group else rdef.plural


async def count_objects(storage: Any, metrics: Any, rdefs: Iterable[ResourceDef], prefix: str) -> None:
    seen: set[str] = set()
    for rdef in rdefs:
        key = rdef.key_prefix(prefix)
        if key in seen:
            continue
        seen.add(key)
        try:
            res = await storage.list(key, limit=1)
        except Exception:
            metrics.storage_objects.labels(resource_label(rdef)).set(-1)  # upstream's "unknown"
            continue
        metrics.storage_objects.labels(resource_label(rdef)).set(len(res.items) + res.remaining)


def start_object_counter(server: Any, clock: Any = None) -> LoopingCall:
    """Count now and then every COUNT_INTERVAL seconds; stop() the result at shutdown."""
    from twisted.internet import defer

    loop = LoopingCall(lambda: defer.ensureDeferred(
        count_objects(server.storage, server.metrics, server.catalog.all(), server.prefix)))
    if clock is not None:
        loop.clock = clock
    loop.start(COUNT_INTERVAL, now=True).addErrback(lambda _f: None)
    return loop
