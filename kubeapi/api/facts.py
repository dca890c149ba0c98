"""Build a ResourceDef from upstream's generated facts plus a kind's hand-written hooks.

``resource(group, version, plural, **hooks)`` takes kind, singular, scope, short names,
categories, verbs, subresources and the OpenAPI schema from ``kubeapi.api.generated``; the
keyword arguments are the behaviour (defaulting, validation, columns, field selectors,
strategy flags, storage path) and may override any fact.
"""

from __future__ import annotations

from typing import Any

from kubeapi.api import generated
from kubeapi.api.types import ResourceDef


def resource(group: str, version: str, plural: str, **hooks: Any) -> ResourceDef:
    f = generated.resource_fact(group, version, plural)
    if f is None:
        raise KeyError(f"{plural}.{group}/{version} is not served by kube-apiserver {generated.API_LEVEL}")
    subs = tuple(sub["name"] for sub in f["subresources"])
    kw: dict[str, Any] = {
        "kind": f["kind"], "singular": f["singularName"], "namespaced": f["namespaced"],
        "short_names": tuple(f["shortNames"]), "categories": tuple(f["categories"]),
        "verbs": tuple(f["verbs"]), "subresources": subs,
        "schema": generated.kind_schema(group, version, f["kind"]),
        "has_status": "status" in subs, "facts": f,
    }
    kw.update(hooks)
    return ResourceDef(group=group, version=version, plural=plural, **kw)
