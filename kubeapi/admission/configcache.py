"""Admission's own configuration (webhook configurations, policies, bindings) read from memory.

Every write consults these objects, and they rarely change, so each kind is mirrored by an
Informer (list once, then watch), started on first use; like upstream's informers the mirror
is a watch event behind a write.  Without a reactor (unit tests) each read lists storage.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from kubeapi.admission.context import PluginContext
from kubeapi.auth.informer import Informer

Obj = dict[str, Any]


class ConfigCache:
    def __init__(self, ctx: PluginContext, segment: str) -> None:
        self._ctx = ctx
        self._segment = segment
        self._informer: Informer | None = None
        self._starting: list[Deferred[None]] | None = None
        self._sorted: list[Obj] | None = None

    async def items(self) -> list[Obj]:
        """Every object of the kind, by name."""
        if self._ctx.clock is None:
            return sorted(await self._ctx.list(self._segment), key=_name)
        if self._informer is None or not self._informer.synced:
            await self._start()
        if self._sorted is None:
            assert self._informer is not None
            self._sorted = sorted(self._informer.objects.values(), key=_name)
        return self._sorted

    async def _start(self) -> None:
        if self._starting is not None:  # another request is listing: wait for it
            waiter: Deferred[None] = Deferred()
            self._starting.append(waiter)
            await waiter
            return
        self._starting = []
        informer = Informer(self._ctx.storage, self._ctx.key(self._segment, ""), self._changed, self._changed,
                            self._ctx.clock)
        try:
            await informer.start()
            self._informer = informer
        finally:
            waiters, self._starting = self._starting, None
            for w in waiters:
                w.callback(None)

    def _changed(self, key: str, obj: Obj) -> None:
        self._sorted = None


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))
