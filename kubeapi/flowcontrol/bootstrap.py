"""Upstream's bootstrap APF configuration (mandatory + suggested objects, v1.34), as
flowcontrol.apiserver.k8s.io/v1 objects: what classifies requests until objects are stored."""

from __future__ import annotations

import uuid
from typing import Any

Obj = dict[str, Any]
API_VERSION = "flowcontrol.apiserver.k8s.io/v1"
_UID_NAMESPACE = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")

ALL = ["*"]


def _meta(kind: str, name: str) -> Obj:
    # Stable UIDs for the built-in objects while none is stored (the stored ones carry their own).
    return {"name": name, "uid": str(uuid.uuid5(_UID_NAMESPACE, f"kubeapi/{kind}/{name}")),
            "annotations": {"apf.kubernetes.io/autoupdate-spec": "true"}}


def _plc(name: str, shares: int, lendable: int, queues: int = 0, hand: int = 0, length: int = 0) -> Obj:
    limit: Obj = {"type": "Reject"}
    if queues:
        limit = {"type": "Queue", "queuing": {"queues": queues, "handSize": hand, "queueLengthLimit": length}}
    return {"apiVersion": API_VERSION, "kind": "PriorityLevelConfiguration", "metadata": _meta("plc", name),
            "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": shares,
                                                    "lendablePercent": lendable, "limitResponse": limit}}}


def _groups(*names: str) -> list[Obj]:
    return [{"kind": "Group", "group": {"name": n}} for n in names]


def _users(*names: str) -> list[Obj]:
    return [{"kind": "User", "user": {"name": n}} for n in names]


def _kube_system_sa() -> list[Obj]:
    return [{"kind": "ServiceAccount", "serviceAccount": {"namespace": "kube-system", "name": "*"}}]


def _everything(subjects: list[Obj]) -> Obj:
    return {"subjects": subjects,
            "resourceRules": [{"verbs": ALL, "apiGroups": ALL, "resources": ALL, "namespaces": ALL,
                               "clusterScope": True}],
            "nonResourceRules": [{"verbs": ALL, "nonResourceURLs": ALL}]}


def _fs(name: str, level: str, precedence: int, distinguisher: str, rules: list[Obj]) -> Obj:
    spec: Obj = {"priorityLevelConfiguration": {"name": level}, "matchingPrecedence": precedence,
                 "rules": rules}
    if distinguisher:
        spec["distinguisherMethod"] = {"type": distinguisher}
    return {"apiVersion": API_VERSION, "kind": "FlowSchema", "metadata": _meta("fs", name), "spec": spec}


EXEMPT_PLC: Obj = {"apiVersion": API_VERSION, "kind": "PriorityLevelConfiguration",
                   "metadata": _meta("plc", "exempt"),
                   "spec": {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}}

MANDATORY_PRIORITY_LEVELS: list[Obj] = [_plc("catch-all", 5, 0), EXEMPT_PLC]
MANDATORY_FLOW_SCHEMAS: list[Obj] = [
    _fs("exempt", "exempt", 1, "", [_everything(_groups("system:masters"))]),
    _fs("catch-all", "catch-all", 10000, "ByUser",
        [_everything(_groups("system:unauthenticated", "system:authenticated"))]),
]
SUGGESTED_PRIORITY_LEVELS: list[Obj] = [
    _plc("system", 30, 33, 64, 6, 50),
    _plc("node-high", 40, 25, 64, 6, 50),
    _plc("leader-election", 10, 0, 16, 4, 50),
    _plc("workload-high", 40, 50, 128, 6, 50),
    _plc("workload-low", 100, 90, 128, 6, 50),
    _plc("global-default", 20, 50, 128, 6, 50),
]
SUGGESTED_FLOW_SCHEMAS: list[Obj] = [
    _fs("system-nodes", "system", 500, "ByUser", [_everything(_groups("system:nodes"))]),
    _fs("system-node-high", "node-high", 400, "ByUser", [{
        "subjects": _groups("system:nodes"),
        "resourceRules": [
            {"verbs": ALL, "apiGroups": [""], "resources": ["nodes", "nodes/status"], "namespaces": ALL,
             "clusterScope": True},
            {"verbs": ALL, "apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "namespaces": ALL},
        ]}]),
    _fs("probes", "exempt", 2, "", [{
        "subjects": _groups("system:unauthenticated", "system:authenticated"),
        "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]}]),
    _fs("system-leader-election", "leader-election", 100, "ByUser", [{
        "subjects": _users("system:kube-controller-manager", "system:kube-scheduler") + _kube_system_sa(),
        "resourceRules": [{"verbs": ["get", "create", "update"], "apiGroups": ["coordination.k8s.io"],
                           "resources": ["leases"], "namespaces": ALL}]}]),
    _fs("kube-controller-manager", "workload-high", 800, "ByNamespace",
        [_everything(_users("system:kube-controller-manager"))]),
    _fs("kube-scheduler", "workload-high", 800, "ByNamespace", [_everything(_users("system:kube-scheduler"))]),
    _fs("kube-system-service-accounts", "workload-high", 900, "ByNamespace", [_everything(_kube_system_sa())]),
    _fs("service-accounts", "workload-low", 9000, "ByUser", [_everything(_groups("system:serviceaccounts"))]),
    _fs("global-default", "global-default", 9900, "ByUser",
        [_everything(_groups("system:unauthenticated", "system:authenticated"))]),
]


def bootstrap_objects() -> tuple[list[Obj], list[Obj]]:
    """(FlowSchemas, PriorityLevelConfigurations) of upstream's bootstrap configuration."""
    return MANDATORY_FLOW_SCHEMAS + SUGGESTED_FLOW_SCHEMAS, MANDATORY_PRIORITY_LEVELS + SUGGESTED_PRIORITY_LEVELS
