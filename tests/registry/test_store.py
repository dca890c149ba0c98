"""The generic store's write verbs on the real embedded store: create, get, update, patch."""

from __future__ import annotations

import re

import orjson

from kubeapi.errors import StatusError
from kubeapi.registry.options import WriteOptions
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

MERGE = "application/merge-patch+json"


class CreateTests(StoreCase):
    @async_test
    async def test_create_sets_system_fields_and_get_returns_it(self) -> None:
        s = self.store(WIDGETS)
        body = widget(replicas=2)
        body["status"] = {"replicas": 9}
        out = await s.create("default", body, W)
        m = out["metadata"]
        self.assertEqual(out["kind"], "Widget")
        self.assertEqual(out["apiVersion"], "example.com/v1")
        self.assertRegex(m["uid"], r"^[0-9a-f-]{36}$")
        self.assertRegex(m["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(m["generation"], 1)
        self.assertNotIn("status", out)  # status is cleared on create for status-split kinds
        got = await s.get("default", "w1")
        self.assertEqual(got, out)
        kv = await self.storage.get("/registry/widgets/default/w1")
        assert kv is not None
        self.assertEqual(m["resourceVersion"], str(kv.mod_revision))
        self.assertNotIn("resourceVersion", orjson.loads(kv.value)["metadata"])

    @async_test
    async def test_create_existing_is_409_already_exists(self) -> None:
        s = self.store(WIDGETS)
        await s.create("default", widget(), W)
        with self.assertRaises(StatusError) as cm:
            await s.create("default", widget(), W)
        self.assertEqual((cm.exception.code, cm.exception.reason), (409, "AlreadyExists"))
        self.assertEqual(cm.exception.message, 'widgets.example.com "w1" already exists')

    @async_test
    async def test_generate_name(self) -> None:
        s = self.store(WIDGETS)
        body = widget()
        del body["metadata"]["name"]
        body["metadata"]["generateName"] = "web-"
        a = await s.create("default", body, W)
        b = await s.create("default", body, W)
        self.assertRegex(a["metadata"]["name"], r"^web-[bcdfghjklmnpqrstvwxz2456789]{5}$")
        self.assertNotEqual(a["metadata"]["name"], b["metadata"]["name"])

    @async_test
    async def test_name_required(self) -> None:
        s = self.store(WIDGETS)
        body = widget()
        del body["metadata"]["name"]
        with self.assertRaises(StatusError) as cm:
            await s.create("default", body, W)
        e = cm.exception
        self.assertEqual((e.code, e.reason), (422, "Invalid"))
        self.assertIn("metadata.name: Required value: name or generateName is required", e.message)

    @async_test
    async def test_namespace_mismatch_and_wrong_type(self) -> None:
        s = self.store(WIDGETS)
        with self.assertRaises(StatusError) as cm:
            await s.create("other", widget(ns="default"), W)
        self.assertEqual(cm.exception.code, 400)
        self.assertEqual(cm.exception.message,
                         "the namespace of the provided object does not match the namespace sent on the request")
        body = widget()
        body["apiVersion"] = "example.com/v2"
        with self.assertRaises(StatusError) as cm:
            await s.create("default", body, W)
        self.assertEqual(cm.exception.message, "the API version in the data (example.com/v2) does not match "
                                               "the expected API version (example.com/v1)")
        body = widget()
        body["kind"] = "Gizmo"
        with self.assertRaises(StatusError) as cm:
            await s.create("default", body, W)
        self.assertEqual(cm.exception.code, 400)
        self.assertTrue(cm.exception.message.startswith('Gizmo in version "v1" cannot be handled as a Widget'))

    @async_test
    async def test_validation_and_defaulting(self) -> None:
        s = self.store(WIDGETS)
        out = await s.create("default", widget(), W)
        self.assertEqual(out["spec"]["replicas"], 1)
        with self.assertRaises(StatusError) as cm:
            await s.create("default", widget("bad", replicas=-1), W)
        self.assertEqual(cm.exception.message, 'Widget.example.com "bad" is invalid: spec.replicas: '
                                               'Invalid value: -1: must be greater than or equal to 0')
        with self.assertRaises(StatusError) as cm:
            await self.store(GADGETS).create("", {"metadata": {"name": "Bad_Name"}}, W)
        self.assertEqual(cm.exception.code, 422)
        self.assertIn('metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain',
                      cm.exception.message)

    @async_test
    async def test_dry_run_writes_nothing(self) -> None:
        s = self.store(WIDGETS)
        rev = await self.storage.current_revision()
        out = await s.create("default", widget(), WriteOptions(dry_run=True))
        self.assertEqual(out["metadata"]["name"], "w1")
        self.assertIn("uid", out["metadata"])
        self.assertEqual(await self.storage.current_revision(), rev)
        with self.assertRaises(StatusError):
            await s.get("default", "w1")

    @async_test
    async def test_resource_version_on_create_is_refused(self) -> None:
        s = self.store(WIDGETS)
        body = widget()
        body["metadata"]["resourceVersion"] = "5"
        with self.assertRaises(StatusError) as cm:
            await s.create("default", body, W)
        self.assertEqual(cm.exception.code, 500)
        self.assertEqual(cm.exception.message, "resourceVersion should not be set on objects to be created")


class UpdateTests(StoreCase):
    @async_test
    async def test_stale_resource_version_conflicts(self) -> None:
        s = self.store(WIDGETS)
        first = await s.create("default", widget(replicas=1), W)
        body = dict(first, spec={"replicas": 2})
        second, created = await s.update("default", "w1", body, W)
        self.assertFalse(created)
        self.assertNotEqual(second["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"])
        with self.assertRaises(StatusError) as cm:
            await s.update("default", "w1", dict(first, spec={"replicas": 3}), W)
        self.assertEqual((cm.exception.code, cm.exception.reason), (409, "Conflict"))
        self.assertEqual(cm.exception.message,
                         'Operation cannot be fulfilled on widgets.example.com "w1": the object has been '
                         'modified; please apply your changes to the latest version and try again')

    @async_test
    async def test_unconditional_update_and_immutable_fields(self) -> None:
        s = self.store(WIDGETS)
        first = await s.create("default", widget(), W)
        body = widget(replicas=5)  # no resourceVersion, no uid, no creationTimestamp
        out, _ = await s.update("default", "w1", body, W)
        self.assertEqual(out["spec"]["replicas"], 5)
        self.assertEqual(out["metadata"]["uid"], first["metadata"]["uid"])
        self.assertEqual(out["metadata"]["creationTimestamp"], first["metadata"]["creationTimestamp"])
        bad = widget(replicas=6)
        bad["metadata"]["uid"] = "someone-else"
        with self.assertRaises(StatusError) as cm:
            await s.update("default", "w1", bad, W)
        self.assertEqual(cm.exception.code, 422)
        self.assertIn('metadata.uid: Invalid value: "someone-else": field is immutable', cm.exception.message)

    @async_test
    async def test_name_mismatch_and_not_found(self) -> None:
        s = self.store(WIDGETS)
        with self.assertRaises(StatusError) as cm:
            await s.update("default", "other", widget(), W)
        self.assertEqual(cm.exception.message,
                         "the name of the object (w1) does not match the name on the URL (other)")
        with self.assertRaises(StatusError) as cm:
            await s.update("default", "w1", widget(), W)
        self.assertEqual((cm.exception.code, cm.exception.message), (404, 'widgets.example.com "w1" not found'))

    @async_test
    async def test_create_on_update_for_allowed_kinds(self) -> None:
        from dataclasses import replace

        s = self.store(replace(GADGETS, allow_create_on_update=True))
        out, created = await s.update("", "g1", {"metadata": {"name": "g1"}}, W)
        self.assertTrue(created)
        self.assertEqual(out["metadata"]["name"], "g1")

    @async_test
    async def test_generation_bumps_only_on_spec_change(self) -> None:
        s = self.store(WIDGETS)
        o = await s.create("default", widget(replicas=1), W)
        o["metadata"]["labels"] = {"a": "b"}
        o, _ = await s.update("default", "w1", o, W)
        self.assertEqual(o["metadata"]["generation"], 1)
        o["spec"]["replicas"] = 4
        o, _ = await s.update("default", "w1", o, W)
        self.assertEqual(o["metadata"]["generation"], 2)
        o["status"] = {"replicas": 4}
        o, _ = await s.update("default", "w1", o, W, "status")
        self.assertEqual(o["metadata"]["generation"], 2)
        self.assertEqual(o["status"], {"replicas": 4})

    @async_test
    async def test_status_split(self) -> None:
        s = self.store(WIDGETS)
        o = await s.create("default", widget(replicas=1), W)
        o["status"] = {"replicas": 1}
        o, _ = await s.update("default", "w1", o, W, "status")
        # The main resource ignores status changes ...
        o2 = dict(o, status={"replicas": 99}, spec={"replicas": 2})
        o2, _ = await s.update("default", "w1", o2, W)
        self.assertEqual(o2["status"], {"replicas": 1})
        self.assertEqual(o2["spec"]["replicas"], 2)
        # ... and /status ignores spec changes.
        o3 = dict(o2, status={"replicas": 2}, spec={"replicas": 7})
        o3, _ = await s.update("default", "w1", o3, W, "status")
        self.assertEqual(o3["spec"]["replicas"], 2)
        self.assertEqual(o3["status"], {"replicas": 2})

    @async_test
    async def test_noop_update_does_not_write(self) -> None:
        s = self.store(WIDGETS)
        o = await s.create("default", widget(replicas=1), W)
        rev = await self.storage.current_revision()
        same, _ = await s.update("default", "w1", o, W)
        self.assertEqual(same["metadata"]["resourceVersion"], o["metadata"]["resourceVersion"])
        self.assertEqual(await self.storage.current_revision(), rev)

    @async_test
    async def test_dry_run_update_writes_nothing(self) -> None:
        s = self.store(WIDGETS)
        o = await s.create("default", widget(replicas=1), W)
        o["spec"]["replicas"] = 3
        out, _ = await s.update("default", "w1", o, WriteOptions(dry_run=True))
        self.assertEqual(out["spec"]["replicas"], 3)
        self.assertEqual((await s.get("default", "w1"))["spec"]["replicas"], 1)


class PatchAndScaleTests(StoreCase):
    @async_test
    async def test_merge_patch(self) -> None:
        s = self.store(WIDGETS)
        await s.create("default", widget(replicas=1, color="red"), W)
        out, created = await s.patch("default", "w1", MERGE, b'{"spec":{"color":"blue"}}', W)
        self.assertFalse(created)
        self.assertEqual(out["spec"], {"replicas": 1, "color": "blue"})
        self.assertEqual(out["metadata"]["generation"], 2)

    @async_test
    async def test_patch_with_stale_resource_version_conflicts(self) -> None:
        s = self.store(WIDGETS)
        o = await s.create("default", widget(replicas=1), W)
        await s.patch("default", "w1", MERGE, b'{"spec":{"replicas":2}}', W)
        body = orjson.dumps({"metadata": {"resourceVersion": o["metadata"]["resourceVersion"]},
                             "spec": {"replicas": 3}})
        with self.assertRaises(StatusError) as cm:
            await s.patch("default", "w1", MERGE, body, W)
        self.assertEqual(cm.exception.code, 409)

    @async_test
    async def test_patch_missing_is_404(self) -> None:
        s = self.store(WIDGETS)
        with self.assertRaises(StatusError) as cm:
            await s.patch("default", "nope", MERGE, b"{}", W)
        self.assertEqual(cm.exception.code, 404)

    @async_test
    async def test_scale_get_update_patch(self) -> None:
        s = self.store(WIDGETS)
        body = widget(replicas=2, selector={"matchLabels": {"app": "web", "tier": "a"}})
        await s.create("default", body, W)
        sc = await s.get("default", "w1", "scale")
        self.assertEqual(sc["kind"], "Scale")
        self.assertEqual(sc["apiVersion"], "autoscaling/v1")
        self.assertEqual(sc["spec"], {"replicas": 2})
        self.assertEqual(sc["status"], {"replicas": 0, "selector": "app=web,tier=a"})
        sc["spec"]["replicas"] = 5
        out, _ = await s.update("default", "w1", sc, W, "scale")
        self.assertEqual(out["spec"]["replicas"], 5)
        self.assertEqual((await s.get("default", "w1"))["spec"]["replicas"], 5)
        with self.assertRaises(StatusError) as cm:
            await s.update("default", "w1", sc, W, "scale")  # stale resourceVersion
        self.assertEqual(cm.exception.code, 409)
        out, _ = await s.patch("default", "w1", MERGE, b'{"spec":{"replicas":7}}', W, "scale")
        self.assertEqual(out["spec"]["replicas"], 7)
        obj = await s.get("default", "w1")
        self.assertEqual(obj["spec"]["replicas"], 7)
        self.assertEqual(obj["metadata"]["generation"], 3)
        with self.assertRaises(StatusError) as cm:
            await s.patch("default", "w1", MERGE, b'{"spec":{"replicas":-1}}', W, "scale")
        self.assertEqual(cm.exception.code, 422)
        self.assertTrue(cm.exception.message.startswith('Scale.autoscaling "w1" is invalid'))


class PodsAndNamespacesCreateTests(StoreCase):
    @async_test
    async def test_prepare_for_create(self) -> None:
        pods = self.store(PODS)
        out = await pods.create("default", {"metadata": {"name": "p"}, "spec": {}}, W)
        self.assertEqual(out["status"], {"phase": "Pending"})
        ns = self.store(NAMESPACES)
        n = await ns.create("", {"metadata": {"name": "team"}}, W)
        self.assertEqual(n["spec"], {"finalizers": ["kubernetes"]})
        self.assertNotIn("namespace", n["metadata"])
        self.assertTrue(re.match(r"^\d+$", n["metadata"]["resourceVersion"]))
