"""RuntimeClass: a pod naming a RuntimeClass gets its fixed overhead and its scheduling
constraints (nodeSelector merged, tolerations added); a mismatch or a missing class is refused."""

from __future__ import annotations

from typing import Any

from kubeapi import errors
from kubeapi.admission.context import PluginContext
from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import display_name, is_core
from kubeapi.admission.quantity import parse


def _same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    try:
        pa = {k: parse(v).value for k, v in (a or {}).items()}
        pb = {k: parse(v).value for k, v in (b or {}).items()}
    except ValueError:
        return a == b
    return pa == pb


class RuntimeClass:
    name = "RuntimeClass"

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx

    async def _prepare(self, attrs: Attributes) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        if not is_core(attrs, "pods") or attrs.subresource or attrs.operation != "CREATE":
            return None
        pod = attrs.object
        if not isinstance(pod, dict):
            return None
        name = (pod.get("spec") or {}).get("runtimeClassName")
        if name is None:
            return pod, None
        rc = await self._ctx.get("runtimeclasses", "", name)
        if rc is None:
            raise errors.forbidden("pods", "", display_name(attrs), f'pod rejected: RuntimeClass "{name}" not found')
        return pod, rc

    async def admit(self, attrs: Attributes) -> None:
        got = await self._prepare(attrs)
        if got is None or got[1] is None:
            return
        pod, rc = got
        assert rc is not None
        spec = pod.setdefault("spec", {})
        fixed = (rc.get("overhead") or {}).get("podFixed")
        if rc.get("overhead") is not None:
            if spec.get("overhead") and not _same(spec["overhead"], fixed):
                raise errors.forbidden("pods", "", display_name(attrs),
                                       "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
            if fixed is not None:
                spec["overhead"] = dict(fixed)
        sched = rc.get("scheduling")
        if not sched:
            return
        selector = dict(spec.get("nodeSelector") or {})
        for k, v in sorted((sched.get("nodeSelector") or {}).items()):
            if k in selector and selector[k] != v:
                raise errors.forbidden("pods", "", display_name(attrs), (
                    f"conflict: runtimeClass.scheduling.nodeSelector[{k}] = {v}; pod.spec.nodeSelector[{k}] = "
                    f"{selector[k]}"))
            selector[k] = v
        if selector:
            spec["nodeSelector"] = selector
        tols = list(spec.get("tolerations") or [])
        for t in sched.get("tolerations") or []:
            if t not in tols:
                tols.append(t)
        if tols:
            spec["tolerations"] = tols

    async def validate(self, attrs: Attributes) -> None:
        got = await self._prepare(attrs)
        if got is None:
            return
        pod, rc = got
        overhead = (pod.get("spec") or {}).get("overhead")
        if rc is not None and rc.get("overhead") is not None:
            if not _same(overhead, (rc.get("overhead") or {}).get("podFixed")):
                raise errors.forbidden("pods", "", display_name(attrs),
                                       "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
        elif overhead is not None:
            raise errors.forbidden("pods", "", display_name(attrs),
                                   "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")
