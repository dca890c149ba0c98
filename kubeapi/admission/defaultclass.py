"""DefaultStorageClass and DefaultIngressClass: a claim (ingress) that names no class gets the
class annotated as the cluster default; of several defaults the newest wins, as upstream."""

from __future__ import annotations

from typing import Any

from kubeapi.admission.context import PluginContext
from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import is_core

SC_DEFAULT = ("storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class")
SC_BETA_CLAIM = "volume.beta.kubernetes.io/storage-class"
IC_DEFAULT = "ingressclass.kubernetes.io/is-default-class"
IC_ANNOTATION = "kubernetes.io/ingress.class"


def newest_default(classes: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any] | None:
    defaults = [c for c in classes
                if any(((c.get("metadata") or {}).get("annotations") or {}).get(k) == "true" for k in keys)]
    if not defaults:
        return None
    # Newest first; equal timestamps resolved by name, as upstream sorts them.
    defaults.sort(key=lambda c: (c["metadata"].get("creationTimestamp") or "", c["metadata"]["name"]))
    newest = defaults[-1]["metadata"].get("creationTimestamp") or ""
    ties = [c for c in defaults if (c["metadata"].get("creationTimestamp") or "") == newest]
    return min(ties, key=lambda c: c["metadata"]["name"])


class DefaultStorageClass:
    name = "DefaultStorageClass"

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx

    async def admit(self, attrs: Attributes) -> None:
        if not is_core(attrs, "persistentvolumeclaims") or attrs.subresource or attrs.operation != "CREATE":
            return
        pvc = attrs.object
        if not isinstance(pvc, dict):
            return
        spec = pvc.setdefault("spec", {})
        annotations = (pvc.get("metadata") or {}).get("annotations") or {}
        if spec.get("storageClassName") is not None or SC_BETA_CLAIM in annotations:
            return
        cls = newest_default(await self._ctx.list("storageclasses"), SC_DEFAULT)
        if cls is not None:
            spec["storageClassName"] = cls["metadata"]["name"]

    async def validate(self, attrs: Attributes) -> None:
        return None


class DefaultIngressClass:
    name = "DefaultIngressClass"

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx

    async def admit(self, attrs: Attributes) -> None:
        r = attrs.resource
        if r.group != "networking.k8s.io" or r.plural != "ingresses" or attrs.subresource:
            return
        if attrs.operation != "CREATE" or not isinstance(attrs.object, dict):
            return
        ing = attrs.object
        spec = ing.setdefault("spec", {})
        annotations = (ing.get("metadata") or {}).get("annotations") or {}
        if spec.get("ingressClassName") is not None or IC_ANNOTATION in annotations:
            return
        cls = newest_default(await self._ctx.list("ingressclasses"), (IC_DEFAULT,))
        if cls is not None:
            spec["ingressClassName"] = cls["metadata"]["name"]

    async def validate(self, attrs: Attributes) -> None:
        return None
