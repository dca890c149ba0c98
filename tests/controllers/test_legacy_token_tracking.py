"""The bootstrap controller keeps kube-system/kube-apiserver-legacy-service-account-token-tracking,
which kube-controller-manager's legacy service-account token cleaner reads (it logs an error
every sync without it)."""

from __future__ import annotations

import datetime

from twisted.internet.defer import Deferred
from twisted.trial import unittest

from kubeapi.controllers.bootstrap import LEGACY_TOKEN_TRACKING, BootstrapController
from kubeapi.registry.options import WriteOptions
from tests.controllers.helpers import Stores, catalog
from tests.support.storage import open_sqlite


class LegacyTokenTrackingTests(unittest.TestCase):
    def test_made_once_and_mended(self) -> Deferred[None]:
        async def go() -> None:
            stores = Stores(await open_sqlite(self), catalog())
            c = BootstrapController(stores, advertise_address="192.0.2.10", secure_port=6443,
                                    service_ip=stores.allocators.first_service_ip())
            await c.reconcile()
            cms = stores("", "v1", "configmaps")
            cm = await cms.get("kube-system", LEGACY_TOKEN_TRACKING)
            today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
            self.assertEqual(cm["data"], {"since": today})
            cm["data"] = {"since": "2001-02-03"}
            kept, _ = await cms.update("kube-system", LEGACY_TOKEN_TRACKING, cm, WriteOptions())
            await c.reconcile()  # a valid date stays as it is
            again = await cms.get("kube-system", LEGACY_TOKEN_TRACKING)
            self.assertEqual(again["metadata"]["resourceVersion"], kept["metadata"]["resourceVersion"])
            again["data"] = {"since": "yesterday"}
            await cms.update("kube-system", LEGACY_TOKEN_TRACKING, again, WriteOptions())
            await c.reconcile()
            self.assertEqual((await cms.get("kube-system", LEGACY_TOKEN_TRACKING))["data"], {"since": today})
        return Deferred.fromCoroutine(go())
