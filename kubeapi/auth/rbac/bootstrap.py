"""Reconcile upstream's bootstrap roles and bindings at start (kube-apiserver's
``rbac/bootstrap-roles`` post-start hook), with the ``autoupdate`` annotation's meaning:

* missing objects are created;
* an existing object annotated ``rbac.authorization.kubernetes.io/autoupdate: "false"`` is
  left as it is;
* otherwise missing rules (or aggregation selectors, or binding subjects) are added,
  missing labels and annotations are added, nothing is removed; a binding whose roleRef
  differs is deleted and created again (roleRef is immutable).
"""

from __future__ import annotations

import copy
import datetime
import logging
import uuid
from typing import Any

from kubeapi.auth.rbac import bootstrap_data
from kubeapi.auth.rbac.index import RBACIndex
from kubeapi.auth.rbac.rules import covers
from kubeapi.registry.codec import decode_stored, encode_stored
from kubeapi.storage.interface import ConflictError, KeyExistsError, Storage

log = logging.getLogger(__name__)

Obj = dict[str, Any]
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fresh(expected: Obj) -> Obj:
    obj = copy.deepcopy(expected)
    meta = obj.setdefault("metadata", {})
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = _now()
    return obj


def _merge_meta(result: Obj, expected: Obj) -> None:
    meta, want = result.setdefault("metadata", {}), expected.get("metadata") or {}
    for field in ("labels", "annotations"):
        if want.get(field):
            meta[field] = {**want[field], **(meta.get(field) or {})}


def reconcile_role(existing: Obj, expected: Obj) -> Obj | None:
    """The object to write for a role or cluster role, or None when nothing changes."""
    if ((existing.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    result = copy.deepcopy(existing)
    _merge_meta(result, expected)
    want_agg = (expected.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    if want_agg:
        have = (result.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        merged = list(have) + [s for s in want_agg if s not in have]
        result["aggregationRule"] = {"clusterRoleSelectors": merged}
    _ok, missing = covers(list(result.get("rules") or []), list(expected.get("rules") or []))
    if missing:
        result["rules"] = list(result.get("rules") or []) + missing
    return None if result == existing else result


def reconcile_binding(existing: Obj, expected: Obj) -> tuple[Obj | None, bool]:
    """(object to write or None, must recreate because roleRef differs)."""
    if ((existing.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None, False
    if existing.get("roleRef") != expected.get("roleRef"):
        result = _fresh(expected)
        result["subjects"] = list(existing.get("subjects") or [])
        for s in expected.get("subjects") or []:
            if s not in result["subjects"]:
                result["subjects"].append(s)
        return result, True
    result = copy.deepcopy(existing)
    _merge_meta(result, expected)
    subjects = list(result.get("subjects") or [])
    for s in expected.get("subjects") or []:
        if s not in subjects:
            subjects.append(s)
    if subjects:
        result["subjects"] = subjects
    return (None if result == existing else result), False


async def _ensure(storage: Storage, key: str, expected: Obj, media_type: str, binding: bool) -> str:
    for _attempt in range(5):
        kv = await storage.get(key)
        if kv is None:
            try:
                await storage.create(key, encode_stored(_fresh(expected), media_type))
                return "created"
            except KeyExistsError:
                continue
        existing = decode_stored(kv.value)
        existing.get("metadata", {}).pop("resourceVersion", None)
        if binding:
            new, recreate = reconcile_binding(existing, expected)
        else:
            new, recreate = reconcile_role(existing, expected), False
        if new is None:
            return "kept"
        try:
            if recreate:
                await storage.delete(key, kv.mod_revision)
                await storage.create(key, encode_stored(new, media_type))
            else:
                await storage.update(key, encode_stored(new, media_type), kv.mod_revision)
            return "updated"
        except (ConflictError, KeyExistsError):
            continue
    return "conflict"


async def reconcile_bootstrap_policy(storage: Storage, index: RBACIndex, media_type: str) -> dict[str, int]:
    """Bring every bootstrap object up to date; returns counts by outcome."""
    counts: dict[str, int] = {}
    plan = [("clusterroles", o, False) for o in bootstrap_data.CLUSTER_ROLES]
    plan += [("clusterrolebindings", o, True) for o in bootstrap_data.CLUSTER_ROLE_BINDINGS]
    plan += [("roles", o, False) for o in bootstrap_data.NAMESPACE_ROLES]
    plan += [("rolebindings", o, True) for o in bootstrap_data.NAMESPACE_ROLE_BINDINGS]
    for resource, expected, binding in plan:
        meta = expected["metadata"]
        key = index.key(resource, meta.get("namespace", ""), meta["name"])
        outcome = await _ensure(storage, key, expected, media_type, binding)
        counts[outcome] = counts.get(outcome, 0) + 1
    log.info("RBAC bootstrap policy reconciled: %s", ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return counts
