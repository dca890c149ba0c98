"""The watch cache: one backend watch per resource, fanned out to every client watch."""

from kubeapi.storage.cache.store import DEFAULT_CAPACITY, FRESHNESS_TIMEOUT, WatchCache
from kubeapi.storage.cache.watcher import CachedWatch

__all__ = ["DEFAULT_CAPACITY", "FRESHNESS_TIMEOUT", "CachedWatch", "WatchCache"]
