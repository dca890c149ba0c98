"""Small helpers plugins share for pods: which attributes concern a pod, and its containers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeapi.admission.interface import Attributes


def is_core(attrs: Attributes, plural: str) -> bool:
    return attrs.resource.group == "" and attrs.resource.plural == plural


def pod_object(attrs: Attributes) -> dict[str, Any] | None:
    """The pod of a CREATE/UPDATE on pods itself (no subresource), else None."""
    if not is_core(attrs, "pods") or attrs.subresource or not isinstance(attrs.object, dict):
        return None
    return attrs.object


def containers(pod: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, container) for init, regular and ephemeral containers, in upstream's order."""
    spec = pod.get("spec") or {}
    for part in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(part) or []):
            if isinstance(c, dict):
                yield f"spec.{part}[{i}]", c


def display_name(attrs: Attributes) -> str:
    meta = (attrs.object or {}).get("metadata") or {}
    return attrs.name or meta.get("name") or meta.get("generateName") or ""
