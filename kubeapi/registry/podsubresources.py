"""The writes controllers make through pod subresources: binding (the scheduler) and eviction
(drain, the descheduler), as upstream's pod registry does them.

Binding sets ``spec.nodeName`` once and marks the pod ``PodScheduled``; eviction checks the
PodDisruptionBudget that selects the pod (read straight from storage under
``<prefix>/poddisruptionbudgets/<namespace>/``), spends one allowed disruption and deletes
the pod, or answers 429 when the budget forbids it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubeapi import errors
from kubeapi.api.types import FieldError
from kubeapi.protobuf import canonical
from kubeapi.registry import codec, meta, selectors
from kubeapi.registry.options import DeleteOptions
from kubeapi.storage.interface import ConflictError, KeyNotFoundError, StorageError

if TYPE_CHECKING:
    from kubeapi.registry.store import ResourceStore

Obj = dict[str, Any]

MAX_ATTEMPTS = 8
MAX_DISRUPTED_PODS = 2000
BUDGET_VIOLATED = "Cannot evict pod as it would violate the pod's disruption budget."
MANY_BUDGETS = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."


def success(code: int = 201) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


def _set_condition(status: Obj, cond: Obj) -> None:
    """Upstream's UpdatePodCondition: replace the condition of that type, keeping its
    transition time when the status did not change."""
    conds = status.setdefault("conditions", [])
    now = meta.now_rfc3339()
    for i, c in enumerate(conds):
        if c.get("type") == cond["type"]:
            merged = {**cond, "lastTransitionTime": c.get("lastTransitionTime") if c.get("status") == cond["status"]
                      else now}
            conds[i] = merged
            return
    conds.append({**cond, "lastProbeTime": None, "lastTransitionTime": now})


# --- binding ---------------------------------------------------------------------------------


async def bind(pods: ResourceStore, namespace: str, url_name: str | None, binding: Obj, dry_run: bool) -> Obj:
    """POST pods/<name>/binding or bindings: assign the pod to ``target.name``."""
    if binding.get("kind") not in (None, "", "Binding"):
        raise errors.bad_request(f'{binding.get("kind")} in version "v1" cannot be handled as a Binding: '
                                 f'converting (v1.{binding.get("kind")}) to (core.Binding): unknown conversion')
    bm = binding.get("metadata") or {}
    name = str(bm.get("name") or "")
    if url_name is not None and url_name != name:
        raise errors.bad_request("name in URL does not match name in Binding object")
    if bm.get("namespace") and bm["namespace"] != namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request")
    target = binding.get("target") or {}
    problems: list[FieldError] = []
    if target.get("kind") and target["kind"] != "Node":
        problems.append(FieldError("FieldValueNotSupported", "target.kind", 'supported values: "Node", "<empty>"',
                                   target["kind"], True))
    if not target.get("name"):
        problems.append(FieldError("FieldValueRequired", "target.name"))
    if problems:
        # Upstream lets this aggregate escape as a 500; a 500 is a bug, so it is the 422 it means.
        raise errors.invalid("Binding", "", name, problems)
    if not name:
        raise errors.not_found("pods", "", "")
    key = pods._key(namespace, name)
    for _ in range(MAX_ATTEMPTS):
        kv = await pods._get_kv(key)
        if kv is None:
            raise errors.not_found("pods", "", name)
        pod = pods._decode(kv)
        m = pod["metadata"]
        if bm.get("uid") and bm["uid"] != m.get("uid"):
            raise errors.conflict("pods", "", name, f"Precondition failed: UID in precondition: {bm['uid']}, "
                                                     f"UID in object meta: {m.get('uid', '')}")
        if bm.get("resourceVersion") and bm["resourceVersion"] != m.get("resourceVersion"):
            raise errors.conflict("pods", "", name)
        spec = pod.setdefault("spec", {})
        why = None
        if m.get("deletionTimestamp"):
            why = f"pod {name} is being deleted, cannot be assigned to a host"
        elif spec.get("nodeName"):
            why = f'pod {name} is already assigned to node "{spec["nodeName"]}"'
        elif spec.get("schedulingGates"):
            why = f"pod {name} has non-empty .spec.schedulingGates"
        if why:
            raise errors.conflict("pods/binding", "", name, why)
        spec["nodeName"] = target["name"]
        status = pod.setdefault("status", {})
        status.pop("nominatedNodeName", None)  # ClearingNominatedNodeNameAfterBinding (beta, on)
        annotations = bm.get("annotations") or {}
        if annotations:
            m.setdefault("annotations", {}).update(annotations)
        _set_condition(status, {"type": "PodScheduled", "status": "True"})
        if dry_run:
            return success()
        try:
            await pods.storage.update(key, pods._encode(pod), kv.mod_revision)
        except (ConflictError, KeyNotFoundError):
            continue
        except StorageError as e:
            raise pods._storage_error(e, name) from None
        return success()
    raise errors.conflict("pods", "", name)


# --- eviction --------------------------------------------------------------------------------


def _too_many(message: str, cause: str, retry_after: int) -> errors.StatusError:
    details: Obj = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    headers = {}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return errors.StatusError(429, "TooManyRequests", message, details, headers)


def _pod_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _can_ignore_budget(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool((pod.get("metadata") or {}).get("deletionTimestamp"))


async def _budgets(pods: ResourceStore, namespace: str, pod: Obj) -> list[tuple[Any, Obj]]:
    prefix = f"{pods.prefix}/poddisruptionbudgets/{namespace}/"
    labels = (pod.get("metadata") or {}).get("labels") or {}
    out: list[tuple[Any, Obj]] = []
    try:
        kvs, _ = await pods._list_all(prefix, 0)
    except StorageError as e:
        raise pods._storage_error(e, "") from None
    for kv in kvs:
        pdb = codec.decode_stored(kv.value)
        sel = (pdb.get("spec") or {}).get("selector")
        try:
            selector = selectors.label_selector_from_object(sel)
        except errors.StatusError:
            continue
        if selector.matches(labels):
            out.append((kv, pdb))
    return out


async def _spend_disruption(pods: ResourceStore, namespace: str, pod_name: str, kv: Any, pdb: Obj,
                            dry_run: bool) -> bool:
    """Upstream's checkAndDecrement; False when the budget changed under us (re-read)."""
    name = (pdb.get("metadata") or {}).get("name", "")
    status = pdb.setdefault("status", {})
    generation = int((pdb.get("metadata") or {}).get("generation") or 0)
    if int(status.get("observedGeneration") or 0) < generation:
        raise _too_many(BUDGET_VIOLATED, f"The disruption budget {name} is still being processed by the server.", 10)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise errors.StatusError(403, "Forbidden", f'poddisruptionbudgets.policy "{name}" is forbidden: pdb '
                                 f"disruptions allowed is negative", {"name": name, "group": "policy",
                                                                      "kind": "poddisruptionbudgets"})
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise errors.StatusError(403, "Forbidden", f'poddisruptionbudgets.policy "{name}" is forbidden: '
                                 f"DisruptedPods map too big - too many evictions not confirmed by PDB controller",
                                 {"name": name, "group": "policy", "kind": "poddisruptionbudgets"})
    if allowed == 0:
        raise _too_many(BUDGET_VIOLATED, f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
                                         f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently", 0)
    status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        _set_disruption_condition(status)
    if dry_run:
        return True
    status.setdefault("disruptedPods", {})[pod_name] = meta.now_rfc3339()
    out = dict(pdb)
    out.setdefault("kind", "PodDisruptionBudget")
    out.setdefault("apiVersion", "policy/v1")
    (out.get("metadata") or {}).pop("resourceVersion", None)
    if canonical.supports("policy/v1", "PodDisruptionBudget"):
        out = canonical.canonicalize(out)
    try:
        await pods.storage.update(kv.key, codec.encode_stored(out, pods.media_type), kv.mod_revision)
    except (ConflictError, KeyNotFoundError):
        return False
    except StorageError as e:
        raise pods._storage_error(e, name) from None
    return True


def _set_disruption_condition(status: Obj) -> None:
    conds = status.setdefault("conditions", [])
    new = {"type": "DisruptionAllowed", "status": "False", "observedGeneration": status.get("observedGeneration", 0),
           "lastTransitionTime": meta.now_rfc3339(), "reason": "InsufficientPods", "message": ""}
    for i, c in enumerate(conds):
        if c.get("type") == "DisruptionAllowed":
            if c.get("status") == "False":
                new["lastTransitionTime"] = c.get("lastTransitionTime") or new["lastTransitionTime"]
            conds[i] = {**c, **new}
            return
    conds.append(new)


async def evict(pods: ResourceStore, namespace: str, name: str, eviction: Obj, dry_run: bool,
                user: Any = None) -> Obj:
    """POST pods/<name>/eviction."""
    em = eviction.get("metadata") or {}
    if em.get("name") != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    dopts = eviction.get("deleteOptions") or {}
    dry_run = dry_run or bool(dopts.get("dryRun"))
    pre = dopts.get("preconditions") or {}
    opts = DeleteOptions(dry_run=dry_run, grace_period_seconds=dopts.get("gracePeriodSeconds"),
                         propagation_policy=dopts.get("propagationPolicy"), precondition_uid=pre.get("uid"),
                         precondition_resource_version=pre.get("resourceVersion"), user=user)
    kv = await pods._get_kv(pods._key(namespace, name))
    if kv is None:
        raise errors.not_found("pods", "", name)
    pod = pods._decode(kv)
    if not _can_ignore_budget(pod):
        pdb_name = ""
        for _ in range(MAX_ATTEMPTS):
            budgets = await _budgets(pods, namespace, pod)
            if len(budgets) > 1:
                return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": MANY_BUDGETS, "code": 500}
            if not budgets:
                break
            bkv, pdb = budgets[0]
            pdb_name = (pdb.get("metadata") or {}).get("name", "")
            spec, st = pdb.get("spec") or {}, pdb.get("status") or {}
            if not _pod_ready(pod):
                if spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
                    opts.precondition_resource_version = pod["metadata"]["resourceVersion"]
                    break
                desired = int(st.get("desiredHealthy") or 0)
                if int(st.get("currentHealthy") or 0) >= desired > 0:
                    opts.precondition_resource_version = pod["metadata"]["resourceVersion"]
                    break
            if await _spend_disruption(pods, namespace, name, bkv, pdb, dry_run):
                break
        else:
            raise errors.timeout(f'couldn\'t update PodDisruptionBudget "{pdb_name}" due to conflicts', 10)
    await _mark_disruption_target(pods, namespace, name, opts)
    await pods.delete(namespace, name, opts)
    return success()


async def _mark_disruption_target(pods: ResourceStore, namespace: str, name: str, opts: DeleteOptions) -> None:
    """The DisruptionTarget condition upstream adds before deleting an evicted pod."""
    if opts.dry_run:
        return
    key = pods._key(namespace, name)
    for _ in range(MAX_ATTEMPTS):
        kv = await pods._get_kv(key)
        if kv is None:
            raise errors.not_found("pods", "", name)
        pod = pods._decode(kv)
        m = pod["metadata"]
        if opts.precondition_uid and opts.precondition_uid != m.get("uid"):
            raise errors.conflict("Pod", "", name, f"the UID in the precondition ({opts.precondition_uid}) does not "
                                  f"match the UID in record ({m.get('uid', '')}). The object might have been "
                                  f"deleted and then recreated")
        if opts.precondition_resource_version and opts.precondition_resource_version != m.get("resourceVersion"):
            raise errors.conflict("Pod", "", name, f"the ResourceVersion in the precondition "
                                  f"({opts.precondition_resource_version}) does not match the ResourceVersion in "
                                  f"record ({m.get('resourceVersion', '')}). The object might have been modified")
        _set_condition(pod.setdefault("status", {}), {"type": "DisruptionTarget", "status": "True",
                                                      "reason": "EvictionByEvictionAPI",
                                                      "message": "Eviction API: evicting"})
        try:
            kv2 = await pods.storage.update(key, pods._encode(pod), kv.mod_revision)
        except (ConflictError, KeyNotFoundError):
            continue
        except StorageError as e:
            raise pods._storage_error(e, name) from None
        if opts.precondition_resource_version:
            opts.precondition_resource_version = str(kv2.mod_revision)
        return
    raise errors.conflict("pods", "", name)
