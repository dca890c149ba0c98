"""Storage metrics under upstream's names: ``etcd_request_duration_seconds{operation,group,
resource}`` timed around each store call (whatever the backend — embedded SQLite too, as
upstream's label is about the storage layer), and ``apiserver_storage_objects{resource}``
counted about once a minute."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from twisted.internet.task import LoopingCall

from kubeapi.api.types import ResourceDef

_TIMED = {"get": "get", "list": "list", "create": "create", "update": "update", "delete": "delete",
          "current_revision": "get"}
COUNT_INTERVAL = 60.0


class TimedStorage:
    """The storage one resource's store sees, timing each call into the metrics."""

    def __init__(self, storage: Any, metrics: Any, group: str, resource: str) -> None:
        self._storage = storage
        self._metrics = metrics
        self._group = group
        self._resource = resource

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._storage, name)
        op = _TIMED.get(name)
        if op is None or not callable(attr):
            return attr
        histogram = self._metrics.etcd_duration.labels(op, self._group, self._resource)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.monotonic()
            try:
                return await attr(*args, **kwargs)
            finally:
                histogram.observe(time.monotonic() - began)
        return timed


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
