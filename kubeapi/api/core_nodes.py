"""Core group: nodes and replicationcontrollers (behaviour hooks; structure is generated)."""

from __future__ import annotations

import ipaddress
from typing import Any

from kubeapi.api import facts
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
from kubeapi.api.types import FieldError, Obj, ResourceDef, ScaleSpec
from kubeapi.api.validation import (
    check_enum,
    check_non_negative,
    forbidden,
    get,
    invalid,
    required,
    validate_object_meta,
    validate_object_meta_update,
)
from kubeapi.api.workloads import (
    SELECTOR_MISMATCH,
    restart_policy_only,
    validate_replicas,
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


NODES = facts.resource(
    "", "v1", "nodes",
    storage_path="minions",
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
    validate=validate_node,
    validate_update=validate_node_update,
    has_status=True,
    keep_status_on_create=True,
)
# Nodes keep the address list merge key upstream uses.
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


REPLICATION_CONTROLLERS = facts.resource(
    "", "v1", "replicationcontrollers",
    storage_path="controllers",
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
    default=default_rc,
    validate=validate_rc,
    validate_update=validate_object_meta_update,
    has_status=True,
    has_generation=True,
    scale=ScaleSpec(label_selector="spec.selector"),
)


RESOURCES: list[ResourceDef] = [NODES, REPLICATION_CONTROLLERS]
