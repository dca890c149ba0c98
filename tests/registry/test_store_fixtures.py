"""Shared fixtures for the generic store tests: small kinds and a real embedded store."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial import unittest

from kubeapi.admission.namespace_lifecycle import NamespaceLifecycle
from kubeapi.api.types import FieldError, ResourceDef, ScaleSpec
from kubeapi.registry.options import WriteOptions
from kubeapi.registry.store import ResourceStore
from kubeapi.storage.embedded import SQLiteStorage

Obj = dict[str, Any]


def _validate_widget(obj: Obj) -> list[FieldError]:
    r = (obj.get("spec") or {}).get("replicas", 0)
    if isinstance(r, int) and r < 0:
        return [FieldError("FieldValueInvalid", "spec.replicas", "must be greater than or equal to 0", r, True)]
    return []


def _default_widget(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)


WIDGETS = ResourceDef(
    group="example.com", version="v1", kind="Widget", plural="widgets", singular="widget",
    namespaced=True, subresources=("status", "scale"), has_status=True, has_generation=True,
    scale=ScaleSpec(), default=_default_widget, validate=_validate_widget,
    field_selectors={"spec.color": lambda o: (o.get("spec") or {}).get("color", "")},
    schema={"type": "object"},
)

GADGETS = ResourceDef(  # cluster-scoped, no status split, returns the deleted object
    group="example.com", version="v1", kind="Gadget", plural="gadgets", singular="gadget",
    namespaced=False, return_deleted_object=True,
)


def _prepare_pod(obj: Obj) -> None:
    obj["status"] = {"phase": "Pending"}


PODS = ResourceDef(
    group="", version="v1", kind="Pod", plural="pods", singular="pod", namespaced=True,
    subresources=("status",), has_status=True, return_deleted_object=True,
    prepare_for_create=_prepare_pod,
    field_selectors={"spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", "")},
)


def _prepare_namespace(obj: Obj) -> None:
    obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
    obj["status"] = {"phase": "Active"}


NAMESPACES = ResourceDef(
    group="", version="v1", kind="Namespace", plural="namespaces", singular="namespace",
    namespaced=False, subresources=("status", "finalize"), has_status=True,
    prepare_for_create=_prepare_namespace,
)


@dataclass
class Ctx:
    storage: Any
    allocators: Any = None
    calls: list[str] = field(default_factory=list)


def widget(name: str = "w1", ns: str = "default", **spec: Any) -> Obj:
    return {"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": name, "namespace": ns}, "spec": dict(spec)}


W = WriteOptions()


class StoreCase(unittest.TestCase):
    """Opens a fresh SQLite store per test; ``store(rdef)`` builds a ResourceStore on it."""

    storage: SQLiteStorage
    clock: Clock

    async def open_storage(self) -> None:
        d = tempfile.mkdtemp(prefix="kubeapi-store-test-")
        self.storage = SQLiteStorage(os.path.join(d, "db.sqlite"), compaction_window=0)
        await self.storage.open()
        self.addCleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
        self.addCleanup(lambda: Deferred.fromCoroutine(self.storage.close()))
        self.clock = Clock()
        self.ctx = Ctx(self.storage)

    def store(self, rdef: ResourceDef, *, lifecycle: bool = False, **kw: Any) -> ResourceStore:
        plugins = [NamespaceLifecycle(self.storage)] if lifecycle else []
        return ResourceStore(rdef, self.storage, self.ctx, admission=plugins, clock=self.clock, **kw)


def async_test(fn: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Deferred[None]]:
    """Trial runs Deferreds, not coroutines: open a store, then run the test body."""

    def run(self: StoreCase) -> Deferred[None]:
        async def go() -> None:
            await self.open_storage()
            await fn(self)

        return Deferred.fromCoroutine(go())

    run.__name__ = fn.__name__
    return run
