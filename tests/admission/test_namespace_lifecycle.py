"""NamespaceLifecycle through the generic store, on the real embedded store."""

from __future__ import annotations

from kubeapi.errors import StatusError
from kubeapi.registry.options import DeleteOptions
from tests.registry.test_store_fixtures import NAMESPACES, StoreCase, W, async_test, widget
from tests.registry.test_store_fixtures import WIDGETS as WIDGETS_DEF


class NamespaceLifecycleTests(StoreCase):
    @async_test
    async def test_missing_namespace_is_404(self) -> None:
        s = self.store(WIDGETS_DEF, lifecycle=True)
        with self.assertRaises(StatusError) as cm:
            await s.create("ghost", widget(ns="ghost"), W)
        self.assertEqual((cm.exception.code, cm.exception.message), (404, 'namespaces "ghost" not found'))

    @async_test
    async def test_terminating_namespace_refuses_new_content(self) -> None:
        ns = self.store(NAMESPACES, lifecycle=True)
        await ns.create("", {"metadata": {"name": "team"}}, W)
        s = self.store(WIDGETS_DEF, lifecycle=True)
        await s.create("team", widget(ns="team"), W)
        await ns.delete("", "team", DeleteOptions())
        with self.assertRaises(StatusError) as cm:
            await s.create("team", widget("w2", ns="team"), W)
        e = cm.exception
        self.assertEqual((e.code, e.reason), (403, "Forbidden"))
        self.assertEqual(e.message, 'widgets.example.com "w2" is forbidden: unable to create new content in '
                                    'namespace team because it is being terminated')
        self.assertEqual(e.status()["details"]["causes"][0]["reason"], "NamespaceTerminating")
        # Existing content can still be updated and deleted.
        cur = await s.get("team", "w1")
        cur["spec"]["color"] = "x"
        await s.update("team", "w1", cur, W)
        await s.delete("team", "w1", DeleteOptions())

    @async_test
    async def test_system_namespaces_cannot_be_deleted(self) -> None:
        ns = self.store(NAMESPACES, lifecycle=True)
        await ns.create("", {"metadata": {"name": "kube-system"}}, W)
        with self.assertRaises(StatusError) as cm:
            await ns.delete("", "kube-system", DeleteOptions())
        self.assertEqual((cm.exception.code, cm.exception.message),
                         (403, 'namespaces "kube-system" is forbidden: this namespace may not be deleted'))
        await ns.get("", "kube-system")
