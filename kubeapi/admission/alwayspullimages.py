"""AlwaysPullImages: every container (and image volume) of a pod pulls its image each start, so a
node's cached image is never used by a pod that could not pull it itself."""

from __future__ import annotations

from kubeapi import errors
from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import containers, display_name, pod_object


class AlwaysPullImages:
    name = "AlwaysPullImages"

    async def admit(self, attrs: Attributes) -> None:
        pod = pod_object(attrs)
        if pod is None or attrs.operation not in ("CREATE", "UPDATE"):
            return
        for _, c in containers(pod):
            c["imagePullPolicy"] = "Always"
        for v in (pod.get("spec") or {}).get("volumes") or []:
            if isinstance(v, dict) and isinstance(v.get("image"), dict):
                v["image"]["pullPolicy"] = "Always"

    async def validate(self, attrs: Attributes) -> None:
        pod = pod_object(attrs)
        if pod is None or attrs.operation not in ("CREATE", "UPDATE"):
            return
        for path, c in containers(pod):
            policy = c.get("imagePullPolicy", "")
            if policy != "Always":
                raise errors.forbidden("pods", "", display_name(attrs),
                                       f'{path}.imagePullPolicy: Unsupported value: "{policy}": '
                                       'supported values: "Always"')
