"""Objects kube-apiserver creates at start besides namespaces and the kubernetes Service:

- the local APIService of every built-in group-version (``kubectl get apiservices`` lists them,
  each ``Available`` with reason ``Local``);
- the flowcontrol bootstrap configuration: mandatory and suggested PriorityLevelConfigurations
  and FlowSchemas (facts in ``flowcontrol_bootstrap_data``, dumped from k8s.io/apiserver v0.34.4),
  marked ``apf.kubernetes.io/autoupdate-spec: "true"`` as upstream's ensurer does;
- ``kube-system/kube-apiserver-legacy-service-account-token-tracking`` (``data.since``: the UTC
  date tracking began), which kube-controller-manager's legacy token cleaner reads.

Each is created when missing and otherwise left alone; a lost create race (409) is fine."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from typing import Any

from kubeapi.api import generated
from kubeapi.api.apiregistration import local_apiservices
from kubeapi.controllers import flowcontrol_bootstrap_data as fc
from kubeapi.errors import StatusError
from kubeapi.registry.options import WriteOptions

Obj = dict[str, Any]
AUTOUPDATE = "apf.kubernetes.io/autoupdate-spec"
FLOWCONTROL = "flowcontrol.apiserver.k8s.io"
LOCAL_AVAILABLE = {"type": "Available", "status": "True", "reason": "Local",
                   "message": "Local APIServices are always available"}


async def _ensure(store: Any, obj: Obj, status: Obj | None = None) -> None:
    name = obj["metadata"]["name"]
    try:
        await store.get("", name)
        return
    except StatusError as e:
        if e.code != 404:
            raise
    try:
        created = await store.create("", copy.deepcopy(obj), WriteOptions())
    except StatusError as e:
        if e.code == 409:
            return
        raise
    if status is not None:
        stamp = created["metadata"].get("creationTimestamp")
        created["status"] = {"conditions": [dict(c, lastTransitionTime=stamp) for c in status.get("conditions", [])]}
        await store.update("", name, created, WriteOptions(), subresource="status")


def flowcontrol_objects() -> tuple[list[Obj], list[Obj]]:
    """(priority levels, flow schemas): mandatory first, then suggested."""
    def mark(o: Obj, kind: str) -> Obj:
        out = copy.deepcopy(o)
        out["apiVersion"] = f"{FLOWCONTROL}/v1"
        out["kind"] = kind
        out.setdefault("metadata", {}).setdefault("annotations", {})[AUTOUPDATE] = "true"
        out.pop("status", None)
        return out
    pls = [mark(o, "PriorityLevelConfiguration") for o in fc.MANDATORY_PRIORITY_LEVELS + fc.SUGGESTED_PRIORITY_LEVELS]
    fss = [mark(o, "FlowSchema") for o in fc.MANDATORY_FLOW_SCHEMAS + fc.SUGGESTED_FLOW_SCHEMAS]
    return pls, fss


TOKEN_TRACKING = "kube-apiserver-legacy-service-account-token-tracking"


async def ensure_builtin_objects(stores: Callable[[str, str, str], Any]) -> None:
    since = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    cm_store = stores("", "v1", "configmaps")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": TOKEN_TRACKING, "namespace": "kube-system"},
          "data": {"since": since}}
    try:
        await cm_store.get("kube-system", TOKEN_TRACKING)
    except StatusError as e:
        if e.code != 404:
            raise
        try:
            await cm_store.create("kube-system", cm, WriteOptions())
        except StatusError as e2:
            if e2.code != 409:
                raise
    svc_store = stores("apiregistration.k8s.io", "v1", "apiservices")
    for svc in local_apiservices(generated.group_versions()):
        await _ensure(svc_store, svc, {"conditions": [dict(LOCAL_AVAILABLE)]})
    pls, fss = flowcontrol_objects()
    pl_store = stores(FLOWCONTROL, "v1", "prioritylevelconfigurations")
    for pl in pls:
        await _ensure(pl_store, pl)
    fs_store = stores(FLOWCONTROL, "v1", "flowschemas")
    for fs in fss:
        await _ensure(fs_store, fs)
