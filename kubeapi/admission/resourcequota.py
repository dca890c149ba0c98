"""ResourceQuota: the API server is the entry of quota control.  Every create (and update that
grows usage) of a tracked object is charged against each matching quota of its namespace by a
compare-and-swap of the quota's ``status.used``; charges in one namespace are serialized, and a
CAS lost to another writer is retried on a fresh read, so concurrent creates never exceed a
quota.  With no quota controller here, a quota whose ``status.hard`` lags its ``spec.hard`` (new
or edited) has its usage counted from storage before the first charge, and deletes of tracked
objects schedule a recount of their namespace."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.internet import defer

from kubeapi import errors
from kubeapi.admission.interface import Attributes
from kubeapi.admission.quantity import Quantity, parse
from kubeapi.admission.reads import cached_list
from kubeapi.registry.codec import decode_stored, encode_stored
from kubeapi.storage.interface import ConflictError, Storage

Obj = dict[str, Any]
Usage = dict[str, Quantity]
MAX_CAS_ATTEMPTS = 20
# Core kinds with a legacy short quota name besides count/<plural>.
_LEGACY_COUNTS = {"pods", "services", "configmaps", "secrets", "persistentvolumeclaims",
                  "replicationcontrollers", "resourcequotas"}
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
_POD_SCOPED = {"Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
               "CrossNamespacePodAffinity"}


def _one() -> Quantity:
    return Quantity(1)


def _resources(c: Obj, part: str) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    for k, v in ((c.get("resources") or {}).get(part) or {}).items():
        try:
            out[k] = parse(v)
        except ValueError:
            continue
    return out


def _pod_totals(pod: Obj, part: str) -> dict[str, Quantity]:
    """Containers summed, init containers as a floor (sidecars add), overhead on top."""
    spec = pod.get("spec") or {}
    total: dict[str, Quantity] = {}
    for c in spec.get("containers") or []:
        for k, q in _resources(c, part).items():
            total[k] = total[k] + q if k in total else q
    sidecars: dict[str, Quantity] = {}
    for c in spec.get("initContainers") or []:
        res = _resources(c, part)
        if c.get("restartPolicy") == "Always":
            for k, q in res.items():
                sidecars[k] = sidecars[k] + q if k in sidecars else q
            continue
        for k, q in res.items():
            floor = q + sidecars[k] if k in sidecars else q
            if k not in total or floor.value > total[k].value:
                total[k] = floor
    for k, q in sidecars.items():
        total[k] = total[k] + q if k in total else q
    for k, v in (spec.get("overhead") or {}).items():
        try:
            q = parse(v)
        except ValueError:
            continue
        total[k] = total[k] + q if k in total else q
    return total


def _compute_usage(requests: dict[str, Quantity], limits: dict[str, Quantity]) -> Usage:
    u: Usage = {"pods": _one()}
    for r in _COMPUTE:
        if r in requests:
            u[r] = requests[r]
            u[f"requests.{r}"] = requests[r]
        if r in limits:
            u[f"limits.{r}"] = limits[r]
    for k, q in requests.items():
        if k.startswith("hugepages-"):
            u[k] = q
            u[f"requests.{k}"] = q
        elif "/" in k and not k.startswith("kubernetes.io/"):
            u[f"requests.{k}"] = q
    return u


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def count_name(attrs: Attributes) -> str:
    r = attrs.resource
    return f"count/{r.plural}" + (f".{r.group}" if r.group else "")


def usage(attrs: Attributes, obj: Obj) -> Usage:
    """What one object charges, under every name a quota may track it by."""
    r = attrs.resource
    u: Usage = {count_name(attrs): _one()}
    if r.group != "":
        return u
    if r.plural in _LEGACY_COUNTS and r.plural != "pods":
        u[r.plural] = _one()
    if r.plural == "pods" and not _terminal(obj) and not (obj.get("metadata") or {}).get("deletionTimestamp"):
        u.update(_compute_usage(_pod_totals(obj, "requests"), _pod_totals(obj, "limits")))
    elif r.plural == "services":
        spec = obj.get("spec") or {}
        ports = len(spec.get("ports") or [])
        if spec.get("type") == "LoadBalancer":
            u["services.loadbalancers"] = _one()
            u["services.nodeports"] = Quantity(ports)
        elif spec.get("type") == "NodePort":
            u["services.nodeports"] = Quantity(ports)
        else:
            u["services.nodeports"] = Quantity(0)
            u["services.loadbalancers"] = Quantity(0)
        u.setdefault("services.loadbalancers", Quantity(0))
    elif r.plural == "persistentvolumeclaims":
        req = ((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}
        if "storage" in req:
            try:
                q = parse(req["storage"])
                u["requests.storage"] = q
                sc = (obj.get("spec") or {}).get("storageClassName")
                if sc:
                    u[f"{sc}.storageclass.storage.k8s.io/requests.storage"] = q
                    u[f"{sc}.storageclass.storage.k8s.io/persistentvolumeclaims"] = _one()
            except ValueError:
                pass
    return u


def _best_effort(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            if any(k in ("cpu", "memory") for k in (res.get(part) or {})):
                return False
    return True


def _scope_matches(scope: str, op: str, values: list[str], pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    if scope == "Terminating":
        ads = spec.get("activeDeadlineSeconds")
        return isinstance(ads, int) and ads >= 0
    if scope == "NotTerminating":
        return not _scope_matches("Terminating", op, values, pod)
    if scope == "BestEffort":
        return _best_effort(pod)
    if scope == "NotBestEffort":
        return not _best_effort(pod)
    if scope == "PriorityClass":
        pc = spec.get("priorityClassName") or ""
        if op == "Exists":
            return bool(pc)
        if op == "DoesNotExist":
            return not pc
        if op == "In":
            return bool(pc) and pc in values
        if op == "NotIn":
            return not pc or pc not in values
    return False


def _selectors(q: Obj) -> list[tuple[str, str, list[str]]]:
    spec = q.get("spec") or {}
    out: list[tuple[str, str, list[str]]] = [(s, "Exists", []) for s in spec.get("scopes") or []]
    for e in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        out.append((e.get("scopeName", ""), e.get("operator", ""), list(e.get("values") or [])))
    return out


def quota_matches(q: Obj, attrs: Attributes, obj: Obj) -> bool:
    sels = _selectors(q)
    if not sels:
        return True
    is_pod = attrs.resource.group == "" and attrs.resource.plural == "pods"
    if not is_pod:
        return not any(s in _POD_SCOPED for s, _, _ in sels)
    return all(_scope_matches(s, op, vals, obj) for s, op, vals in sels)


def matching_resources(hard: Iterable[str], u_names: set[str], attrs: Attributes) -> list[str]:
    names = set(u_names)
    if attrs.resource.group == "" and attrs.resource.plural == "pods":
        names |= {"pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
                  "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage"}
        return sorted(h for h in hard if h in names or h.startswith(("requests.hugepages-", "hugepages-"))
                      or (h.startswith("requests.") and "/" in h))
    return sorted(h for h in hard if h in names)


def pod_constraints(required: list[str], pod: Obj) -> str | None:
    """Every container must state what a quota counts (cpu and memory only, as upstream)."""
    need = set(required) & {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
    if not need:
        return None
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    if (spec.get("resources") or {}).get("requests") or (spec.get("resources") or {}).get("limits"):
        return None  # pod-level resources
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        have = set(_compute_usage(_resources(c, "requests"), _resources(c, "limits")))
        for r in need - have:
            missing.setdefault(r, set()).add(c.get("name", ""))
    if not missing:
        return None
    return "must specify " + "; ".join(f"{r} for: {','.join(sorted(missing[r]))}" for r in sorted(missing))


def pretty(u: Usage, names: Iterable[str]) -> str:
    return ",".join(f"{k}={u.get(k, Quantity(0))}" for k in sorted(names))


def _hard(q: Obj) -> Usage:
    return _parsed((q.get("spec") or {}).get("hard") or {})


def _parsed(items: dict[str, Any]) -> Usage:
    out: Usage = {}
    for k, v in items.items():
        try:
            out[k] = parse(v)
        except ValueError:
            continue
    return out


class ResourceQuota:
    name = "ResourceQuota"

    def __init__(self, storage: Storage, prefix: str = "/registry", media_type: str = "application/json",
                 clock: Any = None, config: dict[str, Any] | None = None) -> None:
        # ResourceQuotaConfiguration.limitedResources: names that may only be consumed under a quota.
        self._limited = [lr for lr in (config or {}).get("limitedResources") or [] if isinstance(lr, dict)]
        self._storage = storage
        self._prefix = prefix.rstrip("/")
        self._media_type = media_type
        self._locks: dict[str, defer.DeferredLock] = {}
        self._dirty: set[tuple[str, str, str]] = set()  # (namespace, group, plural) with deletes since
        self._clock = clock

    async def admit(self, attrs: Attributes) -> None:
        return None

    def _lock(self, namespace: str) -> defer.DeferredLock:
        lock = self._locks.get(namespace)
        if lock is None:
            lock = self._locks[namespace] = defer.DeferredLock()
        return lock

    async def validate(self, attrs: Attributes) -> None:
        if not attrs.namespace or attrs.subresource not in ("", "resize"):
            return
        if attrs.operation == "DELETE":
            self._schedule_recount(attrs)
            return
        if attrs.operation not in ("CREATE", "UPDATE") or attrs.object is None:
            return
        lock = self._lock(attrs.namespace)
        await lock.acquire()
        try:
            for attempt in range(MAX_CAS_ATTEMPTS):
                try:
                    await self._charge(attrs, live=attempt > 0)  # after a conflict, ask storage
                    self._dirty.discard((attrs.namespace, attrs.resource.group, attrs.resource.plural))
                    return
                except ConflictError:
                    continue
            raise errors.internal_error("resource quota evaluation timed out")
        finally:
            lock.release()

    async def _quotas(self, namespace: str, live: bool) -> list[tuple[Any, Obj]]:
        """The namespace's quotas; from the watch cache unless ``live`` (a stale copy only
        costs a conflict on the status write, and the retry reads storage)."""
        prefix = f"{self._prefix}/resourcequotas/{namespace}/"
        res = await (self._storage.list(prefix) if live else cached_list(self._storage, prefix))
        return [(kv, decode_stored(kv.value)) for kv in res.items]

    async def _charge(self, attrs: Attributes, live: bool = True) -> None:
        obj = attrs.object or {}
        quotas = await self._quotas(attrs.namespace, live)
        limited = self._limited_names(attrs, obj)
        if not quotas and not limited:
            return
        new_usage = usage(attrs, obj)
        covered: set[str] = set()
        delta = dict(new_usage)
        old = attrs.old_object
        if attrs.operation == "UPDATE" and old is not None and (old.get("metadata") or {}).get("resourceVersion"):
            prev = usage(attrs, old)
            delta = {k: (q - prev[k]) if k in prev else q for k, q in new_usage.items()}
            delta = {k: q if q.value > 0 else Quantity(0, q.fmt) for k, q in delta.items()}
        writes: list[tuple[Any, Obj]] = []
        pending: list[tuple[Any, Obj, Usage, Usage, list[str]]] = []
        for kv, q in quotas:
            if not quota_matches(q, attrs, obj):
                continue
            hard = _hard(q)
            restricted = matching_resources(hard, set(new_usage), attrs)
            if not restricted:
                continue
            covered.update(restricted)
            if attrs.resource.group == "" and attrs.resource.plural == "pods":
                msg = pod_constraints(restricted, obj)
                if msg:
                    raise self._forbidden(attrs, f"failed quota: {q['metadata']['name']}: {msg}")
            used = await self._used(q, attrs, hard)
            pending.append((kv, q, hard, used, restricted))
        missing = sorted(limited - covered)
        if missing and any(delta.get(k, Quantity(0)).value for k in missing):
            raise self._forbidden(attrs, f"insufficient quota to consume: {','.join(missing)}")
        for kv, q, hard, used, restricted in pending:
            requested = {k: delta[k] for k in restricted if k in delta and delta[k].value != 0}
            if not requested:
                continue
            total = {k: (used[k] + v) if k in used else v for k, v in requested.items()}
            exceeded = sorted(k for k, v in total.items() if v.value > hard[k].value)
            if exceeded and attrs.subresource != "status":
                raise self._forbidden(attrs, (
                    f"exceeded quota: {q['metadata']['name']}, requested: {pretty(requested, exceeded)}, "
                    f"used: {pretty(used, exceeded)}, limited: {pretty(hard, exceeded)}"))
            used.update(total)
            writes.append((kv, self._with_status(q, hard, used)))
        if attrs.dry_run:
            return
        for kv, q in writes:
            await self._storage.update(kv.key, encode_stored(q, self._media_type), kv.mod_revision)

    def _limited_names(self, attrs: Attributes, obj: Obj) -> set[str]:
        out: set[str] = set()
        r = attrs.resource
        resource = r.plural + (f".{r.group}" if r.group else "")
        for lr in self._limited:
            if lr.get("resource") != resource or (lr.get("apiGroup") or "") not in ("", r.group):
                continue
            for name in usage(attrs, obj):
                if any(m in name for m in lr.get("matchContains") or []):
                    out.add(name)
        return out

    @staticmethod
    def _forbidden(attrs: Attributes, why: str) -> errors.StatusError:
        meta = (attrs.object or {}).get("metadata") or {}
        name = attrs.name or meta.get("name") or meta.get("generateName") or ""
        return errors.forbidden(attrs.resource.plural, attrs.resource.group, name, why)

    @staticmethod
    def _with_status(q: Obj, hard: Usage, used: Usage) -> Obj:
        out = dict(q)
        out["status"] = {"hard": {k: str(v) for k, v in sorted(hard.items())},
                         "used": {k: str(used[k]) for k in sorted(hard) if k in used}}
        return out

    async def _used(self, q: Obj, attrs: Attributes, hard: Usage) -> Usage:
        """The quota's recorded usage; counted from storage when the status lags the spec."""
        status = q.get("status") or {}
        recorded = _parsed(status.get("used") or {})
        stale = _parsed(status.get("hard") or {}) != hard
        r = attrs.resource
        if (attrs.namespace, r.group, r.plural) in self._dirty:
            stale = True
        mine = matching_resources(hard, set(usage(attrs, attrs.object or {})), attrs)
        if stale or any(k not in recorded for k in mine):
            counted = await self._count(q, attrs, mine)
            recorded.update(counted)
        return recorded

    async def _count(self, q: Obj, attrs: Attributes, names: list[str]) -> Usage:
        total: Usage = {k: Quantity(0) for k in names}
        res = await self._storage.list(attrs.resource.key_prefix(self._prefix, attrs.namespace))
        me = (attrs.old_object or {}).get("metadata", {}).get("name") if attrs.operation == "UPDATE" else None
        for kv in res.items:
            o = decode_stored(kv.value)
            if me is not None and (o.get("metadata") or {}).get("name") == me:
                continue  # the object being updated is charged by its delta against the old one
            if not quota_matches(q, attrs, o):
                continue
            for k, v in usage(attrs, o).items():
                if k in total:
                    total[k] = Quantity(total[k].value + v.value, v.fmt)
        if me is not None and attrs.old_object is not None:
            for k, v in usage(attrs, attrs.old_object).items():
                if k in total:
                    total[k] = Quantity(total[k].value + v.value, v.fmt)
        return total

    def _schedule_recount(self, attrs: Attributes) -> None:
        """A delete frees usage once committed: the next charge of that resource in the namespace
        recounts from storage, and with a clock the recount also runs shortly after."""
        r = attrs.resource
        self._dirty.add((attrs.namespace, r.group, r.plural))
        if self._clock is None:
            return
        probe = Attributes(resource=r, subresource="", operation="CREATE", namespace=attrs.namespace, name="",
                           object={}, old_object=None, user=None, dry_run=False)
        self._clock.callLater(0.2, lambda: defer.ensureDeferred(self.recount(probe)).addErrback(lambda f: None))

    async def recount(self, attrs: Attributes) -> None:
        """Recount usage of attrs.resource's names in every quota of the namespace (after deletes)."""
        lock = self._lock(attrs.namespace)
        await lock.acquire()
        try:
            for _ in range(MAX_CAS_ATTEMPTS):
                try:
                    for kv, q in await self._quotas(attrs.namespace, live=True):
                        hard = _hard(q)
                        names = matching_resources(hard, set(usage(attrs, {})), attrs)
                        if not names:
                            continue
                        used = _parsed((q.get("status") or {}).get("used") or {})
                        used.update(await self._count(q, attrs, names))
                        await self._storage.update(kv.key, encode_stored(self._with_status(q, hard, used),
                                                                         self._media_type), kv.mod_revision)
                    self._dirty.discard((attrs.namespace, attrs.resource.group, attrs.resource.plural))
                    return
                except ConflictError:
                    continue
        finally:
            lock.release()
