"""apiextensions.k8s.io: CustomResourceDefinitions and the custom kinds they define.

``install(server)`` puts the CRD kind (this package's behaviour hooks, with the catalog's own
schema when it has one) in the server's catalog and returns the CRD controller to start.
"""

from __future__ import annotations

from typing import Any

from kubeapi.apiextensions.controller import CRDController
from kubeapi.apiextensions.crd import GROUP, RESOURCE, with_behaviour

READYZ_CHECK = "poststarthook/crd-informer-synced"


def install_kind(catalog: Any) -> None:
    """Serve the CRD kind with this package's hooks (keeping the catalog's schema)."""
    existing = catalog.get(GROUP, "v1", RESOURCE.plural)
    if existing is not None and getattr(existing, "make_store", None) is not None:
        return
    if existing is not None:
        catalog.remove(GROUP, "v1", RESOURCE.plural)
    catalog.add(with_behaviour(existing))


def install(server: Any, *, reactor: Any = None, resync: float = 30.0) -> CRDController:
    install_kind(server.catalog)
    server.forget_store(GROUP, "v1", RESOURCE.plural)
    controller = CRDController(server, reactor=reactor, resync=resync)
    server.crd_controller = controller
    server.add_readyz_check(READYZ_CHECK, controller.ready)
    return controller


__all__ = ["CRDController", "GROUP", "RESOURCE", "install", "install_kind"]
