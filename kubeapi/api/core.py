"""The core group (``/api/v1``).  Pods, services and events live in their own modules;
the smaller kinds are defined here.  ``RESOURCES`` is in discovery order (by name)."""

from __future__ import annotations

import base64
import copy
import ipaddress
from typing import Any

from kubeapi.api import schema as s
from kubeapi.api.events import CORE_EVENTS
from kubeapi.api.pods import PODS, PODTEMPLATES
from kubeapi.api.podspec import default_pod_template, validate_pod_template
from kubeapi.api.printing import (
    NONE,
    age_col,
    col,
    containers_cols,
    format_labels,
    int_at,
    name_col,
    wide,
)
from kubeapi.api.services import SERVICES
from kubeapi.api.types import STANDARD_VERBS, Column, FieldError, Obj, ResourceDef, ScaleSpec
from kubeapi.api.validation import (
    QUANTITY_MSG,
    Errors,
    check_base64_values,
    check_config_keys,
    check_enum,
    check_ip,
    check_non_negative,
    check_port,
    check_protocol,
    dns1123_label,
    dns1123_subdomain,
    forbidden,
    get,
    immutable,
    invalid,
    is_quantity,
    required,
    too_long,
    type_invalid,
    validate_object_meta,
    validate_object_meta_update,
)
from kubeapi.api.workloads import (
    SELECTOR_MISMATCH,
    restart_policy_only,
    validate_replicas,
)

# ================================================================ namespaces

NS_NAME_LABEL = "kubernetes.io/metadata.name"


def default_namespace(ns: Obj) -> None:
    status = ns.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Active")
    meta = ns.setdefault("metadata", {})
    name = meta.get("name") if isinstance(meta, dict) else None
    if name:
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = meta["labels"] = {}
        labels[NS_NAME_LABEL] = name


def prepare_namespace(ns: Obj) -> None:
    """On create only (updates keep the stored finalizers; /finalize changes them)."""
    spec = ns.setdefault("spec", {})
    finalizers = spec.setdefault("finalizers", [])
    if "kubernetes" not in finalizers:
        finalizers.append("kubernetes")
    ns.setdefault("status", {})["phase"] = "Active"


def validate_namespace(ns: Obj) -> list[FieldError]:
    errs = validate_object_meta(ns, dns1123_label, namespaced=False)
    for i, f in enumerate(get(ns, "spec.finalizers") or []):
        if not isinstance(f, str) or not f:
            errs.append(invalid(f"spec.finalizers[{i}]", f, "name is neither a standard finalizer "
                                                               "name nor is it fully qualified"))
    return errs


NAMESPACES = ResourceDef(
    group="", version="v1", kind="Namespace", plural="namespaces", singular="namespace",
    namespaced=False, short_names=("ns",),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    subresources=("finalize", "status"),
    columns=(name_col(),
             col("Status", "string", lambda o: get(o, "status.phase") or "",
                 "The status of the namespace"),
             age_col()),
    field_selectors={"status.phase": lambda o: get(o, "status.phase") or ""},
    default=default_namespace, validate=validate_namespace,
    validate_update=validate_object_meta_update, prepare_for_create=prepare_namespace,
    has_status=True, return_deleted_object=True,
    schema=s.kind_schema("", "v1", "Namespace", "A scope for names; most objects live in one.", {
        "spec": s.obj({"finalizers": s.atomic(s.string())}),
        "status": s.obj({"phase": s.string(enum=("Active", "Terminating")),
                         "conditions": s.conditions()}),
    }),
)

# ================================================================ endpoints


def format_endpoints(ep: Obj) -> str:
    subsets = ep.get("subsets") or []
    if not subsets:
        return NONE
    out: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addrs = ss.get("addresses") or []
        ports = ss.get("ports") or []
        if not ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == limit:
                    more = True
                    break
                out.append(a.get("ip", ""))
            continue
        for port in ports:
            count += len(addrs)
            for a in addrs:
                if len(out) == limit:
                    more = True
                    break
                ip = a.get("ip", "")
                host = f"[{ip}]" if ":" in ip else ip
                out.append(f"{host}:{port.get('port')}")
    text = ",".join(out)
    if more:
        return f"{text} + {count - limit} more..."
    return text or NONE


def validate_endpoints(ep: Obj) -> list[FieldError]:
    errs = validate_object_meta(ep)
    for i, ss in enumerate(ep.get("subsets") or []):
        p = f"subsets[{i}]"
        for key in ("addresses", "notReadyAddresses"):
            for j, a in enumerate(ss.get(key) or []):
                errs += check_ip(a.get("ip"), f"{p}.{key}[{j}].ip")
        for j, port in enumerate(ss.get("ports") or []):
            errs += check_port(port.get("port"), f"{p}.ports[{j}].port")
            errs += check_protocol(port.get("protocol"), f"{p}.ports[{j}].protocol")
    return errs


def default_endpoints(ep: Obj) -> None:
    for ss in ep.get("subsets") or []:
        for port in ss.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


ENDPOINT_ADDRESS = s.obj({"ip": s.string(), "hostname": s.string(), "nodeName": s.string(),
                          "targetRef": s.OBJECT_REFERENCE}, ("ip",))

ENDPOINTS = ResourceDef(
    group="", version="v1", kind="Endpoints", plural="endpoints", singular="endpoints",
    namespaced=True, short_names=("ep",), storage_path="services/endpoints",
    columns=(name_col(),
             col("Endpoints", "string", format_endpoints,
                 "The set of all endpoints is the union of all subsets."),
             age_col()),
    default=default_endpoints, validate=validate_endpoints,
    validate_update=validate_object_meta_update, allow_create_on_update=True,
    schema=s.kind_schema("", "v1", "Endpoints", "The addresses and ports that implement a service.", {
        "subsets": s.atomic(s.obj({
            "addresses": s.atomic(ENDPOINT_ADDRESS),
            "notReadyAddresses": s.atomic(ENDPOINT_ADDRESS),
            "ports": s.atomic(s.obj({"name": s.string(), "port": s.int32(),
                                     "protocol": s.string(), "appProtocol": s.string()},
                                    ("port",))),
        })),
    }),
)

# ================================================================ configmaps & secrets

MAX_DATA_SIZE = 1024 * 1024


def _immutable_data(new: Obj, old: Obj, fields: tuple[str, ...]) -> Errors:
    errs: Errors = []
    if old.get("immutable"):
        msg = "field is immutable when `immutable` is set"
        if not new.get("immutable"):
            errs.append(forbidden("immutable", msg))
        for f in fields:
            if (new.get(f) or {}) != (old.get(f) or {}):
                errs.append(forbidden(f, msg))
    return errs


def validate_configmap(cm: Obj) -> list[FieldError]:
    errs = validate_object_meta(cm)
    data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
    if not isinstance(data, dict):
        return errs + [type_invalid("data", data, "must be an object")]
    if not isinstance(binary, dict):
        return errs + [type_invalid("binaryData", binary, "must be an object")]
    errs += check_config_keys(data, "data")
    errs += check_config_keys(binary, "binaryData")
    for k, v in data.items():
        if not isinstance(v, str):
            errs.append(type_invalid(f"data[{k}]", v, "must be a string"))
    for k in binary:
        if k in data:
            errs.append(invalid("data", k, "duplicate of key present in binaryData"))
    errs += check_base64_values(binary, "binaryData")
    size = sum(len(k) + len(v) for k, v in data.items() if isinstance(v, str))
    size += sum(len(k) + len(v) * 3 // 4 for k, v in binary.items() if isinstance(v, str))
    if size > MAX_DATA_SIZE:
        errs.append(too_long("", MAX_DATA_SIZE))
    return errs


CONFIGMAPS = ResourceDef(
    group="", version="v1", kind="ConfigMap", plural="configmaps", singular="configmap",
    namespaced=True, short_names=("cm",),
    columns=(name_col(),
             col("Data", "integer",
                 lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                 "Data contains the configuration data."),
             age_col()),
    validate=validate_configmap,
    validate_update=lambda n, o: validate_object_meta_update(n, o)
    + _immutable_data(n, o, ("data", "binaryData")),
    schema=s.kind_schema("", "v1", "ConfigMap", "Non-secret configuration data as key/value pairs.", {
        "data": s.string_map(), "binaryData": s.string_map(s.byte_string()),
        "immutable": s.boolean(),
    }),
)

SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def default_secret(sec: Obj) -> None:
    sec.setdefault("type", "Opaque")
    if not sec["type"]:
        sec["type"] = "Opaque"
    sd = sec.pop("stringData", None)
    if isinstance(sd, dict) and sd:
        data = sec.get("data")
        if not isinstance(data, dict):
            data = sec["data"] = {}
        for k, v in sd.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def validate_secret(sec: Obj) -> list[FieldError]:
    errs = validate_object_meta(sec)
    data = sec.get("data") or {}
    if not isinstance(data, dict):
        return errs + [type_invalid("data", data, "must be an object")]
    errs += check_config_keys(data, "data")
    errs += check_base64_values(data, "data")
    stype = sec.get("type") or "Opaque"
    for key in SECRET_REQUIRED_KEYS.get(stype, ()):
        if key not in data:
            errs.append(required(f"data[{key}]"))
    if stype == "kubernetes.io/service-account-token":
        if not get(sec, "metadata.annotations", {}).get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    if stype == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        errs.append(required("data[username]"))
    size = sum(len(k) + len(v) * 3 // 4 for k, v in data.items() if isinstance(v, str))
    if size > MAX_DATA_SIZE:
        errs.append(too_long("data", MAX_DATA_SIZE))
    return errs


def validate_secret_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if (new.get("type") or "Opaque") != (old.get("type") or "Opaque"):
        errs.append(immutable("type", new.get("type")))
    return errs + _immutable_data(new, old, ("data",))


SECRETS = ResourceDef(
    group="", version="v1", kind="Secret", plural="secrets", singular="secret", namespaced=True,
    columns=(name_col(),
             col("Type", "string", lambda o: o.get("type") or "",
                 "The type of the secret"),
             col("Data", "integer", lambda o: len(o.get("data") or {}),
                 "The number of entries in the secret"),
             age_col()),
    field_selectors={"type": lambda o: o.get("type") or ""},
    default=default_secret, validate=validate_secret, validate_update=validate_secret_update,
    schema=s.kind_schema("", "v1", "Secret", "Sensitive data (credentials, keys, tokens) as "
                                             "base64-encoded key/value pairs.", {
        "data": s.string_map(s.byte_string()), "stringData": s.string_map(),
        "type": s.string(), "immutable": s.boolean(),
    }),
)

# ================================================================ serviceaccounts

SERVICEACCOUNTS = ResourceDef(
    group="", version="v1", kind="ServiceAccount", plural="serviceaccounts",
    singular="serviceaccount", namespaced=True, short_names=("sa",),
    subresources=("token",),
    columns=(name_col(),
             col("Secrets", "string", lambda o: len(o.get("secrets") or []),
                 "Secrets is a list of the secrets in the same namespace that pods running using "
                 "this ServiceAccount are allowed to use."),
             age_col()),
    validate=lambda o: validate_object_meta(o),
    validate_update=validate_object_meta_update,
    return_deleted_object=True,
    schema=s.kind_schema("", "v1", "ServiceAccount", "An identity for processes that run in pods.", {
        "secrets": s.keyed(s.OBJECT_REFERENCE, "name"),
        "imagePullSecrets": s.atomic(s.LOCAL_OBJECT_REFERENCE),
        "automountServiceAccountToken": s.boolean(),
    }),
)

# ================================================================ nodes


def node_status(node: Obj) -> str:
    parts: list[str] = []
    for c in get(node, "status.conditions") or []:
        if c.get("type") == "Ready":
            parts = ["Ready" if c.get("status") == "True" else "NotReady"]
    if not parts:
        parts = ["Unknown"]
    if get(node, "spec.unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(node: Obj) -> str:
    roles: set[str] = set()
    for k, v in (get(node, "metadata.labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/"):
            role = k[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return ",".join(sorted(roles)) or NONE


def _node_address(kind: str) -> Any:
    def fn(node: Obj) -> str:
        for a in get(node, "status.addresses") or []:
            if a.get("type") == kind:
                return a.get("address") or NONE
        return NONE
    return fn


def _node_info(key: str) -> Any:
    return lambda n: get(n, f"status.nodeInfo.{key}") or "<unknown>"


def validate_node(node: Obj) -> list[FieldError]:
    errs = validate_object_meta(node, namespaced=False)
    spec = node.get("spec") or {}
    for key in ("podCIDR",):
        if spec.get(key):
            try:
                ipaddress.ip_network(spec[key], strict=False)
            except ValueError:
                errs.append(invalid(f"spec.{key}", spec[key], "must be a valid CIDR value, "
                                                              "(e.g. 10.9.8.0/24 or 2001:db8::/64)"))
    for i, t in enumerate(spec.get("taints") or []):
        if not t.get("key"):
            errs.append(required(f"spec.taints[{i}].key"))
        errs += check_enum(t.get("effect"), f"spec.taints[{i}].effect",
                           ("NoSchedule", "PreferNoSchedule", "NoExecute"), required_=True)
    return errs


def validate_node_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    for key in ("podCIDR", "providerID"):
        ov, nv = get(old, f"spec.{key}"), get(new, f"spec.{key}")
        if ov and nv != ov:
            errs.append(forbidden(f"spec.{key}", f"{key} cannot be changed once set"
                                  if key == "providerID" else "node updates may not change podCIDR "
                                                               "except from \"\" to valid"))
    return errs


NODES = ResourceDef(
    group="", version="v1", kind="Node", plural="nodes", singular="node", namespaced=False,
    short_names=("no",), subresources=("proxy", "status"), storage_path="minions",
    columns=(
        name_col(),
        col("Status", "string", node_status, "The status of the node"),
        col("Roles", "string", node_roles, "The roles of the node"),
        age_col(),
        col("Version", "string", lambda n: get(n, "status.nodeInfo.kubeletVersion") or "",
            "Kubelet Version reported by the node."),
        wide("Internal-IP", "string", _node_address("InternalIP"),
             "List of addresses reachable to the node."),
        wide("External-IP", "string", _node_address("ExternalIP"),
             "List of addresses reachable to the node."),
        wide("OS-Image", "string", _node_info("osImage"),
             "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
        wide("Kernel-Version", "string", _node_info("kernelVersion"),
             "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
        wide("Container-Runtime", "string", _node_info("containerRuntimeVersion"),
             "ContainerRuntime Version reported by the node through runtime remote API "
             "(e.g. containerd://1.4.2)."),
    ),
    field_selectors={"spec.unschedulable":
                     lambda n: "true" if get(n, "spec.unschedulable") else "false"},
    validate=validate_node, validate_update=validate_node_update, has_status=True,
    keep_status_on_create=True,
    schema=s.kind_schema("", "v1", "Node", "A worker machine that runs pods.", {
        "spec": s.obj({
            "podCIDR": s.string(), "podCIDRs": s.arr(s.string(), strategy="merge", list_type="set"),
            "providerID": s.string(), "unschedulable": s.boolean(),
            "taints": s.atomic(s.obj({"key": s.string(), "value": s.string(),
                                      "effect": s.string(), "timeAdded": s.date_time()},
                                     ("key", "effect"))),
            "configSource": s.preserve(), "externalID": s.string(),
        }),
        "status": s.obj({
            "capacity": s.RESOURCE_LIST, "allocatable": s.RESOURCE_LIST,
            "phase": s.string(), "conditions": s.conditions(),
            "addresses": s.keyed(s.obj({"type": s.string(), "address": s.string()},
                                       ("type", "address")), "type"),
            "daemonEndpoints": s.preserve(), "nodeInfo": s.preserve(),
            "images": s.atomic(s.preserve()), "volumesInUse": s.atomic(s.string()),
            "volumesAttached": s.atomic(s.preserve()), "config": s.preserve(),
            "runtimeHandlers": s.atomic(s.preserve()), "features": s.preserve(),
        }),
    }),
)
# Nodes keep the address list merge key upstream uses.
NODES.schema["properties"]["status"]["properties"]["addresses"]["x-kubernetes-list-type"] = "atomic"  # type: ignore[index]
NODES.schema["properties"]["status"]["properties"]["addresses"].pop("x-kubernetes-list-map-keys")  # type: ignore[index]

# ================================================================ replicationcontrollers


def default_rc(rc: Obj) -> None:
    spec = rc.get("spec")
    if not isinstance(spec, dict):
        return
    tmpl_labels = get(spec, "template.metadata.labels") or {}
    if not spec.get("selector") and tmpl_labels:
        spec["selector"] = dict(tmpl_labels)
    meta = rc.setdefault("metadata", {})
    if not meta.get("labels") and tmpl_labels:
        meta["labels"] = dict(tmpl_labels)
    spec.setdefault("replicas", 1)
    spec.setdefault("minReadySeconds", 0)
    default_pod_template(spec.get("template"))


def validate_rc(rc: Obj) -> list[FieldError]:
    errs = validate_object_meta(rc)
    spec = rc.get("spec")
    if not isinstance(spec, dict):
        return errs + [required("spec")]
    errs += validate_replicas(spec)
    errs += check_non_negative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    sel = spec.get("selector") or {}
    if not sel:
        errs.append(required("spec.selector"))
    tmpl = spec.get("template")
    if tmpl is None:
        errs.append(required("spec.template"))
        return errs
    errs += validate_pod_template(tmpl, "spec.template")
    labels = get(tmpl, "metadata.labels") or {}
    if sel and any(labels.get(k) != v for k, v in sel.items()):
        errs.append(invalid("spec.template.metadata.labels", labels, SELECTOR_MISMATCH))
    errs += restart_policy_only(spec, ("Always",), "spec")
    return errs


REPLICATION_CONTROLLERS = ResourceDef(
    group="", version="v1", kind="ReplicationController", plural="replicationcontrollers",
    singular="replicationcontroller", namespaced=True, short_names=("rc",), categories=("all",),
    subresources=("scale", "status"), storage_path="controllers",
    columns=(
        name_col(),
        col("Desired", "integer", int_at("spec.replicas"),
            "Replicas is the number of desired replicas."),
        col("Current", "integer", int_at("status.replicas"),
            "Replicas is the most recently observed number of replicas."),
        col("Ready", "integer", int_at("status.readyReplicas"),
            "The number of ready replicas for this replication controller."),
        age_col(),
        *containers_cols(),
        wide("Selector", "string", lambda o: format_labels(get(o, "spec.selector")),
             "Selector is a label query over pods that should match the Replicas count."),
    ),
    field_selectors={"status.replicas": lambda o: str(get(o, "status.replicas") or 0)},
    default=default_rc, validate=validate_rc, validate_update=validate_object_meta_update,
    has_status=True, has_generation=True,
    scale=ScaleSpec(label_selector="spec.selector"),
    schema=s.kind_schema("", "v1", "ReplicationController",
                         "Keeps a fixed number of pod replicas running (the predecessor of "
                         "ReplicaSet).", {
        "spec": s.obj({"replicas": s.int32(), "minReadySeconds": s.int32(),
                       "selector": s.string_map(), "template": s.POD_TEMPLATE_SPEC}),
        "status": s.obj({"replicas": s.int32(), "fullyLabeledReplicas": s.int32(),
                         "readyReplicas": s.int32(), "availableReplicas": s.int32(),
                         "observedGeneration": s.int64(), "conditions": s.conditions()}),
    }),
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


PV_SPEC = s.obj({
    "capacity": s.RESOURCE_LIST, "accessModes": s.atomic(s.string()),
    "claimRef": s.OBJECT_REFERENCE, "persistentVolumeReclaimPolicy": s.string(),
    "storageClassName": s.string(), "mountOptions": s.atomic(s.string()),
    "volumeMode": s.string(), "nodeAffinity": s.preserve(),
    "volumeAttributesClassName": s.string(),
    **{k: s.preserve() for k in PV_SOURCES},
})

PERSISTENT_VOLUMES = ResourceDef(
    group="", version="v1", kind="PersistentVolume", plural="persistentvolumes",
    singular="persistentvolume", namespaced=False, short_names=("pv",),
    subresources=("status",),
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
    default=default_pv, validate=validate_pv, validate_update=validate_object_meta_update,
    prepare_for_create=prepare_pv,
    has_status=True, return_deleted_object=True,
    schema=s.kind_schema("", "v1", "PersistentVolume", "A piece of storage provisioned in the "
                                                       "cluster, claimed by a PVC.", {
        "spec": PV_SPEC,
        "status": s.obj({"phase": s.string(), "message": s.string(), "reason": s.string(),
                         "lastPhaseTransitionTime": s.date_time()}),
    }),
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


PERSISTENT_VOLUME_CLAIMS = ResourceDef(
    group="", version="v1", kind="PersistentVolumeClaim", plural="persistentvolumeclaims",
    singular="persistentvolumeclaim", namespaced=True, short_names=("pvc",),
    subresources=("status",),
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
    default=default_pvc, validate=validate_pvc, validate_update=validate_pvc_update,
    prepare_for_create=prepare_pvc, has_status=True, return_deleted_object=True,
    schema=s.kind_schema("", "v1", "PersistentVolumeClaim", "A user's request for storage.", {
        "spec": s.obj({
            "accessModes": s.atomic(s.string()), "selector": s.LABEL_SELECTOR,
            "resources": s.obj({"limits": s.RESOURCE_LIST, "requests": s.RESOURCE_LIST}),
            "volumeName": s.string(), "storageClassName": s.string(), "volumeMode": s.string(),
            "dataSource": s.preserve(), "dataSourceRef": s.preserve(),
            "volumeAttributesClassName": s.string(),
        }),
        "status": s.obj({"phase": s.string(), "accessModes": s.atomic(s.string()),
                         "capacity": s.RESOURCE_LIST, "conditions": s.conditions(),
                         "allocatedResources": s.RESOURCE_LIST}),
    }),
)

# ================================================================ limitranges & quotas

LIMIT_TYPES = ("Container", "Pod", "PersistentVolumeClaim")


def default_limitrange(lr: Obj) -> None:
    for item in get(lr, "spec.limits") or []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default = dict(item.get("default") or {})
        default_req = dict(item.get("defaultRequest") or {})
        for k, v in (item.get("max") or {}).items():
            default.setdefault(k, v)
        for k, v in default.items():
            default_req.setdefault(k, v)
        for k, v in (item.get("min") or {}).items():
            default_req.setdefault(k, v)
        if default:
            item["default"] = default
        if default_req:
            item["defaultRequest"] = default_req


def validate_limitrange(lr: Obj) -> list[FieldError]:
    errs = validate_object_meta(lr)
    for i, item in enumerate(get(lr, "spec.limits") or []):
        p = f"spec.limits[{i}]"
        errs += check_enum(item.get("type"), f"{p}.type", LIMIT_TYPES, required_=True)
        for part in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            for k, v in (item.get(part) or {}).items():
                if not is_quantity(v):
                    errs.append(invalid(f"{p}.{part}[{k}]", v, QUANTITY_MSG))
    return errs


def _fmt_created(o: Obj) -> str:
    return get(o, "metadata.creationTimestamp") or ""


LIMIT_ITEM = s.obj({"type": s.string(), "max": s.RESOURCE_LIST, "min": s.RESOURCE_LIST,
                    "default": s.RESOURCE_LIST, "defaultRequest": s.RESOURCE_LIST,
                    "maxLimitRequestRatio": s.RESOURCE_LIST}, ("type",))

LIMIT_RANGES = ResourceDef(
    group="", version="v1", kind="LimitRange", plural="limitranges", singular="limitrange",
    namespaced=True, short_names=("limits",),
    columns=(name_col(),
             Column("Created At", "date", _fmt_created, "",
                    "CreationTimestamp is a timestamp representing the server time when this "
                    "object was created.")),
    default=default_limitrange, validate=validate_limitrange,
    validate_update=validate_object_meta_update, return_deleted_object=True,
    allow_create_on_update=True,
    schema=s.kind_schema("", "v1", "LimitRange", "Default and bounding resource limits for the "
                                                 "objects of one namespace.", {
        "spec": s.obj({"limits": s.atomic(LIMIT_ITEM)}, ("limits",)),
    }),
)


def _quota_column(limits: bool) -> Any:
    def fn(o: Obj) -> str:
        hard_spec = get(o, "spec.hard") or {}
        used = get(o, "status.used") or {}
        hard = get(o, "status.hard") or {}
        parts = []
        for name in sorted(hard_spec):
            is_limit = name.split(".")[0] == "limits" and "." in name
            if is_limit != limits:
                continue
            parts.append(f"{name}: {used.get(name, 0)}/{hard.get(name, 0)}")
        return ", ".join(parts)
    return fn


def validate_quota(q: Obj) -> list[FieldError]:
    errs = validate_object_meta(q)
    for k, v in (get(q, "spec.hard") or {}).items():
        if not is_quantity(v):
            errs.append(invalid(f"spec.hard[{k}]", v, QUANTITY_MSG))
    for i, scope in enumerate(get(q, "spec.scopes") or []):
        errs += check_enum(scope, f"spec.scopes[{i}]",
                           ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort",
                            "PriorityClass", "CrossNamespacePodAffinity",
                            "VolumeAttributesClass"))
    return errs


RESOURCE_QUOTAS = ResourceDef(
    group="", version="v1", kind="ResourceQuota", plural="resourcequotas",
    singular="resourcequota", namespaced=True, short_names=("quota",),
    subresources=("status",),
    columns=(name_col(), age_col(),
             col("Request", "string", _quota_column(False), "Request represents a minimum amount "
                                                             "of cpu/memory that a container may consume."),
             col("Limit", "string", _quota_column(True), "Limits control the maximum amount of "
                                                          "cpu/memory that a container may use "
                                                          "independent of contention on the node.")),
    validate=validate_quota, validate_update=validate_object_meta_update,
    has_status=True, return_deleted_object=True,
    schema=s.kind_schema("", "v1", "ResourceQuota", "Caps the total resources a namespace may "
                                                    "consume.", {
        "spec": s.obj({"hard": s.RESOURCE_LIST, "scopes": s.atomic(s.string()),
                       "scopeSelector": s.preserve()}),
        "status": s.obj({"hard": s.RESOURCE_LIST, "used": s.RESOURCE_LIST}),
    }),
)

# ================================================================ the group

_ = (dns1123_subdomain, STANDARD_VERBS)  # re-exported helpers used by tests

RESOURCES: list[ResourceDef] = [
    CONFIGMAPS,
    ENDPOINTS,
    CORE_EVENTS,
    LIMIT_RANGES,
    NAMESPACES,
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    PODS,
    PODTEMPLATES,
    REPLICATION_CONTROLLERS,
    RESOURCE_QUOTAS,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
]
