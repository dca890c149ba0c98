"""``WatchCache``: a ``Storage`` that serves watches (and LIST at resourceVersion=0)
from one backend watch per resource prefix.

Writes, gets and lists pass straight through, so reads that must be consistent stay
backend reads.  A watch on a key prefix inside a cached resource prefix is served by
that resource's cache; any other prefix goes to the backend unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer

from kubeapi.storage.cache.resource import ResourceCache
from kubeapi.storage.interface import (
    KeyValue,
    ListResult,
    OnError,
    OnEvents,
    Storage,
    Watch,
)

DEFAULT_CAPACITY = 1024
# Upstream's cacher waits this long for the cache to reach a requested revision.
FRESHNESS_TIMEOUT = 3.0


@dataclass(frozen=True)
class CacheStats:
    """One resource cache's counters, as the apiserver_watch_cache_* series report them."""

    events_received: int
    initializations: int
    events_dispatched: int
    resource_version: int
    capacity: int


class WatchCache:
    def __init__(self, storage: Storage, resource_prefixes: Iterable[str], *,
                 capacity: int = DEFAULT_CAPACITY, reactor: Any = None,
                 ready_timeout: float = 10.0, fresh_timeout: float = FRESHNESS_TIMEOUT,
                 page_size: int = 1000, retry_initial: float = 0.1, retry_max: float = 5.0,
                 delivery_budget: float = 0.02) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor
            reactor = default_reactor
        self.storage = storage
        self.capacity = capacity
        self.ready_timeout = ready_timeout
        self.fresh_timeout = fresh_timeout
        self._reactor = reactor
        self._resources: dict[str, ResourceCache] = {}
        for prefix in resource_prefixes:
            if not prefix or prefix in self._resources:
                continue
            self._resources[prefix] = ResourceCache(
                storage, prefix, capacity=capacity, reactor=reactor, page_size=page_size,
                retry_initial=retry_initial, retry_max=retry_max, delivery_budget=delivery_budget)
        # Longest first, so a nested resource prefix wins over an enclosing one.
        self._by_length = sorted(self._resources.values(), key=lambda r: len(r.prefix), reverse=True)
        self._resource_of: dict[str, ResourceCache | None] = {}
        self._slash_ended = all(p.endswith("/") for p in self._resources)

    # -- which cache serves a prefix -------------------------------------------------------

    def resource_for(self, prefix: str) -> ResourceCache | None:
        """The cache of the resource that contains every key under ``prefix``, if any.
        Resource prefixes end with "/", so the answer depends only on ``prefix`` up to its
        last "/": that part is remembered (a key's namespace directory, a LIST's prefix)."""
        if not self._slash_ended:
            return next((rc for rc in self._by_length if prefix.startswith(rc.prefix)), None)
        directory = prefix[:prefix.rfind("/") + 1]
        memo = self._resource_of
        if directory in memo:
            return memo[directory]
        found = None
        for rc in self._by_length:
            if directory.startswith(rc.prefix):
                found = rc
                break
        if len(memo) >= 4096:
            memo.clear()
        memo[directory] = found
        return found

    def stats(self) -> dict[str, CacheStats]:
        """prefix -> its cache's counters, for the watch cache metrics."""
        return {p: CacheStats(rc.events_received, rc.initializations, rc.events_dispatched, rc.known_revision,
                              rc.ring.capacity) for p, rc in self._resources.items()}

    @property
    def resource_prefixes(self) -> list[str]:
        return list(self._resources)

    async def start(self) -> None:
        """Fill every resource cache now instead of on its first watch."""
        try:
            await defer.gatherResults([rc.start() for rc in self._resources.values()], consumeErrors=True)
        except defer.FirstError as e:
            e.subFailure.raiseException()

    # -- passed through ----------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        return await self.storage.get(key)

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0,
                   start_after: str | None = None) -> ListResult:
        return await self.storage.list(prefix, revision=revision, limit=limit, start_after=start_after)

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self.storage.create(key, value)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        return await self.storage.update(key, value, expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return await self.storage.delete(key, expected_revision)

    async def current_revision(self) -> int:
        return await self.storage.current_revision()

    async def healthy(self) -> bool:
        return await self.storage.healthy()

    async def compact(self, revision: int) -> None:
        await self.storage.compact(revision)
        for rc in self._resources.values():
            rc.raise_floor(revision)

    async def close(self) -> None:
        for rc in self._resources.values():
            rc.close()
        await self.storage.close()

    # -- served from the cache ---------------------------------------------------------

    async def watch(self, prefix: str, start_revision: int, on_events: OnEvents,
                    on_error: OnError) -> Watch:
        """Served by the resource's cache when ``prefix`` lies inside a cached resource.
        Start 0 means from the backend's current revision on; a start older than the
        cache holds raises CompactedError; a start newer than the cache has seen simply
        waits for it (as upstream's cacher does for a watch)."""
        rc = self.resource_for(prefix)
        if rc is None:
            return await self.storage.watch(prefix, start_revision, on_events, on_error)
        start = start_revision
        if start <= 0:
            start = await self.storage.current_revision() + 1
        await rc.ready(self.ready_timeout, max(start_revision - 1, 0))
        if start_revision <= 0:
            start = max(start, rc.floor)  # the cache relisted meanwhile: "now" is later
        return rc.add_watch(prefix, start, on_events, on_error)

    async def list_from_cache(self, prefix: str, *, limit: int = 0, start_after: str | None = None,
                              min_revision: int = 0) -> ListResult:
        """LIST from the cache's state (resourceVersion=0, or NotOlderThan ``min_revision``,
        waiting up to 3 s for the cache to get there, else FutureRevisionError: upstream's
        "Too large resource version").  Not a backend read.  A prefix outside every cached
        resource, or a cache not filled yet when no revision is required, is read from the
        backend as upstream does."""
        rc = self.resource_for(prefix)
        if rc is None:
            return await self.storage.list(prefix, limit=limit, start_after=start_after)
        if rc.state != "ready":
            if min_revision <= 0:
                rc.start().addErrback(lambda _f: None)  # fill it for next time
                return await self.storage.list(prefix, limit=limit, start_after=start_after)
            await rc.ready(self.ready_timeout)
        await rc.wait_fresh(min_revision, self.fresh_timeout)
        return rc.list_items(prefix, limit, start_after)

    def get_from_cache(self, key: str) -> KeyValue | None:
        """The cache's copy of ``key``, or None when no filled cache holds it (the caller
        then reads the backend).  Not a consistent read: the newest state the cache has."""
        rc = self.resource_for(key)
        if rc is None or rc.state != "ready":
            return None
        return rc.get_item(key)

    def cache_revision(self, prefix: str) -> int:
        """The newest revision the cache serving ``prefix`` has fully applied (for
        bookmarks); 0 when no cache serves it or it is not filled yet."""
        rc = self.resource_for(prefix)
        if rc is None or rc.state != "ready":
            return 0
        return rc.known_revision
