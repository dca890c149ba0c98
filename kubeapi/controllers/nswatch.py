"""The loop our embedded controllers share: list the namespaces every ``resync`` seconds,
watch them in between, hand each one seen to the controller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from kubeapi.registry.options import ListOptions
from kubeapi.registry.store import ResourceStore, WatchHandle

log = Logger()
Obj = dict[str, Any]
StoreLookup = Callable[[str, str, str], ResourceStore]


class NamespaceWatcher(Service):
    """Calls `seen` for every namespace listed and every ADDED/MODIFIED event; a watch that
    ends (410 Gone, say) is re-made by the next resync's list."""

    name = "namespace-watcher"

    def __init__(self, stores: StoreLookup, *, resync: float = 30.0, reactor: Any = None) -> None:
        self.stores = stores
        self.resync = resync
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor
        self._watch: WatchHandle | None = None
        self._loop: LoopingCall | None = None
        self._stopping = False

    async def seen(self, ns: Obj) -> None:
        raise NotImplementedError

    def startService(self) -> None:
        super().startService()
        self._stopping = False
        self._loop = LoopingCall(self._resync)
        self._loop.clock = self.reactor
        self._loop.start(self.resync, now=True).addErrback(
            lambda f: log.failure("{name} resync died", f, name=self.name))

    def stopService(self) -> Deferred[Any] | None:
        super().stopService()
        self._stopping = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        self._stop_watch()
        return None

    def _stop_watch(self) -> None:
        if self._watch is not None:
            try:
                self._watch.stop()
            except Exception:
                pass
            self._watch = None

    def _resync(self) -> Deferred[None]:
        d = Deferred.fromCoroutine(self._list_and_watch())
        d.addErrback(lambda f: log.warn("{name}: resync failed: {err}", name=self.name, err=f.getErrorMessage()))
        return d

    async def _list_and_watch(self) -> None:
        store = self.stores("", "v1", "namespaces")
        listed = await store.list("", ListOptions())
        for ns in listed.get("items", []):
            await self.seen(ns)
        if self._watch is None and not self._stopping:
            rv = str(listed.get("metadata", {}).get("resourceVersion", ""))
            self._watch = await store.watch("", ListOptions(resource_version=rv), self._on_event)
            if self._stopping:
                self._stop_watch()

    def _on_event(self, kind: str, obj: Obj) -> None:
        if kind in ("ADDED", "MODIFIED"):
            Deferred.fromCoroutine(self.seen(obj)).addErrback(
                lambda f: log.warn("{name}: {err}", name=self.name, err=f.getErrorMessage()))
        elif kind == "ERROR":
            self._watch = None
