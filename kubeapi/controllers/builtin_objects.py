"""Objects kube-apiserver creates at start besides namespaces and the kubernetes Service:

- the local APIService of every built-in group-version (``kubectl get apiservices`` lists them,
  each ``Available`` with reason ``Local``);
- the flowcontrol bootstrap configuration: mandatory and suggested PriorityLevelConfigurations
  and FlowSchemas (facts in ``flowcontrol_bootstrap_data``, dumped from k8s.io/apiserver v0.34.4),
  marked ``apf.kubernetes.io/autoupdate-spec: "true"`` as upstream's ensurer does.

Each is created when missing and otherwise left alone; a lost create race (409) is fine."""

from __future__ import annotations

import copy
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
        try:
            await store.update("", name, created, WriteOptions(), subresource="status")
        except StatusError as e:
            if e.code != 409:  # 409: the APIService availability controller set it first
                raise


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


async def ensure_builtin_objects(stores: Callable[[str, str, str], Any]) -> None:
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
