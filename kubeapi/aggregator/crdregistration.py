"""Local APIServices for CustomResourceDefinition groups, as upstream's crdregistration and
autoregister controllers keep them: one per served group/version, ``groupPriorityMinimum``
1000 and ``versionPriority`` 100, labelled ``kube-aggregator.kubernetes.io/automanaged:
"true"``, deleted when no CRD serves that version any more.  Driven by an informer on CRDs.
"""

from __future__ import annotations

import logging
from typing import Any

from twisted.internet import defer

from kubeapi.auth.informer import Informer
from kubeapi.errors import StatusError
from kubeapi.registry.options import DeleteOptions, ListOptions, WriteOptions

log = logging.getLogger(__name__)

Obj = dict[str, Any]
LABEL = "kube-aggregator.kubernetes.io/automanaged"
GROUP_PRIORITY, VERSION_PRIORITY = 1000, 100
_REG = ("apiregistration.k8s.io", "v1", "apiservices")


def served_group_versions(crds: list[Obj]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for crd in crds:
        s = crd.get("spec") or {}
        for v in s.get("versions") or []:
            if v.get("served"):
                out.add((str(s.get("group", "")), str(v.get("name", ""))))
    return out


def apiservice_for(group: str, version: str) -> Obj:
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"{version}.{group}", "labels": {LABEL: "true"}},
            "spec": {"group": group, "version": version, "groupPriorityMinimum": GROUP_PRIORITY,
                     "versionPriority": VERSION_PRIORITY}}


class CRDRegistration:
    """See the module docstring."""

    def __init__(self, server: Any, reactor: Any) -> None:
        self.server = server
        rdef = server.catalog.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        self._informer = Informer(server.storage, rdef.key_prefix(server.prefix), self._changed,
                                  self._changed, reactor)
        self._busy = False
        self._again = False
        self._started = False

    async def start(self) -> None:
        await self._informer.start()
        self._started = True
        self._kick()

    def stop(self) -> None:
        self._started = False
        self._informer.stop()

    def _changed(self, key: str, obj: Obj) -> None:
        if self._started:
            self._kick()

    def _kick(self) -> None:
        if self._busy:
            self._again = True
            return
        self._busy = True
        d = defer.ensureDeferred(self._run())
        d.addErrback(lambda f: log.warning("CRD APIService registration failed: %s", f.getErrorMessage()))

    async def _run(self) -> None:
        try:
            while True:
                self._again = False
                await self.reconcile()
                if not self._again or not self._started:
                    break
        finally:
            self._busy = False

    async def reconcile(self) -> None:
        wanted = served_group_versions(list(self._informer.objects.values()))
        store = self.server.store(*_REG)
        listed = await store.list("", ListOptions(label_selector=f"{LABEL}=true"))
        have = {(str((s.get("spec") or {}).get("group", "")), str((s.get("spec") or {}).get("version", ""))): s
                for s in listed.get("items") or []}
        for gv in sorted(wanted - set(have)):
            if gv[0] in _builtin_groups():
                continue  # a CRD may not take a built-in group's place
            try:
                await store.create("", apiservice_for(*gv), WriteOptions())
            except StatusError as e:
                if e.code != 409:
                    raise
        for gv, svc in have.items():
            if gv not in wanted:
                try:
                    await store.delete("", svc["metadata"]["name"], DeleteOptions())
                except StatusError as e:
                    if e.code != 404:
                        raise


def _builtin_groups() -> set[str]:
    from kubeapi.api import generated

    return {g for g, _ in generated.group_versions()}
