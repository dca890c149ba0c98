"""ClusterRole aggregation: a ClusterRole with ``aggregationRule.clusterRoleSelectors`` gets as
``rules`` the rules of every other ClusterRole its selectors match (in name order, without
duplicates), rewritten whenever a ClusterRole changes.  Driven by the RBAC index's watch."""

from __future__ import annotations

import copy
import logging
from typing import Any

from twisted.internet.defer import Deferred

from kubeapi.auth.rbac.index import RBACIndex
from kubeapi.registry.codec import decode_stored, encode_stored
from kubeapi.registry.selectors import label_selector_from_object
from kubeapi.storage.interface import ConflictError, KeyNotFoundError, Storage

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def aggregated_rules(role: Obj, cluster_roles: dict[str, Obj]) -> list[Obj] | None:
    """The rules ``role`` should have, or None when it is not an aggregated role."""
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    if not selectors:
        return None
    parsed = []
    for sel in selectors:
        try:
            parsed.append(label_selector_from_object(sel))
        except ValueError:
            continue
    me = (role.get("metadata") or {}).get("name")
    out: list[Obj] = []
    for name in sorted(cluster_roles):
        if name == me:
            continue
        labels = (cluster_roles[name].get("metadata") or {}).get("labels") or {}
        if any(s.matches(labels) for s in parsed):
            for r in cluster_roles[name].get("rules") or []:
                if r not in out:
                    out.append(r)
    return out


class AggregationController:
    def __init__(self, index: RBACIndex, storage: Storage, media_type: str, reactor: Any) -> None:
        self.index = index
        self.storage = storage
        self.media_type = media_type
        self.reactor = reactor
        self._pending: Any = None
        self._running = False
        self._again = False
        self._stopped = False

    def start(self) -> None:
        self._stopped = False
        self.index.listeners.append(self._changed)
        self._changed("clusterroles")

    def stop(self) -> None:
        self._stopped = True
        if self._changed in self.index.listeners:
            self.index.listeners.remove(self._changed)
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        self._pending = None

    def _changed(self, resource: str) -> None:
        if resource != "clusterroles" or self._stopped:
            return
        if self._running:
            self._again = True
            return
        if self._pending is None or not self._pending.active():
            # Coalesce bursts (bootstrap writes dozens of roles) into one pass.
            self._pending = self.reactor.callLater(0.01, self._run)

    def _run(self) -> None:
        self._running = True
        d = Deferred.fromCoroutine(self.sync())

        def done(result: Any) -> None:
            self._running = False
            if self._again:
                self._again = False
                self._changed("clusterroles")

        d.addErrback(lambda f: log.warning("clusterrole aggregation failed: %s", f.getErrorMessage()))
        d.addBoth(done)

    async def sync(self) -> int:
        """Rewrite every aggregated role whose rules are stale; returns how many were written."""
        written = 0
        roles = self.index.cluster_roles
        for name in sorted(roles):
            want = aggregated_rules(roles[name], roles)
            if want is None or list(roles[name].get("rules") or []) == want:
                continue
            if await self._write(name, want):
                written += 1
        return written

    async def _write(self, name: str, rules: list[Obj]) -> bool:
        key = self.index.key("clusterroles", "", name)
        for _attempt in range(5):
            kv = await self.storage.get(key)
            if kv is None:
                return False
            obj = decode_stored(kv.value)
            if list(obj.get("rules") or []) == rules:
                return False
            new = copy.deepcopy(obj)
            new["rules"] = rules
            new.get("metadata", {}).pop("resourceVersion", None)
            try:
                await self.storage.update(key, encode_stored(new, self.media_type), kv.mod_revision)
                return True
            except ConflictError:
                continue
            except KeyNotFoundError:
                return False
        return False
