"""The CRD store: the generic store, except that deleting a CRD first marks it Terminating
with the ``customresourcecleanup.apiextensions.k8s.io`` finalizer (its objects go first), and
that every write has the CRD controller reconcile before the answer goes out."""

from __future__ import annotations

from typing import Any

from kubeapi import errors
from kubeapi.apiextensions.crd import CLEANUP_FINALIZER
from kubeapi.registry import meta
from kubeapi.registry.options import DeleteOptions, WriteOptions
from kubeapi.registry.store import ResourceStore
from kubeapi.registry.store_base import MAX_UPDATE_ATTEMPTS, _Retry

Obj = dict[str, Any]
PENDING = "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"


class CRDStore(ResourceStore):
    controller: Any = None

    async def _reconcile(self, obj: Obj, wait: bool = True) -> None:
        if self.controller is None or obj.get("kind") != "CustomResourceDefinition":
            return
        m = meta.meta(obj)
        if m.get("deletionTimestamp") and not m.get("finalizers"):
            # the write that removed the last finalizer: the CRD is gone, and the controller
            # (which made this write from inside its own reconcile) must not wait on itself
            return
        from twisted.internet.defer import Deferred

        d = Deferred.fromCoroutine(self.controller.reconcile(obj))
        if wait:
            try:
                await d
            except errors.StatusError:
                pass
        else:
            d.addErrback(lambda _f: None)

    async def create(self, namespace: str, obj: Obj, opts: WriteOptions, subresource: str = "", *,
                     track: bool = True) -> Obj:
        out = await super().create(namespace, obj, opts, subresource, track=track)
        if not opts.dry_run:
            await self._reconcile(out)
            try:
                return await self.get(namespace, out["metadata"]["name"])
            except errors.StatusError:
                return out
        return out

    async def update(self, namespace: str, name: str, obj: Obj, opts: WriteOptions,
                     subresource: str = "") -> tuple[Obj, bool]:
        out, created = await super().update(namespace, name, obj, opts, subresource)
        if not opts.dry_run and self.controller is not None and subresource == "":
            await self._reconcile(out)
        return out, created

    async def patch(self, namespace: str, name: str, patch_type: str, patch: bytes,
                    opts: WriteOptions, subresource: str = "") -> tuple[Obj, bool]:
        out, created = await super().patch(namespace, name, patch_type, patch, opts, subresource)
        if not opts.dry_run and subresource == "":
            await self._reconcile(out)
        return out, created

    async def delete(self, namespace: str, name: str, opts: DeleteOptions) -> tuple[Obj, bool]:
        """Deleting a CRD marks it Terminating behind the cleanup finalizer; the controller
        removes its objects and then the CRD.  A write that lost a race with the controller's
        status updates is retried on a fresh read."""
        for _ in range(MAX_UPDATE_ATTEMPTS):
            kv = await self._get_kv(self._key(namespace, name))
            if kv is None:
                raise self._not_found(name)
            obj = self._decode(kv)
            if meta.meta(obj).get("deletionTimestamp"):
                return await super().delete(namespace, name, opts)
            self._check_preconditions(name, obj, opts)
            attrs = self._attrs("DELETE", namespace, name, None, obj, "", opts.user, opts.dry_run)
            await self.admission.admit(attrs)
            await self.admission.validate(attrs)
            new = self._terminating(obj, opts)
            if opts.dry_run:
                return new, False
            try:
                out = await self._write_at_revision(name, new, kv, opts.precondition_resource_version is not None)
            except _Retry:
                continue
            await self._reconcile(out, wait=False)
            return out, False
        raise self._conflict(name)

    def _terminating(self, obj: Obj, opts: DeleteOptions) -> Obj:
        new = meta.deepcopy(obj)
        nm = meta.meta(new)
        nm["deletionTimestamp"] = meta.now_rfc3339()
        nm["deletionGracePeriodSeconds"] = 0
        fins = list(nm.get("finalizers") or [])
        if CLEANUP_FINALIZER not in fins:
            fins.append(CLEANUP_FINALIZER)
        nm["finalizers"] = self._gc_finalizers(fins, opts.propagation_policy)
        from kubeapi.apiextensions.controller import _set_condition

        _set_condition(new.setdefault("status", {}), "Terminating", "True", "InstanceDeletionPending", PENDING)
        return new
