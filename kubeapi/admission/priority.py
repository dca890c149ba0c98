"""Priority: a pod's priorityClassName (or the globalDefault class) becomes its integer priority
and preemptionPolicy; at most one PriorityClass may be the global default."""

from __future__ import annotations

from typing import Any

from kubeapi import errors
from kubeapi.admission.context import PluginContext
from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import display_name, pod_object


class Priority:
    name = "Priority"

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx

    async def _default_class(self) -> dict[str, Any] | None:
        """The global default with the lowest value, should a race have made two."""
        best: dict[str, Any] | None = None
        for pc in await self._ctx.list("priorityclasses"):
            if pc.get("globalDefault") and (best is None or int(pc.get("value", 0)) < int(best.get("value", 0))):
                best = pc
        return best

    async def admit(self, attrs: Attributes) -> None:
        pod = pod_object(attrs)
        if pod is None:
            return
        spec = pod.setdefault("spec", {})
        if attrs.operation == "UPDATE":
            old = (attrs.old_object or {}).get("spec") or {}
            for k in ("priority", "preemptionPolicy"):
                if spec.get(k) is None and old.get(k) is not None:
                    spec[k] = old[k]
            return
        if attrs.operation != "CREATE":
            return
        name = spec.get("priorityClassName") or ""
        if not name:
            pc = await self._default_class()
            if pc is not None:
                spec["priorityClassName"] = pc["metadata"]["name"]
            priority = int(pc.get("value", 0)) if pc else 0
            policy = pc.get("preemptionPolicy") if pc else "PreemptLowerPriority"
        else:
            pc = await self._ctx.get("priorityclasses", "", name)
            if pc is None:
                raise errors.forbidden("pods", "", display_name(attrs), f"no PriorityClass with name {name} was found")
            priority, policy = int(pc.get("value", 0)), pc.get("preemptionPolicy")
        given = spec.get("priority")
        if given is not None and given != priority:
            raise errors.forbidden("pods", "", display_name(attrs), (
                f"the integer value of priority ({given}) must not be provided in pod spec; priority "
                f"admission controller computed {priority} from the given PriorityClass name"))
        spec["priority"] = priority
        if policy is not None:
            given_p = spec.get("preemptionPolicy")
            if given_p is not None and given_p != policy:
                raise errors.forbidden("pods", "", display_name(attrs), (
                    f"the string value of PreemptionPolicy ({given_p}) must not be provided in pod spec; "
                    f"priority admission controller computed {policy} from the given PriorityClass name"))
            spec["preemptionPolicy"] = policy

    async def validate(self, attrs: Attributes) -> None:
        r = attrs.resource
        if r.group != "scheduling.k8s.io" or r.plural != "priorityclasses" or attrs.subresource:
            return
        pc = attrs.object
        if attrs.operation not in ("CREATE", "UPDATE") or not isinstance(pc, dict) or not pc.get("globalDefault"):
            return
        dpc = await self._default_class()
        if dpc is None:
            return
        if attrs.operation == "CREATE" or dpc["metadata"]["name"] != attrs.name:
            raise errors.forbidden(r.plural, r.group, display_name(attrs),
                                   f"PriorityClass {dpc['metadata']['name']} is already marked as default. "
                                   "Only one default can exist")
