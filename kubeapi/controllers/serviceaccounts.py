"""The service-accounts controller (kube-controller-manager's, embedded like the namespace
controller): every active namespace gets its ``default`` ServiceAccount, which the
ServiceAccount admission plugin assigns to pods that name none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from kubeapi.errors import StatusError
from kubeapi.registry.options import ListOptions, WriteOptions
from kubeapi.registry.store import ResourceStore, WatchHandle

log = Logger()
Obj = dict[str, Any]
StoreLookup = Callable[[str, str, str], ResourceStore]
MANAGER = "kube-controller-manager"


class ServiceAccountsController(Service):
    name = "serviceaccounts-controller"

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

    def startService(self) -> None:
        super().startService()
        self._stopping = False
        self._loop = LoopingCall(self._resync)
        self._loop.clock = self.reactor
        self._loop.start(self.resync, now=True).addErrback(
            lambda f: log.failure("serviceaccounts controller resync died", f))

    def stopService(self) -> Deferred[Any] | None:
        super().stopService()
        self._stopping = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._watch is not None:
            try:
                self._watch.stop()
            except Exception:
                pass
            self._watch = None
        return None

    def _resync(self) -> Deferred[None]:
        d = Deferred.fromCoroutine(self._list_and_watch())
        d.addErrback(lambda f: log.warn("serviceaccounts controller: resync failed: {err}", err=f.getErrorMessage()))
        return d

    async def _list_and_watch(self) -> None:
        store = self.stores("", "v1", "namespaces")
        listed = await store.list("", ListOptions())
        for ns in listed.get("items", []):
            await self._ensure(ns)
        if self._watch is None and not self._stopping:
            rv = str(listed.get("metadata", {}).get("resourceVersion", ""))
            self._watch = await store.watch("", ListOptions(resource_version=rv), self._on_event)
            if self._stopping and self._watch is not None:
                self._watch.stop()
                self._watch = None

    def _on_event(self, kind: str, obj: Obj) -> None:
        if kind == "ADDED":
            Deferred.fromCoroutine(self._ensure(obj)).addErrback(
                lambda f: log.warn("serviceaccounts controller: {err}", err=f.getErrorMessage()))
        elif kind == "ERROR":
            self._watch = None

    async def _ensure(self, ns: Obj) -> None:
        meta = ns.get("metadata") or {}
        name = meta.get("name") or ""
        if not name or meta.get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            return
        sa_store = self.stores("", "v1", "serviceaccounts")
        try:
            await sa_store.get(name, "default")
            return
        except StatusError as e:
            if e.code != 404:
                raise
        try:
            await sa_store.create(name, {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": "default", "namespace": name}},
                                  WriteOptions(field_manager=MANAGER))
        except StatusError as e:
            if e.code not in (403, 404, 409):  # raced another writer, or the namespace is going away
                raise
