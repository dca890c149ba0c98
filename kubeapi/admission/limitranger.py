"""LimitRanger: a namespace's LimitRanges default the resources of new pods' containers (noting
what was set in the ``kubernetes.io/limit-ranger`` annotation) and bound containers, pods and
claims by min, max and maxLimitRequestRatio."""

from __future__ import annotations

from typing import Any

from kubeapi import errors
from kubeapi.admission.context import PluginContext
from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import display_name, is_core
from kubeapi.admission.quantity import Quantity, parse
from kubeapi.admission.resourcequota import _pod_totals

ANNOTATION = "kubernetes.io/limit-ranger"
Obj = dict[str, Any]


def _q(v: Any) -> Quantity | None:
    try:
        return parse(v)
    except ValueError:
        return None


def _list(d: Any) -> dict[str, Quantity]:
    out = {}
    for k, v in (d or {}).items():
        q = _q(v)
        if q is not None:
            out[k] = q
    return out


def _min(kind: str, name: str, enforced: Quantity, req: dict[str, Quantity], lim: dict[str, Quantity]) -> str | None:
    if name not in req:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if req[name].value < enforced.value:
        return f"minimum {name} usage per {kind} is {enforced}, but request is {req[name]}"
    if name in lim and lim[name].value < enforced.value:
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {lim[name]}"
    return None


def _max(kind: str, name: str, enforced: Quantity, req: dict[str, Quantity], lim: dict[str, Quantity]) -> str | None:
    if name not in lim:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if lim[name].value > enforced.value:
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {lim[name]}"
    if name in req and req[name].value > enforced.value:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {req[name]}"
    return None


def _max_request(kind: str, name: str, enforced: Quantity, req: dict[str, Quantity]) -> str | None:
    if name not in req:
        return f"maximum {name} usage per {kind} is {enforced}.  No request is specified"
    if req[name].value > enforced.value:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {req[name]}"
    return None


def _ratio(kind: str, name: str, enforced: Quantity, req: dict[str, Quantity], lim: dict[str, Quantity]) -> str | None:
    r, li = req.get(name), lim.get(name)
    if r is None or r.value == 0:
        return (f"{name} max limit to request ratio per {kind} is {enforced}, but no request is specified "
                "or request is 0")
    if li is None or li.value == 0:
        return (f"{name} max limit to request ratio per {kind} is {enforced}, but no limit is specified "
                "or limit is 0")
    observed = li.value / r.value
    if observed > enforced.value:
        return (f"{name} max limit to request ratio per {kind} is {enforced}, but provided ratio is "
                f"{float(observed):f}")
    return None


def _check(kind: str, item: Obj, req: dict[str, Quantity], lim: dict[str, Quantity]) -> list[str]:
    errs: list[str] = []
    for name, q in sorted(_list(item.get("min")).items()):
        errs.append(_min(kind, name, q, req, lim) or "")
    for name, q in sorted(_list(item.get("max")).items()):
        errs.append(_max(kind, name, q, req, lim) or "")
    for name, q in sorted(_list(item.get("maxLimitRequestRatio")).items()):
        errs.append(_ratio(kind, name, q, req, lim) or "")
    return [e for e in errs if e]


def _aggregate(errs: list[str]) -> str:
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


class LimitRanger:
    name = "LimitRanger"

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx

    async def _items(self, namespace: str, kind: str) -> list[Obj]:
        out = []
        for lr in await self._ctx.list("limitranges", namespace):
            out += [i for i in (lr.get("spec") or {}).get("limits") or [] if isinstance(i, dict) and i.get("type") == kind]
        return out

    @staticmethod
    def _applies(attrs: Attributes) -> str:
        if attrs.subresource or not attrs.namespace or not isinstance(attrs.object, dict):
            return ""
        if is_core(attrs, "pods") and attrs.operation == "CREATE":
            return "pod"
        if is_core(attrs, "persistentvolumeclaims") and attrs.operation in ("CREATE", "UPDATE"):
            return "pvc"
        return ""

    async def admit(self, attrs: Attributes) -> None:
        if self._applies(attrs) != "pod":
            return
        items = await self._items(attrs.namespace, "Container")
        if not items:
            return
        limits: Obj = {}
        requests: Obj = {}
        for item in items:
            limits.update(item.get("default") or {})
            requests.update(item.get("defaultRequest") or {})
        pod = attrs.object or {}
        spec = pod.get("spec") or {}
        notes: list[str] = []
        for prefix, part in (("container", "containers"), ("init container", "initContainers")):
            for c in spec.get(part) or []:
                res = c.setdefault("resources", {})
                set_req = sorted(k for k in requests if k not in (res.get("requests") or {}))
                set_lim = sorted(k for k in limits if k not in (res.get("limits") or {}))
                if set_lim:
                    res["limits"] = {**(res.get("limits") or {}), **{k: limits[k] for k in set_lim}}
                if set_req:
                    res["requests"] = {**(res.get("requests") or {}), **{k: requests[k] for k in set_req}}
                if set_req:
                    notes.append(f"{', '.join(set_req)} request for {prefix} {c.get('name', '')}")
                if set_lim:
                    notes.append(f"{', '.join(set_lim)} limit for {prefix} {c.get('name', '')}")
        if notes:
            meta = pod.setdefault("metadata", {})
            meta["annotations"] = {**(meta.get("annotations") or {}),
                                   ANNOTATION: "LimitRanger plugin set: " + "; ".join(notes)}

    async def validate(self, attrs: Attributes) -> None:
        which = self._applies(attrs)
        if not which:
            return
        obj = attrs.object or {}
        errs: list[str] = []
        if which == "pod":
            spec = obj.get("spec") or {}
            for item in await self._items(attrs.namespace, "Container"):
                for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
                    res = c.get("resources") or {}
                    errs += _check("Container", item, _list(res.get("requests")), _list(res.get("limits")))
            for item in await self._items(attrs.namespace, "Pod"):
                errs += _check("Pod", item, _pod_totals(obj, "requests"), _pod_totals(obj, "limits"))
        else:
            res = (obj.get("spec") or {}).get("resources") or {}
            req = _list(res.get("requests"))
            for item in await self._items(attrs.namespace, "PersistentVolumeClaim"):
                for name, q in sorted(_list(item.get("min")).items()):
                    errs.append(_min("PersistentVolumeClaim", name, q, req, _list(res.get("limits"))) or "")
                for name, q in sorted(_list(item.get("max")).items()):
                    errs.append(_max_request("PersistentVolumeClaim", name, q, req) or "")
            errs = [e for e in errs if e]
        if errs:
            raise errors.forbidden(attrs.resource.plural, attrs.resource.group, display_name(attrs), _aggregate(errs))
