"""DELETE on the real embedded store: preconditions, finalizers, graceful pods, namespaces."""

from __future__ import annotations

from kubeapi.errors import StatusError
from kubeapi.registry.options import DeleteOptions, ListOptions, WriteOptions
from tests.registry.test_store_fixtures import (
    GADGETS,
    NAMESPACES,
    PODS,
    WIDGETS,
    StoreCase,
    W,
    async_test,
    widget,
)

D = DeleteOptions()


class DeleteTests(StoreCase):
    @async_test
    async def test_delete_returns_status_or_object(self) -> None:
        s = self.store(WIDGETS)
        o = await s.create("default", widget(), W)
        out, deleted = await s.delete("default", "w1", D)
        self.assertTrue(deleted)
        self.assertEqual(out, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                               "details": {"name": "w1", "group": "example.com", "kind": "widgets",
                                           "uid": o["metadata"]["uid"]}})
        with self.assertRaises(StatusError) as cm:
            await s.delete("default", "w1", D)
        self.assertEqual(cm.exception.code, 404)
        g = self.store(GADGETS)
        await g.create("", {"metadata": {"name": "g"}}, W)
        out, deleted = await g.delete("", "g", D)
        self.assertEqual((out["kind"], out["metadata"]["name"], deleted), ("Gadget", "g", True))

    @async_test
    async def test_preconditions(self) -> None:
        s = self.store(WIDGETS)
        o = await s.create("default", widget(), W)
        with self.assertRaises(StatusError) as cm:
            await s.delete("default", "w1", DeleteOptions(precondition_uid="x"))
        self.assertEqual(cm.exception.code, 409)
        self.assertEqual(cm.exception.message,
                         f'Operation cannot be fulfilled on Widget.example.com "w1": the UID in the '
                         f'precondition (x) does not match the UID in record ({o["metadata"]["uid"]}). '
                         f'The object might have been deleted and then recreated')
        with self.assertRaises(StatusError) as cm:
            await s.delete("default", "w1", DeleteOptions(precondition_resource_version="999"))
        self.assertEqual(cm.exception.code, 409)
        await s.delete("default", "w1", DeleteOptions(precondition_uid=o["metadata"]["uid"]))

    @async_test
    async def test_finalizer_flow(self) -> None:
        s = self.store(WIDGETS)
        body = widget()
        body["metadata"]["finalizers"] = ["example.com/hold"]
        await s.create("default", body, W)
        out, deleted = await s.delete("default", "w1", D)
        self.assertFalse(deleted)
        self.assertIn("deletionTimestamp", out["metadata"])
        self.assertEqual(out["metadata"]["deletionGracePeriodSeconds"], 0)
        self.assertEqual(out["metadata"]["generation"], 2)
        # Adding finalizers while deleting is refused.
        cur = await s.get("default", "w1")
        cur["metadata"]["finalizers"] = ["example.com/hold", "more"]
        with self.assertRaises(StatusError) as cm:
            await s.update("default", "w1", cur, W)
        self.assertEqual(cm.exception.code, 422)
        # Removing the last finalizer deletes it.
        cur = await s.get("default", "w1")
        cur["metadata"]["finalizers"] = []
        await s.update("default", "w1", cur, W)
        with self.assertRaises(StatusError) as cm:
            await s.get("default", "w1")
        self.assertEqual(cm.exception.code, 404)

    @async_test
    async def test_propagation_policies_add_finalizers(self) -> None:
        s = self.store(WIDGETS)
        await s.create("default", widget("a"), W)
        await s.create("default", widget("b"), W)
        a, _ = await s.delete("default", "a", DeleteOptions(propagation_policy="Foreground"))
        self.assertEqual(a["metadata"]["finalizers"], ["foregroundDeletion"])
        b, _ = await s.delete("default", "b", DeleteOptions(propagation_policy="Orphan"))
        self.assertEqual(b["metadata"]["finalizers"], ["orphan"])

    @async_test
    async def test_pods_graceful_only_when_scheduled(self) -> None:
        s = self.store(PODS)
        await s.create("default", {"metadata": {"name": "unscheduled"}, "spec": {}}, W)
        out, deleted = await s.delete("default", "unscheduled", D)
        self.assertTrue(deleted)
        self.assertEqual(out["kind"], "Pod")
        await s.create("default", {"metadata": {"name": "running"},
                                   "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 30}}, W)
        out, deleted = await s.delete("default", "running", D)
        self.assertFalse(deleted)
        self.assertEqual(out["metadata"]["deletionGracePeriodSeconds"], 30)
        # The kubelet finishes with grace 0.
        out, deleted = await s.delete("default", "running", DeleteOptions(grace_period_seconds=0))
        self.assertTrue(deleted)
        with self.assertRaises(StatusError):
            await s.get("default", "running")

    @async_test
    async def test_dry_run_delete_keeps_object(self) -> None:
        s = self.store(WIDGETS)
        await s.create("default", widget(), W)
        _, deleted = await s.delete("default", "w1", DeleteOptions(dry_run=True))
        self.assertTrue(deleted)
        await s.get("default", "w1")

    @async_test
    async def test_delete_collection(self) -> None:
        s = self.store(WIDGETS)
        for n, color in (("a", "red"), ("b", "red"), ("c", "blue")):
            await s.create("default", widget(n, color=color), W)
        out = await s.delete_collection("default", ListOptions(field_selector="spec.color=red"), D)
        self.assertEqual(out["kind"], "WidgetList")
        self.assertEqual([i["metadata"]["name"] for i in out["items"]], ["a", "b"])
        left = await s.list("default", ListOptions())
        self.assertEqual([i["metadata"]["name"] for i in left["items"]], ["c"])


class NamespaceTerminationTests(StoreCase):
    @async_test
    async def test_terminate_then_finalize(self) -> None:
        s = self.store(NAMESPACES)
        await s.create("", {"metadata": {"name": "team"}}, W)
        out, deleted = await s.delete("", "team", D)
        self.assertFalse(deleted)
        self.assertEqual(out["status"]["phase"], "Terminating")
        self.assertIn("deletionTimestamp", out["metadata"])
        with self.assertRaises(StatusError) as cm:
            await s.delete("", "team", D)
        self.assertEqual(cm.exception.code, 409)
        self.assertIn("The system is ensuring all content is removed from this namespace.", cm.exception.message)
        # A plain update cannot drop spec.finalizers; /finalize can, and that deletes it.
        cur = await s.get("", "team")
        cur["spec"] = {}
        kept, _ = await s.update("", "team", cur, W)
        self.assertEqual(kept["spec"]["finalizers"], ["kubernetes"])
        cur = await s.get("", "team")
        cur["spec"] = {"finalizers": []}
        await s.update("", "team", cur, WriteOptions(), "finalize")
        with self.assertRaises(StatusError) as cm:
            await s.get("", "team")
        self.assertEqual(cm.exception.code, 404)
