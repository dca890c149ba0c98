"""PersistentVolumeClaimResize: a claim may grow only when bound and provisioned by a
StorageClass that allows volume expansion."""

from __future__ import annotations

from typing import Any

from kubeapi import errors
from kubeapi.admission.context import PluginContext
from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import display_name, is_core
from kubeapi.admission.quantity import parse

BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


def _size(pvc: dict[str, Any]) -> Any:
    v = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
    try:
        return parse(v).value if v is not None else 0
    except ValueError:
        return 0


def _class(pvc: dict[str, Any]) -> str:
    beta = ((pvc.get("metadata") or {}).get("annotations") or {}).get(BETA_CLASS)
    if beta is not None:
        return str(beta)
    return (pvc.get("spec") or {}).get("storageClassName") or ""


class PersistentVolumeClaimResize:
    name = "PersistentVolumeClaimResize"

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx

    async def admit(self, attrs: Attributes) -> None:
        return None

    async def validate(self, attrs: Attributes) -> None:
        if not is_core(attrs, "persistentvolumeclaims") or attrs.subresource or attrs.operation != "UPDATE":
            return
        new, old = attrs.object, attrs.old_object
        if not isinstance(new, dict) or not isinstance(old, dict) or _size(new) <= _size(old):
            return
        who = display_name(attrs)
        if (old.get("status") or {}).get("phase") != "Bound":
            raise errors.forbidden("persistentvolumeclaims", "", who, "Only bound persistent volume claims can be expanded")
        cls, old_cls = _class(new), _class(old)
        allowed = False
        if cls and cls == old_cls:
            sc = await self._ctx.get("storageclasses", "", cls)
            allowed = bool(sc and sc.get("allowVolumeExpansion"))
        if not allowed:
            raise errors.forbidden("persistentvolumeclaims", "", who,
                                   "only dynamically provisioned pvc can be resized and the storageclass that "
                                   "provisions the pvc must support resize")
