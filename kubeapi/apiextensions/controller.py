"""The CRD controller: what upstream's naming, establishing and finalizer controllers do.

For every CRD it checks the names against the other CRDs of its group (``NamesAccepted``),
marks it ``Established`` and serves its versions (one CustomResourceDef per served version in
the server's catalog); a CRD being deleted (``Terminating``) first has all of its objects
deleted, then the ``customresourcecleanup.apiextensions.k8s.io`` finalizer removed, and stops
being served when it is gone, ending the open watches of its kind.

Driven by the CRD store (every write reconciles before the request returns, so a created
CRD is served at once), a watch on CRDs, and a periodic resync.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger

from kubeapi.apiextensions import custom
from kubeapi.apiextensions.crd import CLEANUP_FINALIZER, GROUP
from kubeapi.errors import StatusError
from kubeapi.registry import meta
from kubeapi.registry.options import DeleteOptions, ListOptions, WriteOptions

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer

log = Logger()
Obj = dict[str, Any]
PLURAL = "customresourcedefinitions"
RETRY = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def condition(crd: Obj, ctype: str) -> Obj | None:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c  # type: ignore[no-any-return]
    return None


def _set_condition(status: Obj, ctype: str, value: str, reason: str, message: str) -> None:
    conds = status.get("conditions") or []
    status["conditions"] = conds
    for c in conds:
        if c.get("type") == ctype:
            if c.get("status") != value:
                c["lastTransitionTime"] = meta.now_rfc3339()
            c.update(status=value, reason=reason, message=message)
            return
    conds.append({"type": ctype, "status": value, "lastTransitionTime": meta.now_rfc3339(), "reason": reason,
                  "message": message})


class CRDController:
    """See the module docstring."""

    name = "crd-controller"

    def __init__(self, server: APIServer, *, resync: float = 30.0, reactor: Any = None) -> None:
        self.server = server
        self.resync = resync
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor
        self.served: dict[str, list[custom.CustomResourceDef]] = {}  # CRD name -> defs in the catalog
        self.watchers: dict[str, weakref.WeakSet[Any]] = {}  # CRD uid -> open watch streams
        self._watch: Any = None
        self._loop: LoopingCall | None = None
        self._busy: dict[str, Deferred[None]] = {}
        self._again: set[str] = set()
        self._stopping = False
        self._done_rv: dict[str, int] = {}  # CRD name -> resourceVersion last reconciled
        self._last_rv = 0
        self.synced = False  # the first full pass over the CRDs is done

    # -- lifecycle ------------------------------------------------------------------------

    async def ready(self) -> bool:
        """The readyz check ``poststarthook/crd-informer-synced``: CRDs stored before a restart
        are served again."""
        return self.synced

    def _store(self) -> Any:
        return self.server.store(GROUP, "v1", PLURAL)

    def startService(self) -> None:
        self._stopping = False
        self._loop = LoopingCall(self._resync)
        self._loop.clock = self.reactor
        self._loop.start(self.resync, now=True).addErrback(lambda f: log.failure("crd resync died", f))

    def stopService(self) -> None:
        self._stopping = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def _resync(self) -> Deferred[None]:
        d = Deferred.fromCoroutine(self.sync_all())
        d.addErrback(lambda f: log.warn("crd controller: resync failed: {err}", err=f.getErrorMessage()))
        return d

    async def sync_all(self) -> None:
        """List every CRD, reconcile each, forget the ones that are gone, and (re)watch."""
        listed = await self._store().list("", ListOptions())
        names = set()
        for crd in listed.get("items", []):
            names.add(crd["metadata"]["name"])
            await self.reconcile(crd)
        for gone in set(self.served) - names:
            self.unserve(gone)
        self.synced = True
        if self._watch is None and not self._stopping:
            rv = str(listed.get("metadata", {}).get("resourceVersion", ""))
            self._watch = await self._store().watch("", ListOptions(resource_version=rv), self._on_event)

    def _on_event(self, kind: str, obj: Obj) -> None:
        if kind in ("ADDED", "MODIFIED"):
            m = obj.get("metadata") or {}
            if int(m.get("resourceVersion") or 0) <= self._done_rv.get(m.get("name", ""), -1):
                return  # our own status write, or a write the store already had us reconcile
            Deferred.fromCoroutine(self.reconcile(obj)).addErrback(
                lambda f: log.warn("crd controller: {err}", err=f.getErrorMessage()))
        elif kind == "DELETED":
            self.unserve(obj["metadata"]["name"])
        elif kind == "ERROR":
            self._watch = None

    # -- reconcile ------------------------------------------------------------------------

    async def reconcile(self, crd: Obj) -> None:
        """Bring one CRD's status and serving in line with its spec (serialised per name)."""
        name = crd["metadata"]["name"]
        while name in self._busy:
            self._again.add(name)
            await self._busy[name]
        d: Deferred[None] = Deferred()
        self._busy[name] = d
        try:
            try:
                current = await self._store().get("", name)
            except StatusError as e:
                if e.code == 404:
                    self.unserve(name)
                    return
                raise
            if current["metadata"].get("deletionTimestamp"):
                await self._terminate(current)
            else:
                await self._establish(current)
                latest = self.served.get(name)
                if latest is not None:
                    self._done_rv[name] = max(self._done_rv.get(name, 0), self._last_rv)
        finally:
            del self._busy[name]
            d.callback(None)

    def _conflicts(self, crd: Obj) -> tuple[str, str] | None:
        """(reason, message) when another CRD of the group already took one of these names."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        me = crd["metadata"]["name"]
        for other_name, defs in self.served.items():
            if other_name == me or not defs or defs[0].group != spec.get("group"):
                continue
            o = defs[0]
            if names.get("plural") == o.plural:
                return "PluralConflict", f'"{o.plural}" is already in use'
            if names.get("singular") and names.get("singular") in (o.singular, o.plural):
                return "SingularConflict", f'"{names["singular"]}" is already in use'
            taken = set(o.short_names) | {o.plural, o.singular}
            for sn in names.get("shortNames") or []:
                if sn in taken:
                    return "ShortNamesConflict", f'"{sn}" is already in use'
            if names.get("kind") == o.kind:
                return "KindConflict", f'"{o.kind}" is already in use'
        return None

    async def _write_status(self, crd: Obj, status: Obj) -> Obj:
        if status == crd.get("status"):
            return crd
        new = meta.deepcopy(crd)
        new["status"] = status
        try:
            out, _ = await self._store().update("", crd["metadata"]["name"], new, WriteOptions(), "status")
        except StatusError as e:
            if e.code in (404, 409):
                return crd  # changed meanwhile: its own reconcile follows
            raise
        return out  # type: ignore[no-any-return]

    async def _establish(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        status = meta.deepcopy(crd.get("status") or {})
        conflict = self._conflicts(crd)
        if conflict is not None:
            _set_condition(status, "NamesAccepted", "False", conflict[0], conflict[1])
            if not condition(crd, "Established"):
                _set_condition(status, "Established", "False", "NotAccepted", "not all names are accepted")
            await self._write_status(crd, status)
            return
        names = meta.deepcopy((crd.get("spec") or {}).get("names") or {})
        status["acceptedNames"] = names
        _set_condition(status, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
        _set_condition(status, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted")
        crd = await self._write_status(crd, status)
        self._last_rv = int(crd["metadata"].get("resourceVersion") or 0)
        self.serve(crd)
        log.debug("crd {name} established", name=name)

    # -- serving --------------------------------------------------------------------------

    def serve(self, crd: Obj, terminating: bool = False) -> None:
        name = crd["metadata"]["name"]
        defs = custom.build(crd)
        if terminating:
            import dataclasses

            defs = [dataclasses.replace(d, terminating=True) for d in defs]
        old = self.served.get(name, [])
        for d in old:
            self.server.catalog.remove(d.group, d.version, d.plural)
            self.server.forget_store(d.group, d.version, d.plural)
        for d in defs:
            self.server.catalog.add(d)
        self.served[name] = defs
        kept = {(d.group, d.plural) for d in defs}
        if old and (old[0].group, old[0].plural) not in kept:
            self._end_watches(old[0].crd_uid)

    def unserve(self, name: str) -> None:
        self._done_rv.pop(name, None)
        defs = self.served.pop(name, [])
        for d in defs:
            self.server.catalog.remove(d.group, d.version, d.plural)
            self.server.forget_store(d.group, d.version, d.plural)
        if defs:
            self._end_watches(defs[0].crd_uid)

    def track_watch(self, crd_uid: str, stream: Any) -> None:
        self.watchers.setdefault(crd_uid, weakref.WeakSet()).add(stream)

    def _end_watches(self, crd_uid: str) -> None:
        from kubeapi.server.watchstream import end_all

        streams = self.watchers.pop(crd_uid, None)
        if streams:
            end_all(set(streams), "crd-removed")

    # -- deletion -------------------------------------------------------------------------

    async def _terminate(self, crd: Obj) -> None:
        """Delete every object of the CRD, then let the CRD go."""
        name = crd["metadata"]["name"]
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return
        if name in self.served or condition(crd, "Established"):
            self.serve(crd, terminating=True)  # list/get/delete still work; create is refused
        status = meta.deepcopy(crd.get("status") or {})
        _set_condition(status, "Terminating", "True", "InstanceDeletionInProgress", "CustomResource deletion is "
                                                                                    "in progress")
        crd = await self._write_status(crd, status)
        for delay in RETRY + (None,):
            left = await self._delete_instances(crd)
            if not left:
                break
            if delay is None:
                status = meta.deepcopy(crd.get("status") or {})
                _set_condition(status, "Terminating", "True", "InstanceDeletionCheck",
                               f"could not confirm zero CustomResources remaining: {left} remaining")
                await self._write_status(crd, status)
                self.reactor.callLater(self.resync, self._retry, name)
                return
            await deferLater(self.reactor, delay, lambda: None)
        status = meta.deepcopy(crd.get("status") or {})
        _set_condition(status, "Terminating", "True", "InstanceDeletionCompleted", "removed all instances")
        crd = await self._write_status(crd, status)
        self.unserve(name)
        new = meta.deepcopy(crd)
        new["metadata"]["finalizers"] = [f for f in crd["metadata"].get("finalizers") or []
                                         if f != CLEANUP_FINALIZER]
        try:
            await self._store().update("", name, new, WriteOptions())
        except StatusError as e:
            if e.code not in (404, 409):
                raise
            if e.code == 409:
                self._retry(name)

    def _retry(self, name: str) -> None:
        async def again() -> None:
            try:
                crd = await self._store().get("", name)
            except StatusError:
                return
            await self.reconcile(crd)

        Deferred.fromCoroutine(again()).addErrback(lambda f: log.warn("crd {n}: {e}", n=name,
                                                                       e=f.getErrorMessage()))

    async def _delete_instances(self, crd: Obj) -> int:
        """Delete what is stored of the CRD's kind; returns how many objects remain."""
        defs = self.served.get(crd["metadata"]["name"]) or custom.build(crd)
        if not defs:
            return 0
        import dataclasses

        at_rest = dataclasses.replace(defs[0].at_rest or defs[0], terminating=False)
        store = custom.CustomResourceStore(at_rest, self.server.storage, self.server.hook_context,
                                           prefix=self.server.prefix)
        listed = await store.list("", ListOptions())
        for item in listed["items"]:
            m = item["metadata"]
            if m.get("deletionTimestamp"):
                continue
            try:
                await store.delete(m.get("namespace", ""), m["name"], DeleteOptions())
            except StatusError as e:
                if e.code != 404:
                    raise
        listed = await store.list("", ListOptions())
        return len(listed["items"])
