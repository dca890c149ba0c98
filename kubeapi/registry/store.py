"""The generic store: every verb over the storage contract for any ResourceDef.

(Interface fixed here; implementation to be written.)
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

from kubeapi.admission.interface import AdmissionPlugin
from kubeapi.api.types import HookContext, ResourceDef
from kubeapi.registry.options import DeleteOptions, ListOptions, WriteOptions
from kubeapi.storage.interface import Storage

Obj = dict[str, Any]
# (event type, object): "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR" (object = Status)
WatchSink = Callable[[str, Obj], None]


class WatchHandle(Protocol):
    def stop(self) -> None: ...


class ResourceStore:
    def __init__(self, rdef: ResourceDef, storage: Storage, ctx: HookContext, *,
                 prefix: str = "/registry", admission: Sequence[AdmissionPlugin] = ()) -> None:
        raise NotImplementedError

    async def get(self, namespace: str, name: str, subresource: str = "") -> Obj:
        raise NotImplementedError

    async def list(self, namespace: str, opts: ListOptions) -> Obj:
        raise NotImplementedError

    async def watch(self, namespace: str, opts: ListOptions, sink: WatchSink) -> WatchHandle:
        raise NotImplementedError

    async def create(self, namespace: str, obj: Obj, opts: WriteOptions, subresource: str = "") -> Obj:
        raise NotImplementedError

    async def update(self, namespace: str, name: str, obj: Obj, opts: WriteOptions,
                     subresource: str = "") -> tuple[Obj, bool]:
        raise NotImplementedError

    async def patch(self, namespace: str, name: str, patch_type: str, patch: bytes,
                    opts: WriteOptions, subresource: str = "") -> tuple[Obj, bool]:
        raise NotImplementedError

    async def delete(self, namespace: str, name: str, opts: DeleteOptions) -> tuple[Obj, bool]:
        raise NotImplementedError

    async def delete_collection(self, namespace: str, list_opts: ListOptions,
                                opts: DeleteOptions) -> Obj:
        raise NotImplementedError
