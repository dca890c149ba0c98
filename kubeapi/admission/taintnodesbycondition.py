"""TaintNodesByCondition: a new Node starts tainted not-ready:NoSchedule until the node lifecycle
controller sees it Ready, so nothing schedules onto a node that never reported."""

from __future__ import annotations

from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import is_core

NOT_READY = "node.kubernetes.io/not-ready"


class TaintNodesByCondition:
    name = "TaintNodesByCondition"

    async def admit(self, attrs: Attributes) -> None:
        if not is_core(attrs, "nodes") or attrs.subresource or attrs.operation != "CREATE":
            return
        node = attrs.object
        if not isinstance(node, dict):
            return
        spec = node.setdefault("spec", {})
        taints = list(spec.get("taints") or [])
        if not any(isinstance(t, dict) and t.get("key") == NOT_READY and t.get("effect") == "NoSchedule"
                   for t in taints):
            taints.append({"key": NOT_READY, "effect": "NoSchedule"})
        spec["taints"] = taints

    async def validate(self, attrs: Attributes) -> None:
        return None
