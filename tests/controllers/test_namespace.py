"""The namespace controller: deleting a namespace removes its content, then the namespace."""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.trial import unittest

from kubeapi.controllers.namespace import NamespaceController
from kubeapi.errors import StatusError
from kubeapi.registry.options import DeleteOptions, ListOptions, WriteOptions
from tests.controllers.helpers import Stores, catalog
from tests.support.storage import open_sqlite


async def wait_gone(store: Any, namespace: str, name: str, timeout: float = 10.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        try:
            await store.get(namespace, name)
        except StatusError as e:
            if e.code == 404:
                return True
            raise
        await deferLater(reactor, 0.05)
    return False


class NamespaceControllerTests(unittest.TestCase):
    async def setup(self) -> tuple[Stores, NamespaceController]:
        stores = Stores(await open_sqlite(self), catalog())
        controller = NamespaceController(stores, stores.catalog, resync=0.5)
        controller.startService()
        self.addCleanup(controller.stopService)
        return stores, controller

    async def populate(self, stores: Stores, ns: str) -> None:
        await stores("", "v1", "namespaces").create(
            "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, WriteOptions())
        await stores("", "v1", "configmaps").create(
            ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}},
            WriteOptions())
        await stores("", "v1", "pods").create(
            ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                 "spec": {"containers": [{"name": "web", "image": "nginx"}]}}, WriteOptions())

    def test_delete_namespace_removes_content_then_namespace(self) -> Deferred[None]:
        async def go() -> None:
            stores, _ = await self.setup()
            await self.populate(stores, "demo")
            await stores("", "v1", "namespaces").delete("", "demo", DeleteOptions())
            ns = await stores("", "v1", "namespaces").get("", "demo")
            self.assertEqual(ns["status"]["phase"], "Terminating")
            self.assertTrue(await wait_gone(stores("", "v1", "namespaces"), "", "demo"),
                            "namespace demo still exists after 10s")
            self.assertEqual((await stores("", "v1", "configmaps").list("demo", ListOptions()))["items"], [])
            self.assertEqual((await stores("", "v1", "pods").list("demo", ListOptions()))["items"], [])
        return Deferred.fromCoroutine(go())

    def test_waits_for_content_with_finalizers(self) -> Deferred[None]:
        async def go() -> None:
            stores, _ = await self.setup()
            await self.populate(stores, "held")
            cms = stores("", "v1", "configmaps")
            cm = await cms.get("held", "cfg")
            cm["metadata"]["finalizers"] = ["example.com/hold"]
            await cms.update("held", "cfg", cm, WriteOptions())
            await stores("", "v1", "namespaces").delete("", "held", DeleteOptions())
            self.assertFalse(await wait_gone(stores("", "v1", "namespaces"), "", "held", timeout=1.0))
            ns = await stores("", "v1", "namespaces").get("", "held")
            cond = [c for c in ns["status"].get("conditions", []) if c["type"] == "NamespaceContentRemaining"]
            self.assertEqual(cond[0]["status"], "True")
            self.assertIn("configmaps has 1 resource instances", cond[0]["message"])
            # Other content is already gone; releasing the finalizer lets the namespace go.
            self.assertEqual((await stores("", "v1", "pods").list("held", ListOptions()))["items"], [])
            cm = await cms.get("held", "cfg")
            cm["metadata"]["finalizers"] = []
            await cms.update("held", "cfg", cm, WriteOptions())
            self.assertTrue(await wait_gone(stores("", "v1", "namespaces"), "", "held"),
                            "namespace held still exists after its content went")
        return Deferred.fromCoroutine(go())

    def test_other_namespaces_untouched(self) -> Deferred[None]:
        async def go() -> None:
            stores, controller = await self.setup()
            await self.populate(stores, "keep")
            await self.populate(stores, "drop")
            await stores("", "v1", "namespaces").delete("", "drop", DeleteOptions())
            self.assertTrue(await wait_gone(stores("", "v1", "namespaces"), "", "drop"))
            self.assertEqual(len((await stores("", "v1", "configmaps").list("keep", ListOptions()))["items"]), 1)
            self.assertEqual(len((await stores("", "v1", "pods").list("keep", ListOptions()))["items"]), 1)
        return Deferred.fromCoroutine(go())
