"""The generic store: every verb over the storage contract for any ResourceDef.

It follows upstream's generic registry (k8s.io/apiserver pkg/registry/generic/registry):
strategies come from the ResourceDef's hooks, writes are compare-and-swap on the key's
mod_revision, and the resourceVersion served is that revision.  Kind-specific rules that
live in upstream's per-kind registries (pod graceful deletion, namespace termination) are
kept here, in small helpers, because they change what every client sees.
"""

from __future__ import annotations

from kubeapi.registry.store_base import (
    CONTINUE_EXPIRED,
    LIST_PAGE,
    LIST_TOO_OLD,
    MAX_GENERATE_NAME_ATTEMPTS,
    MAX_UPDATE_ATTEMPTS,
    NAMESPACE_PURGE,
    ExpiredContinue,
    Obj,
    WatchHandle,
    WatchSink,
)
from kubeapi.registry.store_delete import DeleteStore

__all__ = ["CONTINUE_EXPIRED", "LIST_PAGE", "LIST_TOO_OLD", "MAX_GENERATE_NAME_ATTEMPTS", "MAX_UPDATE_ATTEMPTS",
           "NAMESPACE_PURGE", "ExpiredContinue", "Obj", "ResourceStore", "WatchHandle", "WatchSink"]


class ResourceStore(DeleteStore):
    """Every verb of one resource: get (store_base), list/watch (store_list), create, update,
    scale and patch (store_write), delete (store_delete)."""
