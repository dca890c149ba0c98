"""Admission plugins on the real catalog's pods/quotas/... stores over a fresh SQLite store."""

from __future__ import annotations

from typing import Any

from kubeapi.admission.plugins import PluginContext, build
from kubeapi.api import builtin_catalog
from kubeapi.registry.store import ResourceStore
from tests.registry.test_store_fixtures import StoreCase, W, async_test

CATALOG = builtin_catalog()
GVR = {"pods": ("", "v1", "pods"), "resourcequotas": ("", "v1", "resourcequotas"),
       "namespaces": ("", "v1", "namespaces"), "services": ("", "v1", "services"),
       "configmaps": ("", "v1", "configmaps"), "serviceaccounts": ("", "v1", "serviceaccounts"),
       "nodes": ("", "v1", "nodes"), "priorityclasses": ("scheduling.k8s.io", "v1", "priorityclasses"),
       "pvcs": ("", "v1", "persistentvolumeclaims"), "pvs": ("", "v1", "persistentvolumes"),
       "storageclasses": ("storage.k8s.io", "v1", "storageclasses"),
       "ingresses": ("networking.k8s.io", "v1", "ingresses"),
       "ingressclasses": ("networking.k8s.io", "v1", "ingressclasses"),
       "limitranges": ("", "v1", "limitranges"), "deployments": ("apps", "v1", "deployments"),
       "runtimeclasses": ("node.k8s.io", "v1", "runtimeclasses")}

__all__ = ["AdmissionCase", "W", "async_test", "pod"]


def pod(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", None) or [{"name": "c", "image": "nginx"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": containers, **spec}}


class AdmissionCase(StoreCase):
    plugins: tuple[str, ...] = ()
    config: dict[str, Any] = {}

    def stores(self, names: tuple[str, ...] | None = None) -> dict[str, ResourceStore]:
        plugins, skipped = build(list(names if names is not None else self.plugins),
                                 PluginContext(self.storage, "/registry", "application/json", dict(self.config)))
        assert not skipped, skipped
        out = {}
        for short, gvr in GVR.items():
            rdef = CATALOG.get(*gvr)
            assert rdef is not None, gvr
            out[short] = ResourceStore(rdef, self.storage, self.ctx, admission=plugins, clock=self.clock)
        return out
