"""managedFields and server-side apply on the real embedded store with the built-in
Deployment and ConfigMap kinds (their schemas carry the list/map markers apply reads)."""

from __future__ import annotations

from typing import Any

import orjson

from kubeapi.api import builtin_catalog
from kubeapi.errors import StatusError
from kubeapi.registry import fieldpaths, managedfields
from kubeapi.registry.options import WriteOptions
from tests.registry.test_store_fixtures import StoreCase, async_test

Obj = dict[str, Any]
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
CATALOG = builtin_catalog()
DEPLOYMENTS = CATALOG.get("apps", "v1", "deployments")
CONFIGMAPS = CATALOG.get("", "v1", "configmaps")


def deployment(replicas: int | None = 2, image: str = "nginx", labels: Obj | None = None) -> Obj:
    spec: Obj = {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": image}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": labels or {"app": "web"}},
            "spec": spec}


def opts(manager: str = "", force: bool = False, agent: str = "") -> WriteOptions:
    return WriteOptions(field_manager=manager, force=force, user_agent=agent)


def entries(obj: Obj) -> list[Obj]:
    return list(obj["metadata"].get("managedFields") or [])


def by_manager(obj: Obj) -> dict[tuple[str, str], Obj]:
    return {(e["manager"], e["operation"]): e for e in entries(obj)}


class FieldSetTests(StoreCase):
    def test_apply_field_set_in_upstream_format(self) -> None:
        fs = fieldpaths.to_field_set(deployment(), DEPLOYMENTS.schema)
        self.assertEqual(fieldpaths.to_fields_v1(fs), {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {'k:{"name":"nginx"}': {".": {}, "f:image": {}, "f:name": {}}}}}}})
        self.assertEqual(fieldpaths.from_fields_v1(fieldpaths.to_fields_v1(fs)), fs)

    def test_path_strings(self) -> None:
        self.assertEqual(fieldpaths.path_string(("f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image")),
                         '.spec.containers[name="nginx"].image')
        self.assertEqual(fieldpaths.path_string(("f:metadata", "f:finalizers", 'v:"a"')),
                         '.metadata.finalizers[="a"]')

    def test_manager_from_user_agent(self) -> None:
        self.assertEqual(managedfields.manager_from_user_agent("kube-scheduler/v1.34.4 (linux/amd64)"),
                         "kube-scheduler")
        self.assertEqual(managedfields.manager_from_user_agent("OpenAPI-Generator/31.0.0/python"),
                         "OpenAPI-Generator")


class UpdateTrackingTests(StoreCase):
    @async_test
    async def test_create_and_update_record_update_entries(self) -> None:
        s = self.store(CONFIGMAPS)
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
              "data": {"a": "1"}}
        created = await s.create("default", cm, opts("kubectl-create"))
        [e] = entries(created)
        self.assertEqual(e["manager"], "kubectl-create")
        self.assertEqual(e["operation"], "Update")
        self.assertEqual(e["apiVersion"], "v1")
        self.assertEqual(e["fieldsType"], "FieldsV1")
        self.assertEqual(e["fieldsV1"], {"f:data": {".": {}, "f:a": {}}})
        self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertNotIn("subresource", e)
        # Another manager (named by its User-Agent) changes a: it takes a over; the first keeps
        # only the data map it created.
        patched, _ = await s.patch("default", "c", MERGE, orjson.dumps({"data": {"a": "2", "b": "3"}}),
                                   opts(agent="kubectl-edit/v1.33.0 (linux/amd64)"))
        self.assertEqual([(x["manager"], x["fieldsV1"]) for x in entries(patched)],
                         [("kubectl-create", {"f:data": {}}),
                          ("kubectl-edit", {"f:data": {"f:a": {}, "f:b": {}}})])

    @async_test
    async def test_put_without_managed_fields_keeps_them_and_empty_list_resets(self) -> None:
        s = self.store(CONFIGMAPS)
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
              "data": {"a": "1"}}
        created = await s.create("default", cm, opts("one"))
        body = dict(cm, data={"a": "1", "b": "2"})
        updated, _ = await s.update("default", "c", body, opts("two"))
        self.assertEqual({x["manager"] for x in entries(updated)}, {"one", "two"})
        same, _ = await s.update("default", "c", dict(body), opts("three"))
        self.assertEqual(same["metadata"]["resourceVersion"], updated["metadata"]["resourceVersion"])
        reset = dict(body, metadata=dict(cm["metadata"], managedFields=[{}]), data={"a": "1", "b": "2"})
        out, _ = await s.update("default", "c", reset, opts("four"))
        self.assertNotIn("managedFields", out["metadata"])
        self.assertTrue(created)


    @async_test
    async def test_more_than_ten_update_managers_merge_into_ancient_changes(self) -> None:
        s = self.store(CONFIGMAPS)
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
              "data": {"k0": "v"}}
        await s.create("default", cm, opts("m0"))
        for i in range(1, 12):
            await s.patch("default", "c", MERGE, orjson.dumps({"data": {f"k{i}": "v"}}), opts(f"m{i}"))
        got = await s.get("default", "c")
        managers = [e["manager"] for e in entries(got)]
        self.assertEqual(len(managers), 10)
        self.assertIn("ancient-changes", managers)
        self.assertNotIn("m0", managers)
        self.assertIn("m11", managers)


class ApplyTests(StoreCase):
    async def apply(self, obj: Obj, manager: str = "kubectl", force: bool = False) -> Obj:
        s = self.store(DEPLOYMENTS)
        out, _ = await s.patch("default", "web", APPLY, orjson.dumps(obj), opts(manager, force))
        return out

    @async_test
    async def test_apply_creates_and_second_apply_is_a_noop(self) -> None:
        first = await self.apply(deployment())
        self.assertEqual(first["spec"]["replicas"], 2)
        [e] = entries(first)
        self.assertEqual((e["manager"], e["operation"]), ("kubectl", "Apply"))
        self.assertEqual(e["fieldsV1"]["f:spec"]["f:replicas"], {})
        again = await self.apply(deployment())
        self.assertEqual(again["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"])
        self.assertEqual(entries(again), entries(first))

    @async_test
    async def test_conflict_names_manager_and_field_then_force_takes_ownership(self) -> None:
        await self.apply(deployment())
        with self.assertRaises(StatusError) as cm:
            await self.apply(deployment(replicas=3), manager="other")
        err = cm.exception
        self.assertEqual((err.code, err.reason), (409, "Conflict"))
        self.assertEqual(err.message, 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas')
        self.assertEqual(err.status()["details"]["causes"],
                         [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"',
                           "field": ".spec.replicas"}])
        forced = await self.apply(deployment(replicas=3), manager="other", force=True)
        self.assertEqual(forced["spec"]["replicas"], 3)
        mine = by_manager(forced)[("kubectl", "Apply")]["fieldsV1"]
        self.assertNotIn("f:replicas", mine["f:spec"])
        self.assertIn("f:replicas", by_manager(forced)[("other", "Apply")]["fieldsV1"]["f:spec"])

    @async_test
    async def test_several_conflicts_are_listed_per_manager(self) -> None:
        await self.apply(deployment())
        with self.assertRaises(StatusError) as cm:
            await self.apply(deployment(replicas=5, image="httpd"), manager="other")
        self.assertEqual(cm.exception.message,
                         'Apply failed with 2 conflicts: conflicts with "kubectl":\n'
                         '- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image')

    @async_test
    async def test_same_value_is_shared_and_update_manager_conflicts_with_its_version(self) -> None:
        await self.apply(deployment())
        shared = await self.apply(deployment(), manager="other")
        self.assertEqual({m for m, _ in by_manager(shared)}, {"kubectl", "other"})
        s = self.store(DEPLOYMENTS)
        await s.patch("default", "web", MERGE, b'{"spec":{"replicas":7}}', opts("scaler"))
        with self.assertRaises(StatusError) as cm:
            await self.apply(deployment())
        self.assertRegex(cm.exception.message, r'^Apply failed with 1 conflict: conflict with "scaler" using '
                                               r'apps/v1 at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: \.spec\.replicas$')

    @async_test
    async def test_fields_dropped_from_config_are_removed_unless_owned_elsewhere(self) -> None:
        await self.apply(deployment(labels={"app": "web", "tier": "front"}))
        out = await self.apply(deployment(labels={"app": "web"}))
        self.assertEqual(out["metadata"]["labels"], {"app": "web"})
        # replicas shared with another applier stays when one of them stops applying it.
        await self.apply(deployment(), manager="other")
        out = await self.apply(deployment(replicas=None))
        self.assertEqual(out["spec"]["replicas"], 2)
        out = await self.apply(deployment(replicas=None), manager="other")
        self.assertNotIn("f:replicas", str(entries(out)))

    @async_test
    async def test_list_items_merge_by_key(self) -> None:
        await self.apply(deployment())
        side = deployment(replicas=None)
        side["spec"]["template"]["spec"]["containers"] = [{"name": "sidecar", "image": "busybox"}]
        out = await self.apply(side, manager="other")
        names = [c["name"] for c in out["spec"]["template"]["spec"]["containers"]]
        self.assertEqual(names, ["nginx", "sidecar"])

    @async_test
    async def test_config_of_another_kind_is_refused_first(self) -> None:
        for body, named in [({}, "/, Kind="), ({**deployment(), "apiVersion": "apps/v1beta1"},
                                                "apps/v1beta1, Kind=Deployment"),
                            ({**deployment(), "kind": "ReplicaSet", "metadata": {"managedFields": []}},
                             "apps/v1, Kind=ReplicaSet"),
                            ({**deployment(), "apiVersion": "a/b/c"}, "/, Kind=")]:
            with self.assertRaises(StatusError) as cm:
                await self.apply(body)
            self.assertEqual((cm.exception.code, cm.exception.message), (400, f"invalid object type: {named}"))

    @async_test
    async def test_managed_fields_in_config_is_refused(self) -> None:
        body = deployment()
        body["metadata"]["managedFields"] = [{"manager": "x"}]
        with self.assertRaises(StatusError) as cm:
            await self.apply(body)
        self.assertEqual(cm.exception.code, 400)
