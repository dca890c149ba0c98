"""The namespace controller: empties a Terminating namespace, then finalizes it.

Driven by a watch on namespaces plus a periodic resync (which also restarts a watch that
ended).  For a namespace with ``metadata.deletionTimestamp`` set it deletes every namespaced
resource of the catalog through the stores, re-checks on a bounded backoff until nothing
is left (objects with finalizers may linger), and then removes ``kubernetes`` from
``spec.finalizers`` through the ``finalize`` subresource; the store deletes the namespace
once no finalizer remains.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from kubeapi.api.types import Catalog, ResourceDef
from kubeapi.controllers.nswatch import NamespaceWatcher, StoreLookup
from kubeapi.errors import StatusError
from kubeapi.registry.options import DeleteOptions, ListOptions, WriteOptions

log = Logger()

Obj = dict[str, Any]
FINALIZER = "kubernetes"
# Waits between passes over a namespace that still has content (seconds); after the last
# one the namespace waits for the next resync.
BACKOFF = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NamespaceController(NamespaceWatcher):
    """See the module docstring.  ``stores`` is ``APIServer.store``."""

    name = "namespace-controller"

    def __init__(self, stores: StoreLookup, catalog: Catalog, *, resync: float = 30.0,
                 reactor: Any = None) -> None:
        super().__init__(stores, resync=resync, reactor=reactor)
        self.catalog = catalog
        self._active: dict[str, Deferred[None]] = {}
        self._again: set[str] = set()

    def stopService(self) -> Deferred[Any] | None:
        super().stopService()
        pending = list(self._active.values())
        for d in pending:
            d.cancel()
        self._active.clear()
        return None

    async def seen(self, ns: Obj) -> None:
        self._observe(ns)

    def _observe(self, ns: Obj) -> None:
        meta = ns.get("metadata", {})
        if not meta.get("deletionTimestamp") or self._stopping:
            return
        name = meta.get("name", "")
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        if name in self._active:
            self._again.add(name)
            return
        self.enqueue(name)

    def enqueue(self, name: str) -> Deferred[None]:
        """Start (or join) the clean-up of one namespace; fires when it has been finalized or
        has given up until the next resync."""
        if name in self._active:
            return self._active[name]
        d = Deferred.fromCoroutine(self._drain(name))

        def failed(f: Failure) -> None:
            if not f.check(CancelledError):
                log.warn("namespace controller: {ns}: {err}", ns=name, err=f.getErrorMessage())

        def done(result: None) -> None:
            self._active.pop(name, None)
            if name in self._again and not self._stopping:
                self._again.discard(name)
                self.enqueue(name)

        d.addErrback(failed)
        d.addCallback(done)
        self._active[name] = d
        return d

    # -- the work ----------------------------------------------------------------------------

    def namespaced_resources(self) -> list[ResourceDef]:
        """One entry per stored collection: namespaced kinds that can be listed and deleted,
        the first version of each (group, plural) only."""
        seen: set[tuple[str, str]] = set()
        out = []
        for r in self.catalog.all():
            if not r.namespaced or "list" not in r.verbs or "delete" not in r.verbs:
                continue
            if (r.group, r.plural) in seen:
                continue
            seen.add((r.group, r.plural))
            out.append(r)
        return out

    async def _drain(self, name: str) -> None:
        for attempt in range(len(BACKOFF) + 1):
            if self._stopping:
                return
            ns = await self._get_namespace(name)
            if ns is None or not ns["metadata"].get("deletionTimestamp"):
                return
            remaining = await self.delete_content(name)
            await self._set_conditions(ns, remaining)
            if not remaining:
                await self.finalize(name)
                return
            if attempt < len(BACKOFF):
                await deferLater(self.reactor, BACKOFF[attempt])
        log.info("namespace {ns}: content remains; retrying at the next resync", ns=name)

    async def _get_namespace(self, name: str) -> Obj | None:
        try:
            return await self.stores("", "v1", "namespaces").get("", name)
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    async def delete_content(self, namespace: str) -> dict[str, int]:
        """Delete everything in the namespace once; return what is still there, by resource."""
        remaining: dict[str, int] = {}
        for r in self.namespaced_resources():
            store = self.stores(r.group, r.version, r.plural)
            label = f"{r.plural}.{r.group}" if r.group else r.plural
            try:
                if "deletecollection" in r.verbs:
                    await store.delete_collection(namespace, ListOptions(), DeleteOptions(propagation_policy="Background"))
                else:
                    listed = await store.list(namespace, ListOptions())
                    for item in listed.get("items", []):
                        try:
                            await store.delete(namespace, item["metadata"]["name"], DeleteOptions(propagation_policy="Background"))
                        except StatusError as e:
                            if e.code != 404:
                                raise
                left = await store.list(namespace, ListOptions())
            except StatusError as e:
                if e.code in (404, 405):
                    continue
                raise
            n = len(left.get("items", []))
            if n:
                remaining[label] = n
        return remaining

    async def _set_conditions(self, ns: Obj, remaining: dict[str, int]) -> None:
        """Tell users (kubectl describe) what the deletion waits for, as upstream does."""
        status = ns.get("status") or {}
        conditions = [c for c in status.get("conditions") or []
                      if c.get("type") != "NamespaceContentRemaining"]
        if remaining:
            what = ", ".join(f"{k} has {v} resource instances" for k, v in sorted(remaining.items()))
            cond = {"type": "NamespaceContentRemaining", "status": "True", "reason": "SomeResourcesRemain",
                    "message": f"Some resources are remaining: {what}", "lastTransitionTime": _now()}
        else:
            cond = {"type": "NamespaceContentRemaining", "status": "False", "reason": "ContentRemoved",
                    "message": "All content successfully removed", "lastTransitionTime": _now()}
        old = next((c for c in status.get("conditions") or [] if c.get("type") == "NamespaceContentRemaining"),
                   None)
        if old and all(old.get(k) == cond[k] for k in ("status", "reason", "message")):
            return
        conditions.append(cond)
        new = copy.deepcopy(ns)
        new.setdefault("status", {})["conditions"] = conditions
        try:
            await self.stores("", "v1", "namespaces").update("", ns["metadata"]["name"], new, WriteOptions(),
                                                             subresource="status")
        except StatusError as e:
            if e.code not in (404, 409, 405, 422):
                raise

    async def finalize(self, name: str) -> None:
        """Remove our finalizer; retry on conflict with a fresh read."""
        store = self.stores("", "v1", "namespaces")
        for _ in range(5):
            ns = await self._get_namespace(name)
            if ns is None:
                return
            finalizers = (ns.get("spec") or {}).get("finalizers") or []
            if FINALIZER not in finalizers:
                return
            new = copy.deepcopy(ns)
            new.setdefault("spec", {})["finalizers"] = [f for f in finalizers if f != FINALIZER]
            try:
                await store.update("", name, new, WriteOptions(), subresource="finalize")
                log.info("namespace {ns}: content removed, finalized", ns=name)
                return
            except StatusError as e:
                if e.code == 404:
                    return
                if e.code != 409:
                    raise
        raise RuntimeError(f"could not finalize namespace {name}")
