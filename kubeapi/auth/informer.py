"""A list+watch mirror of one storage prefix, for authorizers that must answer from memory.

Authorization runs on every request, so RBAC and the Node graph never read storage per
request: each keeps an ``Informer`` per prefix (list once, then watch from the list's
revision) and updates its indexes from the callbacks.  A watch that fails is replaced by a
fresh list after a short delay; objects that disappeared meanwhile are reported deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred

from kubeapi.registry.codec import decode_stored
from kubeapi.storage.interface import Event, Storage, StorageError, Watch

log = logging.getLogger(__name__)

Obj = dict[str, Any]
OnPut = Callable[[str, Obj], None]
OnDelete = Callable[[str, Obj], None]
RETRY_SECONDS = 1.0


class Informer:
    """See the module docstring.  ``on_put(key, obj)`` for adds and updates, ``on_delete``."""

    def __init__(self, storage: Storage, prefix: str, on_put: OnPut, on_delete: OnDelete,
                 reactor: Any) -> None:
        self.storage = storage
        self.prefix = prefix
        self.on_put = on_put
        self.on_delete = on_delete
        self.reactor = reactor
        self.objects: dict[str, Obj] = {}
        self.revision = 0
        self.synced = False
        self._watch: Watch | None = None
        self._stopped = False
        self._retry: Any = None

    async def start(self) -> None:
        """List and start watching; returns once the first list is applied."""
        self._stopped = False
        await self._list_and_watch()

    def stop(self) -> None:
        self._stopped = True
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    async def _list_and_watch(self) -> None:
        listed = await self.storage.list(self.prefix)
        seen: dict[str, Obj] = {}
        for kv in listed.items:
            obj = self._decode(kv.value, kv.mod_revision)
            if obj is not None:
                seen[kv.key] = obj
        for key in [k for k in self.objects if k not in seen]:
            self.on_delete(key, self.objects.pop(key))
        for key, obj in seen.items():
            self.objects[key] = obj
            self.on_put(key, obj)
        self.revision = listed.revision
        self.synced = True
        if self._stopped:
            return
        self._watch = await self.storage.watch(self.prefix, listed.revision + 1, self._on_events,
                                               self._on_error)
        if self._stopped:
            self._watch.stop()
            self._watch = None

    def _decode(self, value: bytes, revision: int) -> Obj | None:
        try:
            obj = decode_stored(value)
        except Exception as e:  # an undecodable value must not stop authorization
            log.warning("informer %s: cannot decode a stored value: %s", self.prefix, e)
            return None
        obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
        return obj

    def _on_events(self, events: Sequence[Event]) -> None:
        for ev in events:
            key = ev.kv.key
            self.revision = max(self.revision, ev.revision)
            if ev.type == "DELETE":
                old = self.objects.pop(key, None)
                if old is not None:
                    self.on_delete(key, old)
                continue
            obj = self._decode(ev.kv.value, ev.kv.mod_revision)
            if obj is None:
                continue
            self.objects[key] = obj
            self.on_put(key, obj)

    def _on_error(self, err: StorageError) -> None:
        log.warning("informer %s: watch ended (%s); listing again", self.prefix, err)
        self._watch = None
        if not self._stopped:
            self._retry = self.reactor.callLater(RETRY_SECONDS, self._relist)

    def _relist(self) -> None:
        self._retry = None
        if self._stopped:
            return
        d = Deferred.fromCoroutine(self._list_and_watch())
        d.addErrback(lambda f: self._on_error(StorageError(f.getErrorMessage())))
