"""Real stores over a temporary embedded storage, for the controller tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeapi.admission.namespace_lifecycle import NamespaceLifecycle
from kubeapi.api import builtin_catalog
from kubeapi.api.types import Catalog
from kubeapi.registry.allocator import ServiceAllocators
from kubeapi.registry.store import ResourceStore
from kubeapi.storage.embedded.store import SQLiteStorage


def catalog() -> Catalog:
    """A fresh built-in catalog (tests may add to it)."""
    return builtin_catalog()


@dataclass
class Context:
    storage: Any
    allocators: Any


class Stores:
    """``APIServer.store`` without the server: one ResourceStore per resource, shared."""

    def __init__(self, storage: SQLiteStorage, cat: Catalog) -> None:
        self.storage = storage
        self.catalog = cat
        self.allocators = ServiceAllocators(storage)
        self.ctx = Context(storage, self.allocators)
        self.admission = [NamespaceLifecycle(storage)]
        self._stores: dict[tuple[str, str, str], ResourceStore] = {}

    def __call__(self, group: str, version: str, plural: str) -> ResourceStore:
        key = (group, version, plural)
        if key not in self._stores:
            rdef = self.catalog.get(*key)
            if rdef is None:
                raise KeyError(key)
            self._stores[key] = ResourceStore(rdef, self.storage, self.ctx, admission=self.admission)
        return self._stores[key]


