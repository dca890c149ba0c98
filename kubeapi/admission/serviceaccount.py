"""ServiceAccount: a pod runs as a service account (``default`` unless named) that must exist,
inherits its imagePullSecrets, and gets the projected API-access volume (bound token, the
cluster CA from kube-root-ca.crt, its namespace) mounted in every container."""

from __future__ import annotations

import random
from typing import Any

from twisted.internet import task

from kubeapi import errors
from kubeapi.admission.context import PluginContext
from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import display_name, is_core

DEFAULT_SA = "default"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
TOKEN_EXPIRATION = 3607
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream's name-suffix alphabet (no vowels, no 0/1/3)


def api_access_volume(name: str) -> dict[str, Any]:
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


def _has_secret_refs(spec: dict[str, Any]) -> bool:
    if spec.get("imagePullSecrets"):
        return True
    for v in spec.get("volumes") or []:
        if (v.get("secret") or {}).get("secretName"):
            return True
        for src in (v.get("projected") or {}).get("sources") or []:
            if src.get("secret"):
                return True
    for part in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(part) or []:
            if any((e.get("valueFrom") or {}).get("secretKeyRef") for e in c.get("env") or []):
                return True
            if any(e.get("secretRef") for e in c.get("envFrom") or []):
                return True
    return False


class ServiceAccount:
    name = "ServiceAccount"

    def __init__(self, ctx: PluginContext, clock: Any = None, mount_token: bool = True) -> None:
        self._ctx = ctx
        self._clock = clock
        self.mount_token = mount_token

    async def _service_account(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Read it; the default account is waited for briefly, as the controller may be creating it."""
        attempts = 10 if name == DEFAULT_SA else 1
        for i in range(attempts):
            if i:
                clock = self._clock
                if clock is None:
                    from twisted.internet import reactor as clock  # type: ignore[no-redef]
                await task.deferLater(clock, (100 + random.randrange(100)) / 1000.0, lambda: None)
            sa = await self._ctx.get("serviceaccounts", namespace, name)
            if sa is not None:
                return sa
        return None

    def _refuse(self, attrs: Attributes, why: str) -> errors.StatusError:
        return errors.forbidden("pods", "", display_name(attrs), why)

    async def admit(self, attrs: Attributes) -> None:
        if not is_core(attrs, "pods") or attrs.subresource or attrs.operation != "CREATE":
            return
        pod = attrs.object
        if not isinstance(pod, dict):
            return
        spec = pod.setdefault("spec", {})
        if MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {}):
            return
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = DEFAULT_SA
        sa_name = spec["serviceAccountName"]
        spec.setdefault("serviceAccount", sa_name)  # the deprecated alias, as conversion keeps it
        sa = await self._service_account(attrs.namespace, sa_name)
        if sa is None:
            raise self._refuse(attrs, f"error looking up service account {attrs.namespace}/{sa_name}: "
                                      f'serviceaccount "{sa_name}" not found')
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = sa.get("automountServiceAccountToken")
        if self.mount_token and automount is not False:
            self._mount(spec)
        if not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name", "")} for s in sa["imagePullSecrets"]]

    @staticmethod
    def _mount(spec: dict[str, Any]) -> None:
        vol_name = "kube-api-access-" + "".join(random.choice(_ALPHABET) for _ in range(5))
        needed = False
        for part in ("initContainers", "containers"):
            for c in spec.get(part) or []:
                mounts = list(c.get("volumeMounts") or [])
                if any(m.get("mountPath") == MOUNT_PATH for m in mounts):
                    continue
                mounts.append({"name": vol_name, "readOnly": True, "mountPath": MOUNT_PATH})
                c["volumeMounts"] = mounts
                needed = True
        vols = list(spec.get("volumes") or [])
        if needed and not any(v.get("name") == vol_name for v in vols):
            vols.append(api_access_volume(vol_name))
            spec["volumes"] = vols

    async def validate(self, attrs: Attributes) -> None:
        if not is_core(attrs, "pods") or attrs.subresource or attrs.operation != "CREATE":
            return
        pod = attrs.object
        if not isinstance(pod, dict):
            return
        spec = pod.get("spec") or {}
        if MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {}):
            if spec.get("serviceAccountName"):
                raise self._refuse(attrs, "a mirror pod may not reference service accounts")
            if _has_secret_refs(spec):
                raise self._refuse(attrs, "a mirror pod may not reference secrets")
            for v in spec.get("volumes") or []:
                if any(s.get("serviceAccountToken") for s in (v.get("projected") or {}).get("sources") or []):
                    raise self._refuse(attrs, "a mirror pod may not use ServiceAccountToken volume projections")
            return
        sa_name = spec.get("serviceAccountName") or ""
        if not sa_name:
            raise self._refuse(attrs, f"no service account specified for pod {attrs.namespace}/{attrs.name}")
        if await self._ctx.get("serviceaccounts", attrs.namespace, sa_name) is None:
            raise self._refuse(attrs, f"error looking up service account {attrs.namespace}/{sa_name}: "
                                      f'serviceaccount "{sa_name}" not found')

