"""Core group: persistentvolumes and persistentvolumeclaims (behaviour hooks; structure is
generated)."""

from __future__ import annotations

import copy
from typing import Any

from kubeapi.api import facts
from kubeapi.api.printing import (
    age_col,
    col,
    name_col,
    wide,
)
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    QUANTITY_MSG,
    Errors,
    check_enum,
    forbidden,
    get,
    invalid,
    is_quantity,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

# ================================================================ persistent volumes

ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
_SHORT_MODE = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
               "ReadWriteOncePod": "RWOP"}


def access_modes(modes: Any) -> str:
    modes = modes or []
    return ",".join(_SHORT_MODE[m] for m in ACCESS_MODES if m in modes)


def _storage_class(o: Obj) -> str:
    ann = get(o, "metadata.annotations") or {}
    return ann.get("volume.beta.kubernetes.io/storage-class") or get(o, "spec.storageClassName") or ""


def _pv_claim(pv: Obj) -> str:
    ref = get(pv, "spec.claimRef")
    if not isinstance(ref, dict):
        return ""
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}"


def _check_access_modes(spec: Obj, p: str) -> Errors:
    modes = spec.get("accessModes")
    if not modes:
        return [required(f"{p}.accessModes", "at least 1 access mode is required")]
    errs: Errors = []
    for m in modes:
        if m not in ACCESS_MODES:
            from kubeapi.api.validation import not_supported

            errs.append(not_supported(f"{p}.accessModes", m, ACCESS_MODES))
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.append(forbidden(f"{p}.accessModes", "may not use ReadWriteOncePod with other access modes"))
    return errs


PV_SOURCES = ("gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd",
              "iscsi", "cinder", "cephfs", "fc", "flocker", "flexVolume", "azureFile",
              "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
              "scaleIO", "local", "storageos", "csi")


def default_pv(pv: Obj) -> None:
    spec = pv.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
        if isinstance(spec.get("hostPath"), dict):
            spec["hostPath"].setdefault("type", "")
    status = pv.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Pending")


def prepare_pv(pv: Obj) -> None:
    pv["status"] = {"phase": "Pending"}


def validate_pv(pv: Obj) -> list[FieldError]:
    errs = validate_object_meta(pv, namespaced=False)
    spec = pv.get("spec")
    if not isinstance(spec, dict):
        return errs + [required("spec")]
    errs += _check_access_modes(spec, "spec")
    cap = spec.get("capacity")
    if not cap:
        errs.append(required("spec.capacity"))
    elif "storage" not in cap or len(cap) != 1:
        from kubeapi.api.validation import not_supported

        errs.append(not_supported("spec.capacity", sorted(cap), ("storage",)))
    elif not is_quantity(cap["storage"]):
        errs.append(invalid("spec.capacity[storage]", cap["storage"], QUANTITY_MSG))
    sources = [k for k in PV_SOURCES if spec.get(k) is not None]
    if not sources:
        errs.append(required("spec", "must specify a volume type"))
    elif len(sources) > 1:
        errs.append(forbidden(f"spec.{sources[1]}", "may not specify more than 1 volume type"))
    errs += check_enum(spec.get("persistentVolumeReclaimPolicy"),
                       "spec.persistentVolumeReclaimPolicy", ("Delete", "Recycle", "Retain"))
    errs += check_enum(spec.get("volumeMode"), "spec.volumeMode", ("Block", "Filesystem"))
    return errs


PERSISTENT_VOLUMES = facts.resource(
    "", "v1", "persistentvolumes",
    columns=(
        name_col(),
        col("Capacity", "string", lambda o: str(get(o, "spec.capacity.storage") or ""),
            "capacity is the description of the persistent volume's resources and capacity."),
        col("Access Modes", "string", lambda o: access_modes(get(o, "spec.accessModes")),
            "accessModes contains all ways the volume can be mounted."),
        col("Reclaim Policy", "string", lambda o: get(o, "spec.persistentVolumeReclaimPolicy") or "",
            "persistentVolumeReclaimPolicy defines what happens to a persistent volume when "
            "released from its claim."),
        col("Status", "string", lambda o: get(o, "status.phase") or "",
            "phase indicates if a volume is available, bound to a claim, or released by a claim."),
        col("Claim", "string", _pv_claim,
            "claimRef is part of a bi-directional binding between PersistentVolume and "
            "PersistentVolumeClaim."),
        col("StorageClass", "string", _storage_class,
            "storageClassName is the name of StorageClass to which this persistent volume belongs."),
        col("VolumeAttributesClass", "string",
            lambda o: get(o, "spec.volumeAttributesClassName") or "<unset>",
            "Name of VolumeAttributesClass to which this persistent volume belongs."),
        col("Reason", "string", lambda o: get(o, "status.reason") or "",
            "reason is a brief CamelCase string that describes any failure."),
        age_col(),
        wide("VolumeMode", "string", lambda o: get(o, "spec.volumeMode") or "<unset>",
             "volumeMode defines if a volume is intended to be used with a formatted filesystem "
             "or to remain in raw block state."),
    ),
    default=default_pv,
    validate=validate_pv,
    validate_update=validate_object_meta_update,
    prepare_for_create=prepare_pv,
    has_status=True,
    return_deleted_object=True,
)


def default_pvc(pvc: Obj) -> None:
    spec = pvc.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
    status = pvc.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Pending")


def prepare_pvc(pvc: Obj) -> None:
    pvc["status"] = {"phase": "Pending"}


def validate_pvc(pvc: Obj) -> list[FieldError]:
    errs = validate_object_meta(pvc)
    spec = pvc.get("spec")
    if not isinstance(spec, dict):
        return errs + [required("spec")]
    errs += _check_access_modes(spec, "spec")
    storage = get(spec, "resources.requests.storage")
    if storage is None:
        errs.append(required("spec.resources[storage]"))
    elif not is_quantity(storage):
        errs.append(invalid("spec.resources.requests[storage]", storage, QUANTITY_MSG))
    errs += check_enum(spec.get("volumeMode"), "spec.volumeMode", ("Block", "Filesystem"))
    return errs


def validate_pvc_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    ns = copy.deepcopy(new.get("spec") or {})
    os_ = copy.deepcopy(old.get("spec") or {})
    for spec in (ns, os_):
        spec.pop("volumeAttributesClassName", None)
        if isinstance(spec.get("resources"), dict):
            spec["resources"].pop("requests", None)
    if not os_.get("volumeName"):
        ns.pop("volumeName", None)
        os_.pop("volumeName", None)
    if ns != os_:
        errs.append(forbidden("spec", "spec is immutable after creation except resources.requests "
                                      "and volumeAttributesClassName for bound claims"))
    return errs


PERSISTENT_VOLUME_CLAIMS = facts.resource(
    "", "v1", "persistentvolumeclaims",
    columns=(
        name_col(),
        col("Status", "string", lambda o: get(o, "status.phase") or "",
            "phase represents the current phase of PersistentVolumeClaim."),
        col("Volume", "string", lambda o: get(o, "spec.volumeName") or "",
            "volumeName is the binding reference to the PersistentVolume backing this claim."),
        col("Capacity", "string", lambda o: str(get(o, "status.capacity.storage") or ""),
            "capacity represents the actual resources of the underlying volume."),
        col("Access Modes", "string", lambda o: access_modes(get(o, "status.accessModes")),
            "accessModes contains the actual access modes the volume backing the PVC has."),
        col("StorageClass", "string", _storage_class,
            "storageClassName is the name of the StorageClass required by the claim."),
        col("VolumeAttributesClass", "string",
            lambda o: get(o, "spec.volumeAttributesClassName") or "<unset>",
            "volumeAttributesClassName may be used to set the VolumeAttributesClass used by "
            "this claim."),
        age_col(),
        wide("VolumeMode", "string", lambda o: get(o, "spec.volumeMode") or "<unset>",
             "volumeMode defines what type of volume is required by the claim."),
    ),
    default=default_pvc,
    validate=validate_pvc,
    validate_update=validate_pvc_update,
    prepare_for_create=prepare_pvc,
    has_status=True,
    return_deleted_object=True,
)


RESOURCES: list[ResourceDef] = [PERSISTENT_VOLUMES, PERSISTENT_VOLUME_CLAIMS]
