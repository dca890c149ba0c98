"""DefaultTolerationSeconds: pods that do not say otherwise tolerate a not-ready or unreachable
node for 300 seconds before eviction."""

from __future__ import annotations

from typing import Any

from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import pod_object

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"


def _toleration(key: str, seconds: int) -> dict[str, Any]:
    return {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}


class DefaultTolerationSeconds:
    name = "DefaultTolerationSeconds"

    def __init__(self, not_ready_seconds: int = 300, unreachable_seconds: int = 300) -> None:
        self.not_ready_seconds = not_ready_seconds
        self.unreachable_seconds = unreachable_seconds

    async def admit(self, attrs: Attributes) -> None:
        pod = pod_object(attrs)
        if pod is None or attrs.operation not in ("CREATE", "UPDATE"):
            return
        spec = pod.setdefault("spec", {})
        tols = [t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
        covers_nr = covers_ur = False
        for t in tols:
            key, effect = t.get("key") or "", t.get("effect") or ""
            if effect in ("", "NoExecute"):
                covers_nr = covers_nr or key in ("", NOT_READY)
                covers_ur = covers_ur or key in ("", UNREACHABLE)
        if not covers_nr:
            tols.append(_toleration(NOT_READY, self.not_ready_seconds))
        if not covers_ur:
            tols.append(_toleration(UNREACHABLE, self.unreachable_seconds))
        spec["tolerations"] = tols

    async def validate(self, attrs: Attributes) -> None:
        return None
