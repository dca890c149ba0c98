"""The APIServices the aggregator routes by, mirrored from storage by an Informer.

Every proxied request asks ``remote(group, version)``, so the answer comes from memory; the
other aggregator parts (availability, discovery, OpenAPI) subscribe to changes.  Ordering
follows upstream's helpers: groups by highest ``groupPriorityMinimum`` (then name), versions
by ``versionPriority`` then Kubernetes version order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kubeapi.apiextensions.crd import version_priority
from kubeapi.auth.informer import Informer
from kubeapi.storage.interface import Storage

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Listener = Callable[[str, Obj | None], None]


def spec(svc: Obj) -> Obj:
    s = svc.get("spec")
    return s if isinstance(s, dict) else {}


def name_of(svc: Obj) -> str:
    return str((svc.get("metadata") or {}).get("name", ""))


def is_remote(svc: Obj) -> bool:
    return isinstance(spec(svc).get("service"), dict)


def is_available(svc: Obj) -> bool:
    for c in (svc.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Available":
            return c.get("status") == "True"
    return False


def _group_key(svc: Obj) -> tuple[int, str]:
    return (-int(spec(svc).get("groupPriorityMinimum") or 0), name_of(svc))


def _version_key(svc: Obj) -> tuple[int, tuple[int, int, int, str]]:
    return (-int(spec(svc).get("versionPriority") or 0), version_priority(str(spec(svc).get("version", ""))))


def sorted_by_group_and_version(services: list[Obj]) -> list[list[Obj]]:
    """Upstream's SortedByGroupAndVersion: one list per group, best group first, best version first."""
    groups: dict[str, list[Obj]] = {}
    for svc in sorted(services, key=_group_key):
        groups.setdefault(str(spec(svc).get("group", "")), []).append(svc)
    return [sorted(members, key=_version_key) for members in groups.values()]


class APIServiceRegistry:
    """See the module docstring.  ``start`` lists once and watches; ``stop`` ends the watch."""

    def __init__(self, storage: Storage, prefix: str, reactor: Any) -> None:
        self.by_name: dict[str, Obj] = {}
        self._listeners: list[Listener] = []
        self._informer = Informer(storage, prefix, self._put, self._delete, reactor)

    @property
    def synced(self) -> bool:
        return self._informer.synced

    async def start(self) -> None:
        await self._informer.start()

    def stop(self) -> None:
        self._informer.stop()

    def subscribe(self, listener: Listener) -> None:
        """``listener(name, obj)`` on every add/update, ``listener(name, None)`` on delete."""
        self._listeners.append(listener)

    def _notify(self, name: str, obj: Obj | None) -> None:
        for listener in self._listeners:
            try:
                listener(name, obj)
            except Exception:
                log.exception("APIService listener failed for %s", name)

    def _put(self, key: str, obj: Obj) -> None:
        name = name_of(obj)
        self.by_name[name] = obj
        self._notify(name, obj)

    def _delete(self, key: str, obj: Obj) -> None:
        name = name_of(obj)
        self.by_name.pop(name, None)
        self._notify(name, None)

    def remote(self, group: str, version: str) -> Obj | None:
        """The service-backed APIService for group/version, or None (local or unknown)."""
        svc = self.by_name.get(f"{version}.{group}")
        return svc if svc is not None and is_remote(svc) else None

    def remote_services(self) -> list[Obj]:
        return [s for s in self.by_name.values() if is_remote(s)]

    def in_group(self, group: str) -> list[Obj]:
        return [s for s in self.by_name.values() if str(spec(s).get("group", "")) == group]
