"""The core group (``/api/v1``): behaviour hooks of the smaller kinds.  Structure and discovery
facts are generated (kubeapi.api.generated); pods, services, events, nodes/RCs (core_nodes) and
volumes (core_volumes) have their own modules; the catalog orders resources as upstream does."""

from __future__ import annotations

import base64
from typing import Any

from kubeapi.api import facts
from kubeapi.api.events import CORE_EVENTS
from kubeapi.api.pods import PODS, PODTEMPLATES
from kubeapi.api.printing import (
    NONE,
    age_col,
    col,
    name_col,
)
from kubeapi.api.services import SERVICES
from kubeapi.api.types import STANDARD_VERBS, Column, FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    QUANTITY_MSG,
    Errors,
    check_base64_values,
    check_config_keys,
    check_enum,
    check_ip,
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


NAMESPACES = facts.resource(
    "", "v1", "namespaces",
    columns=(name_col(),
             col("Status", "string", lambda o: get(o, "status.phase") or "",
                 "The status of the namespace"),
             age_col()),
    field_selectors={"status.phase": lambda o: get(o, "status.phase") or ""},
    default=default_namespace,
    validate=validate_namespace,
    validate_update=validate_object_meta_update,
    prepare_for_create=prepare_namespace,
    has_status=True,
    return_deleted_object=True,
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


ENDPOINTS = facts.resource(
    "", "v1", "endpoints",
    storage_path="services/endpoints",
    columns=(name_col(),
             col("Endpoints", "string", format_endpoints,
                 "The set of all endpoints is the union of all subsets."),
             age_col()),
    default=default_endpoints,
    validate=validate_endpoints,
    validate_update=validate_object_meta_update,
    allow_create_on_update=True,
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


CONFIGMAPS = facts.resource(
    "", "v1", "configmaps",
    columns=(name_col(),
             col("Data", "integer",
                 lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                 "Data contains the configuration data."),
             age_col()),
    validate=validate_configmap,
    validate_update=lambda n, o: validate_object_meta_update(n, o)
    + _immutable_data(n, o, ("data", "binaryData")),
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


SECRETS = facts.resource(
    "", "v1", "secrets",
    columns=(name_col(),
             col("Type", "string", lambda o: o.get("type") or "",
                 "The type of the secret"),
             col("Data", "integer", lambda o: len(o.get("data") or {}),
                 "The number of entries in the secret"),
             age_col()),
    field_selectors={"type": lambda o: o.get("type") or ""},
    default=default_secret,
    validate=validate_secret,
    validate_update=validate_secret_update,
)

# ================================================================ serviceaccounts

SERVICEACCOUNTS = facts.resource(
    "", "v1", "serviceaccounts",
    columns=(name_col(),
             col("Secrets", "string", lambda o: len(o.get("secrets") or []),
                 "Secrets is a list of the secrets in the same namespace that pods running using "
                 "this ServiceAccount are allowed to use."),
             age_col()),
    validate=lambda o: validate_object_meta(o),
    validate_update=validate_object_meta_update,
    return_deleted_object=True,
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


LIMIT_RANGES = facts.resource(
    "", "v1", "limitranges",
    columns=(name_col(),
             Column("Created At", "date", _fmt_created, "",
                    "CreationTimestamp is a timestamp representing the server time when this "
                    "object was created.")),
    default=default_limitrange,
    validate=validate_limitrange,
    validate_update=validate_object_meta_update,
    return_deleted_object=True,
    allow_create_on_update=True,
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


RESOURCE_QUOTAS = facts.resource(
    "", "v1", "resourcequotas",
    columns=(name_col(), age_col(),
             col("Request", "string", _quota_column(False), "Request represents a minimum amount "
                                                             "of cpu/memory that a container may consume."),
             col("Limit", "string", _quota_column(True), "Limits control the maximum amount of "
                                                          "cpu/memory that a container may use "
                                                          "independent of contention on the node.")),
    validate=validate_quota,
    validate_update=validate_object_meta_update,
    has_status=True,
    return_deleted_object=True,
)

# ================================================================ the group

_ = (dns1123_subdomain, STANDARD_VERBS)  # re-exported helpers used by tests

# Create-only / read-only kinds whose answer does not come from the generic store: bindings are
# the scheduler's write (pods/binding semantics), componentstatuses are computed upstream.
BINDINGS = facts.resource("", "v1", "bindings", virtual=True)

RESOURCES: list[ResourceDef] = [
    BINDINGS,
    CONFIGMAPS,
    ENDPOINTS,
    CORE_EVENTS,
    LIMIT_RANGES,
    NAMESPACES,
    PODS,
    PODTEMPLATES,
    RESOURCE_QUOTAS,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
]
