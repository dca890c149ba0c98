"""storage.k8s.io/v1: StorageClass, CSIDriver, CSINode, CSIStorageCapacity, VolumeAttachment,
VolumeAttributesClass (behaviour hooks; structure is generated)."""

from __future__ import annotations

from typing import Any

from kubeapi.api import facts
from kubeapi.api.printing import age_col, col, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    check_enum,
    forbidden,
    get,
    immutable,
    invalid,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "storage.k8s.io"
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")


def _meta(namespaced: bool = False) -> Any:
    return lambda o: validate_object_meta(o, namespaced=namespaced)


# ---------------------------------------------------------------- storageclasses

def default_storage_class(sc: Obj) -> None:
    sc.setdefault("reclaimPolicy", "Delete")
    sc.setdefault("volumeBindingMode", "Immediate")


def validate_storage_class(sc: Obj) -> list[FieldError]:
    errs = validate_object_meta(sc, namespaced=False)
    if not sc.get("provisioner"):
        errs.append(required("provisioner"))
    errs += check_enum(sc.get("reclaimPolicy"), "reclaimPolicy", ("Delete", "Retain"))
    errs += check_enum(sc.get("volumeBindingMode"), "volumeBindingMode", ("Immediate", "WaitForFirstConsumer"))
    return errs


def validate_storage_class_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if new.get("parameters") != old.get("parameters"):
        errs.append(forbidden("parameters", "updates to parameters are forbidden."))
    if new.get("provisioner") != old.get("provisioner"):
        errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    if new.get("volumeBindingMode") != old.get("volumeBindingMode"):
        errs.append(forbidden("volumeBindingMode", "field is immutable"))
    return errs


def _sc_name(sc: Obj) -> str:
    name = get(sc, "metadata.name") or ""
    ann = get(sc, "metadata.annotations") or {}
    if any(ann.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS):
        name += " (default)"
    return name


STORAGECLASSES = facts.resource(
    GROUP, "v1", "storageclasses",
    columns=(
        col("Name", "string", _sc_name, "Name of the StorageClass"),
        col("Provisioner", "string", lambda o: o.get("provisioner") or "", "Provisioner of the StorageClass"),
        col("ReclaimPolicy", "string", lambda o: o.get("reclaimPolicy") or "Delete",
            "ReclaimPolicy of the StorageClass"),
        col("VolumeBindingMode", "string", lambda o: o.get("volumeBindingMode") or "Immediate",
            "VolumeBindingMode of the StorageClass"),
        col("AllowVolumeExpansion", "string", lambda o: bool(o.get("allowVolumeExpansion")),
            "AllowVolumeExpansion of the StorageClass"),
        age_col(),
    ),
    default=default_storage_class, validate=validate_storage_class,
    validate_update=validate_storage_class_update,
)

# ---------------------------------------------------------------- csi


def default_csi_driver(d: Obj) -> None:
    spec = d.setdefault("spec", {})
    spec.setdefault("attachRequired", True)
    spec.setdefault("podInfoOnMount", False)
    spec.setdefault("storageCapacity", False)
    spec.setdefault("fsGroupPolicy", "ReadWriteOnceWithFSType")
    spec.setdefault("requiresRepublish", False)
    spec.setdefault("volumeLifecycleModes", ["Persistent"])
    spec.setdefault("seLinuxMount", False)


def validate_csi_driver_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    for f in ("attachRequired", "podInfoOnMount", "volumeLifecycleModes"):
        if get(new, f"spec.{f}") != get(old, f"spec.{f}"):
            errs.append(immutable(f"spec.{f}", get(new, f"spec.{f}")))
    return errs


def _bool(path: str) -> Any:
    return lambda o: bool(get(o, path))


CSIDRIVERS = facts.resource(
    GROUP, "v1", "csidrivers",
    columns=(
        name_col(),
        col("AttachRequired", "boolean", _bool("spec.attachRequired"), "Whether a volume attachment is needed"),
        col("PodInfoOnMount", "boolean", _bool("spec.podInfoOnMount"), "Whether pod information is passed on mount"),
        col("StorageCapacity", "boolean", _bool("spec.storageCapacity"), "Whether capacity is reported"),
        col("TokenRequests", "string", lambda o: ",".join(t.get("audience", "") or "<unset>" for t in
                                                           get(o, "spec.tokenRequests") or []) or "<unset>",
            "Audiences of service account tokens the driver asks for"),
        col("RequiresRepublish", "boolean", _bool("spec.requiresRepublish"), "Whether volumes are republished"),
        col("Modes", "string", lambda o: ",".join(get(o, "spec.volumeLifecycleModes") or []) or "<none>",
            "Volume lifecycle modes"),
        age_col(),
    ),
    default=default_csi_driver, validate=_meta(), validate_update=validate_csi_driver_update,
)


def validate_csi_node(n: Obj) -> list[FieldError]:
    errs = validate_object_meta(n, namespaced=False)
    seen: set[str] = set()
    for i, d in enumerate(get(n, "spec.drivers") or []):
        name = (d or {}).get("name")
        if not name:
            errs.append(required(f"spec.drivers[{i}].name"))
        elif name in seen:
            errs.append(FieldError("FieldValueDuplicate", f"spec.drivers[{i}].name", "", name, True))
        seen.add(name or "")
        if not (d or {}).get("nodeID"):
            errs.append(required(f"spec.drivers[{i}].nodeID"))
    return errs


CSINODES = facts.resource(
    GROUP, "v1", "csinodes",
    columns=(name_col(), col("Drivers", "integer", lambda o: len(get(o, "spec.drivers") or []),
                             "Number of CSI drivers on the node"), age_col()),
    validate=validate_csi_node, validate_update=validate_object_meta_update,
)

CSISTORAGECAPACITIES = facts.resource(
    GROUP, "v1", "csistoragecapacities",
    columns=(name_col(),
             col("StorageClassName", "string", lambda o: o.get("storageClassName") or "", "StorageClass name"),
             col("Capacity", "string", lambda o: str(o.get("capacity") or ""), "Capacity")),
    validate=lambda o: validate_object_meta(o) + ([] if o.get("storageClassName")
                                                  else [required("storageClassName")]),
    validate_update=validate_object_meta_update,
)

# ---------------------------------------------------------------- volumeattachments


def validate_volume_attachment(va: Obj) -> list[FieldError]:
    errs = validate_object_meta(va, namespaced=False)
    spec = va.get("spec") or {}
    if not spec.get("attacher"):
        errs.append(required("spec.attacher"))
    if not spec.get("nodeName"):
        errs.append(required("spec.nodeName"))
    src = spec.get("source") or {}
    if bool(src.get("persistentVolumeName")) == bool(src.get("inlineVolumeSpec")):
        errs.append(required("spec.source", "must specify exactly one of persistentVolumeName and "
                                            "inlineVolumeSpec"))
    return errs


def validate_volume_attachment_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if new.get("spec") != old.get("spec"):
        errs.append(invalid("spec", new.get("spec"), "field is immutable"))
    return errs


VOLUMEATTACHMENTS = facts.resource(
    GROUP, "v1", "volumeattachments",
    columns=(
        name_col(),
        col("Attacher", "string", lambda o: get(o, "spec.attacher") or "", "Attacher"),
        col("PV", "string", lambda o: get(o, "spec.source.persistentVolumeName") or "", "PV"),
        col("Node", "string", lambda o: get(o, "spec.nodeName") or "", "Node"),
        col("Attached", "boolean", _bool("status.attached"), "Attached"),
        age_col(),
    ),
    validate=validate_volume_attachment, validate_update=validate_volume_attachment_update,
)

# ---------------------------------------------------------------- volumeattributesclasses


def validate_vac(vac: Obj) -> list[FieldError]:
    errs = validate_object_meta(vac, namespaced=False)
    if not vac.get("driverName"):
        errs.append(required("driverName"))
    if not vac.get("parameters"):
        errs.append(required("parameters", "must contain at least one key"))
    return errs


def validate_vac_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if new.get("driverName") != old.get("driverName"):
        errs.append(immutable("driverName", new.get("driverName")))
    if new.get("parameters") != old.get("parameters"):
        errs.append(immutable("parameters", new.get("parameters")))
    return errs


VOLUMEATTRIBUTESCLASSES = facts.resource(
    GROUP, "v1", "volumeattributesclasses",
    columns=(name_col(), col("DriverName", "string", lambda o: o.get("driverName") or "", "DriverName"),
             age_col()),
    validate=validate_vac, validate_update=validate_vac_update,
)

RESOURCES: list[ResourceDef] = [CSIDRIVERS, CSINODES, CSISTORAGECAPACITIES, STORAGECLASSES,
                                VOLUMEATTACHMENTS, VOLUMEATTRIBUTESCLASSES]
