"""The pod subresources that write part of the spec: ``ephemeralcontainers`` (kubectl debug)
and ``resize`` (in-place resource changes).  Each takes only its own fields from the request
and keeps the rest of the stored pod, as upstream's per-subresource strategies do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeapi import errors
from kubeapi.api.types import FieldError
from kubeapi.registry import meta

Obj = dict[str, Any]
POD_SPEC_SUBRESOURCES = frozenset({"ephemeralcontainers", "resize"})


def pod_spec_update(old: Obj, new: Obj, subresource: str,
                    invalid: Callable[[str, list[FieldError]], errors.StatusError]) -> Obj:
    out = meta.deepcopy(old)
    spec = out.setdefault("spec", {})
    new_spec = new.get("spec") or {}
    name = (old.get("metadata") or {}).get("name", "")
    if subresource == "ephemeralcontainers":
        errs = _ephemeral_errors(spec.get("ephemeralContainers") or [], new_spec.get("ephemeralContainers") or [])
        if errs:
            raise invalid(name, errs)
        if new_spec.get("ephemeralContainers"):
            spec["ephemeralContainers"] = new_spec["ephemeralContainers"]
        else:
            spec.pop("ephemeralContainers", None)
    else:
        for field in ("containers", "initContainers"):
            wanted = {c.get("name"): c for c in new_spec.get(field) or [] if isinstance(c, dict)}
            for c in spec.get(field) or []:
                w = wanted.get(c.get("name"))
                if w is None:
                    continue
                for f in ("resources", "resizePolicy"):
                    if f in w:
                        c[f] = w[f]
                    else:
                        c.pop(f, None)
    nm = new.get("metadata") or {}
    if "managedFields" in nm:
        meta.meta(out)["managedFields"] = nm["managedFields"]
    return out


def _ephemeral_errors(old: list[Obj], new: list[Obj]) -> list[FieldError]:
    """Ephemeral containers may be added, never changed or removed."""
    errs: list[FieldError] = []
    by_name = {c.get("name"): c for c in new if isinstance(c, dict)}
    for c in old:
        n = c.get("name")
        if n not in by_name:
            errs.append(FieldError("FieldValueForbidden", "spec.ephemeralContainers",
                                   f'existing ephemeral containers "{n}" may not be removed'))
        elif by_name[n] != c:
            errs.append(FieldError("FieldValueForbidden", "spec.ephemeralContainers",
                                   f'existing ephemeral containers "{n}" may not be changed'))
    return errs
