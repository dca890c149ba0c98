"""The service-accounts controller (kube-controller-manager's, embedded like the namespace
controller): every active namespace gets its ``default`` ServiceAccount, which the
ServiceAccount admission plugin assigns to pods that name none."""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from kubeapi.controllers.nswatch import NamespaceWatcher
from kubeapi.errors import StatusError
from kubeapi.registry.options import WriteOptions

log = Logger()
Obj = dict[str, Any]
MANAGER = "kube-controller-manager"


class ServiceAccountsController(NamespaceWatcher):
    name = "serviceaccounts-controller"

    async def seen(self, ns: Obj) -> None:
        """Give an active namespace its ``default`` ServiceAccount."""
        meta = ns.get("metadata") or {}
        name = meta.get("name") or ""
        if not name or meta.get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            return
        sa_store = self.stores("", "v1", "serviceaccounts")
        try:
            await sa_store.get(name, "default")
            return
        except StatusError as e:
            if e.code != 404:
                raise
        try:
            await sa_store.create(name, {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": "default", "namespace": name}},
                                  WriteOptions(field_manager=MANAGER))
        except StatusError as e:
            if e.code not in (403, 404, 409):  # raced another writer, or the namespace is going away
                raise
