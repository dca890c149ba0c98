"""NamespaceLifecycle: no content in missing or terminating namespaces, and the system
namespaces can never be deleted.  Reads namespaces straight from storage so it never
trusts a stale cache."""

from __future__ import annotations

from typing import Any

from kubeapi import errors
from kubeapi.admission.interface import Attributes
from kubeapi.admission.reads import cached_get
from kubeapi.registry.codec import decode_stored
from kubeapi.storage.interface import Storage

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
# Reviews answer questions about a namespace; refusing them would leak its state.
_ACCESS_REVIEWS = frozenset({("authorization.k8s.io", "localsubjectaccessreviews")})


def _is_namespace(attrs: Attributes) -> bool:
    r = attrs.resource
    return r.group == "" and r.kind == "Namespace"


def _name_for_error(attrs: Attributes) -> str:
    """Before name generation the object may only carry generateName; use it as upstream."""
    if attrs.name:
        return attrs.name
    obj: Any = attrs.object
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(meta, dict):
        return meta.get("name") or meta.get("generateName") or "Unknown"
    return "Unknown"


class NamespaceLifecycle:
    name = "NamespaceLifecycle"

    def __init__(self, storage: Storage, prefix: str = "/registry") -> None:
        self._storage = storage
        self._prefix = prefix.rstrip("/")

    async def admit(self, attrs: Attributes) -> None:
        r = attrs.resource
        if _is_namespace(attrs) or not attrs.namespace:
            if attrs.operation == "DELETE" and _is_namespace(attrs) and attrs.name in IMMORTAL_NAMESPACES:
                raise errors.forbidden(r.plural, r.group, attrs.name, "this namespace may not be deleted")
            return
        if attrs.operation not in ("CREATE", "UPDATE"):
            return
        if (r.group, r.plural) in _ACCESS_REVIEWS:
            return
        kv = await cached_get(self._storage, f"{self._prefix}/namespaces/{attrs.namespace}")
        if kv is None:
            raise errors.not_found("namespaces", "", attrs.namespace)
        if attrs.operation != "CREATE":
            return
        ns = decode_stored(kv.value)  # JSON or protobuf, whatever the store wrote
        if (ns.get("status") or {}).get("phase") != "Terminating":
            return
        err = errors.forbidden(
            r.plural, r.group, _name_for_error(attrs),
            f"unable to create new content in namespace {attrs.namespace} because it is being terminated")
        details = err.details if err.details is not None else {}
        details["causes"] = [{"reason": "NamespaceTerminating",
                              "message": f"namespace {attrs.namespace} is being terminated",
                              "field": "metadata.namespace"}]
        err.details = details
        raise err

    async def validate(self, attrs: Attributes) -> None:
        return None
