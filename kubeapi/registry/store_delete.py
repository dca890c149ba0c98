"""DELETE of the generic store: preconditions, propagation finalizers, graceful pod
deletion, namespace termination and deletecollection.
"""

from __future__ import annotations

from kubeapi import errors
from kubeapi.registry import meta
from kubeapi.registry.options import DeleteOptions, ListOptions
from kubeapi.registry.store_base import MAX_UPDATE_ATTEMPTS, NAMESPACE_PURGE, Obj, _Retry
from kubeapi.registry.store_write import WriteStore
from kubeapi.storage.interface import (
    KeyValue,
)

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
# Upstream strategies whose DefaultGarbageCollectionPolicy is not DeleteDependents
# (Background): v1 ReplicationControllers and batch/v1 Jobs orphan for compatibility;
# Events take no part in garbage collection.
DEFAULT_GC_POLICIES = {
    ("", "v1", "replicationcontrollers"): "Orphan",
    ("batch", "v1", "jobs"): "Orphan",
    ("", "v1", "events"): "Unsupported",
    ("events.k8s.io", "v1", "events"): "Unsupported",
}


class DeleteStore(WriteStore):
    # ------------------------------------------------------------------ delete

    async def delete(self, namespace: str, name: str, opts: DeleteOptions) -> tuple[Obj, bool]:
        key = self._key(namespace, name)
        for _ in range(MAX_UPDATE_ATTEMPTS):
            kv = await self._get_kv(key)
            if kv is None:
                raise self._not_found(name)
            obj = self._decode(kv)
            self._check_preconditions(name, obj, opts)
            attrs = self._attrs("DELETE", namespace, name, None, obj, "", opts.user, opts.dry_run)
            await self.admission.admit(attrs)
            await self.admission.validate(attrs)
            try:
                return await self._delete_once(namespace, name, obj, kv, opts)
            except _Retry:
                continue
        raise self._conflict(name)

    def _check_preconditions(self, name: str, obj: Obj, opts: DeleteOptions) -> None:
        m = obj.get("metadata") or {}
        if opts.precondition_uid is not None and opts.precondition_uid != m.get("uid", ""):
            raise self._kind_conflict(name, f"the UID in the precondition ({opts.precondition_uid}) does not match "
                                       f"the UID in record ({m.get('uid', '')}). The object might have "
                                       f"been deleted and then recreated")
        if opts.precondition_resource_version is not None and \
                opts.precondition_resource_version != m.get("resourceVersion", ""):
            raise self._kind_conflict(name, f"the ResourceVersion in the precondition "
                                       f"({opts.precondition_resource_version}) does not match the "
                                       f"ResourceVersion in record ({m.get('resourceVersion', '')}). The "
                                       f"object might have been modified")

    def _kind_conflict(self, name: str, why: str) -> errors.StatusError:
        """Precondition failures name the kind, not the resource, as upstream's BeforeDelete."""
        return errors.conflict(self.rdef.kind, self.rdef.group, name, why)

    def _default_gc_policy(self) -> str:
        r = self.rdef
        own = getattr(r, "default_gc_policy", None)
        if own:
            return str(own)
        return DEFAULT_GC_POLICIES.get((r.group, r.version, r.plural), "Background")

    def _gc_finalizers(self, finalizers: list[str], policy: str | None) -> list[str]:
        """The propagation policy as the garbage collector's finalizers (``orphan``,
        ``foregroundDeletion``): the request's policy, else what the object's finalizers
        already say, else the kind's default; kinds the collector ignores get neither."""
        default = self._default_gc_policy()
        out = [f for f in finalizers if f not in (ORPHAN, FOREGROUND)]
        if default == "Unsupported":
            return out
        if policy is None:
            first = next((f for f in finalizers if f in (ORPHAN, FOREGROUND)), None)
            orphan = first == ORPHAN if first else default == "Orphan"
            foreground = first == FOREGROUND
        else:
            orphan, foreground = policy == "Orphan", policy == "Foreground"
        if orphan:
            out.append(ORPHAN)
        if foreground:
            out.append(FOREGROUND)
        if set(out) == set(finalizers):
            return list(finalizers)
        return out

    def _pod_grace(self, obj: Obj, opts: DeleteOptions) -> int:
        """Pods: the kubelet finishes the deletion, so only scheduled, running pods wait."""
        if opts.grace_period_seconds is not None:
            period = max(opts.grace_period_seconds, 0) if opts.grace_period_seconds >= 0 else 1
        else:
            period = int((obj.get("spec") or {}).get("terminationGracePeriodSeconds") or 0)
        if not (obj.get("spec") or {}).get("nodeName"):
            period = 0
        if (obj.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
            period = 0
        return period

    async def _delete_once(self, namespace: str, name: str, obj: Obj, kv: KeyValue,
                           opts: DeleteOptions) -> tuple[Obj, bool]:
        m = obj.get("metadata") or {}
        conditional = opts.precondition_resource_version is not None
        if self._is_namespace:
            spec_fins = (obj.get("spec") or {}).get("finalizers") or []
            if not m.get("deletionTimestamp"):
                if spec_fins or m.get("finalizers") or opts.propagation_policy in ("Orphan", "Foreground"):
                    new = meta.deepcopy(obj)
                    nm = meta.meta(new)
                    nm["deletionTimestamp"] = meta.now_rfc3339()
                    new.setdefault("status", {})["phase"] = "Terminating"
                    fins = self._gc_finalizers(list(nm.get("finalizers") or []), opts.propagation_policy)
                    if fins:
                        nm["finalizers"] = fins
                    else:
                        nm.pop("finalizers", None)
                    return await self._write_deleting(name, new, kv, opts.dry_run, conditional), False
            elif spec_fins:
                raise self._conflict(name, NAMESPACE_PURGE)
        fins = list(m.get("finalizers") or [])
        new_fins = self._gc_finalizers(fins, opts.propagation_policy)
        if m.get("deletionTimestamp"):
            grace_now = m.get("deletionGracePeriodSeconds")
            if self._is_pod and grace_now and opts.grace_period_seconds is not None:
                period = max(opts.grace_period_seconds, 0)
                if period < grace_now:
                    new = meta.deepcopy(obj)
                    nm = meta.meta(new)
                    ts = meta.parse_rfc3339(nm["deletionTimestamp"]).timestamp() - grace_now + period
                    nm["deletionTimestamp"] = meta.format_rfc3339(ts)
                    nm["deletionGracePeriodSeconds"] = period
                    if period == 0 and not fins:
                        return await self._delete_now(namespace, name, obj, kv, opts.dry_run, conditional), True
                    return await self._write_deleting(name, new, kv, opts.dry_run, conditional), False
            if grace_now or fins:
                # Deletion already under way: nothing changes until the kubelet or the
                # finalizers' owners finish it.
                return (obj if fins or self.rdef.return_deleted_object else self._success(obj)), False
            return await self._delete_now(namespace, name, obj, kv, opts.dry_run, conditional), True
        period = self._pod_grace(obj, opts) if self._is_pod else 0
        if period > 0 or new_fins:
            new = meta.deepcopy(obj)
            nm = meta.meta(new)
            if new_fins:
                nm["finalizers"] = new_fins
            else:
                nm.pop("finalizers", None)
            if period > 0:
                nm["deletionTimestamp"] = meta.rfc3339_plus(period)
                nm["deletionGracePeriodSeconds"] = period
            else:
                nm["deletionTimestamp"] = meta.now_rfc3339()
                nm["deletionGracePeriodSeconds"] = 0
            if nm.get("generation"):
                nm["generation"] = int(nm["generation"]) + 1
            return await self._write_deleting(name, new, kv, opts.dry_run, conditional), False
        return await self._delete_now(namespace, name, obj, kv, opts.dry_run, conditional), True


    async def _write_deleting(self, name: str, new: Obj, kv: KeyValue, dry_run: bool,
                              conditional: bool) -> Obj:
        """Mark an object as being deleted (deletionTimestamp, finalizers) and keep it."""
        if dry_run:
            return new
        return await self._write_at_revision(name, new, kv, conditional)


    async def delete_collection(self, namespace: str, list_opts: ListOptions,
                                opts: DeleteOptions) -> Obj:
        listed = await self.list(namespace, ListOptions(
            label_selector=list_opts.label_selector, field_selector=list_opts.field_selector,
            resource_version=list_opts.resource_version,
            resource_version_match=list_opts.resource_version_match))
        for item in listed["items"]:
            m = item.get("metadata") or {}
            try:
                await self.delete(m.get("namespace") or namespace, m.get("name", ""), opts)
            except errors.StatusError as e:
                if e.code != 404:
                    raise
        return listed

