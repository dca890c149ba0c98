"""StorageObjectInUseProtection: new PVs, PVCs and VolumeAttributesClasses carry the protection
finalizer, so one in use by a pod (or claim) is not removed underneath it."""

from __future__ import annotations

from kubeapi.admission.interface import Attributes

FINALIZERS = {
    ("", "persistentvolumes"): "kubernetes.io/pv-protection",
    ("", "persistentvolumeclaims"): "kubernetes.io/pvc-protection",
    ("storage.k8s.io", "volumeattributesclasses"): "kubernetes.io/vac-protection",
}


class StorageObjectInUseProtection:
    name = "StorageObjectInUseProtection"

    async def admit(self, attrs: Attributes) -> None:
        finalizer = FINALIZERS.get((attrs.resource.group, attrs.resource.plural))
        if finalizer is None or attrs.operation != "CREATE" or attrs.subresource or not isinstance(attrs.object, dict):
            return
        meta = attrs.object.setdefault("metadata", {})
        fins = list(meta.get("finalizers") or [])
        if finalizer not in fins:
            fins.append(finalizer)
        meta["finalizers"] = fins

    async def validate(self, attrs: Attributes) -> None:
        return None
