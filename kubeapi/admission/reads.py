"""Admission's reads of other objects (the namespace, quotas, limit ranges, service
accounts), from the watch cache when the storage has one, as upstream's plugins read
through informers rather than asking etcd on every request.

A key the cache does not have is looked up in storage (a namespace created a moment ago
may not have reached the cache yet, as upstream's lifecycle plugin falls back to a live
lookup).  Without a watch cache (the embedded store, whose own reads are in memory where
they can be) these are plain storage reads.
"""

from __future__ import annotations

from typing import Any

from kubeapi.storage.interface import KeyValue, ListResult


async def cached_get(storage: Any, key: str) -> KeyValue | None:
    from_cache = getattr(storage, "get_from_cache", None)
    if from_cache is not None:
        kv = from_cache(key)
        if kv is not None:
            return kv  # type: ignore[no-any-return]
    return await storage.get(key)  # type: ignore[no-any-return]


async def cached_list(storage: Any, prefix: str) -> ListResult:
    from_cache = getattr(storage, "list_from_cache", None)
    if from_cache is not None:
        return await from_cache(prefix)  # type: ignore[no-any-return]
    return await storage.list(prefix)  # type: ignore[no-any-return]
