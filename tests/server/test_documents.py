"""Discovery documents, Table rendering and health output for a small catalog."""

from __future__ import annotations

import datetime
from typing import Any

from twisted.internet import defer
from twisted.trial import unittest

from kubeapi import timefmt
from kubeapi.api.types import Catalog, ResourceDef
from kubeapi.errors import StatusError
from kubeapi.server import discovery, health, tables
from tests.server.support import CONFIGMAPS, GADGETS, NAMESPACES, WIDGETS

DEPLOYMENTS = ResourceDef(group="apps", version="v1", kind="Deployment", plural="deployments",
                          singular="deployment", namespaced=True, short_names=("deploy",),
                          categories=("all",), subresources=("status", "scale"))


class DiscoveryTests(unittest.TestCase):
    def setUp(self) -> None:
        self.catalog = Catalog([NAMESPACES, CONFIGMAPS, DEPLOYMENTS, WIDGETS, GADGETS])

    def test_storage_version_hash_is_upstreams(self) -> None:
        # Values as published by kube-apiserver's discovery for these kinds.
        self.assertEqual(discovery.storage_version_hash("", "v1", "Pod"), "xPOwRZ+Yhw8=")
        self.assertEqual(discovery.storage_version_hash("apps", "v1", "Deployment"), "8aSe+NMegvE=")

    def test_api_versions(self) -> None:
        doc = discovery.api_versions("10.0.0.1:6443")
        self.assertEqual(doc["versions"], ["v1"])
        self.assertEqual(doc["serverAddressByClientCIDRs"],
                         [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}])

    def test_group_list_and_group(self) -> None:
        doc = discovery.api_group_list(self.catalog)
        self.assertEqual([g["name"] for g in doc["groups"]], ["apps", "example.com"])
        self.assertEqual(doc["groups"][0]["preferredVersion"], {"groupVersion": "apps/v1", "version": "v1"})
        self.assertIsNone(discovery.api_group(self.catalog, "nope"))
        group = discovery.api_group(self.catalog, "apps")
        assert group is not None
        self.assertEqual(group["kind"], "APIGroup")

    def test_resource_list_with_subresources(self) -> None:
        doc = discovery.resource_list(self.catalog, "apps", "v1")
        assert doc is not None
        by_name = {r["name"]: r for r in doc["resources"]}
        dep = by_name["deployments"]
        self.assertEqual((dep["kind"], dep["namespaced"], dep["shortNames"], dep["categories"]),
                         ("Deployment", True, ["deploy"], ["all"]))
        self.assertEqual(dep["storageVersionHash"], "8aSe+NMegvE=")
        self.assertEqual(by_name["deployments/status"]["verbs"], ["get", "patch", "update"])
        scale = by_name["deployments/scale"]
        self.assertEqual((scale["group"], scale["version"], scale["kind"]), ("autoscaling", "v1", "Scale"))
        core = discovery.resource_list(self.catalog, "", "v1")
        assert core is not None
        self.assertNotIn("apiVersion", core)
        self.assertEqual(core["groupVersion"], "v1")
        self.assertIsNone(discovery.resource_list(self.catalog, "apps", "v2"))

    def test_aggregated(self) -> None:
        for version in ("v2", "v2beta1"):
            doc = discovery.aggregated(self.catalog, legacy=False, version=version)
            self.assertEqual(doc["apiVersion"], f"apidiscovery.k8s.io/{version}")
            self.assertEqual(doc["kind"], "APIGroupDiscoveryList")
            apps = doc["items"][0]
            self.assertEqual(apps["metadata"]["name"], "apps")
            v1 = apps["versions"][0]
            self.assertEqual((v1["version"], v1["freshness"]), ("v1", "Current"))
            dep = v1["resources"][0]
            self.assertEqual(dep["responseKind"], {"group": "apps", "version": "v1", "kind": "Deployment"})
            self.assertEqual(dep["scope"], "Namespaced")
            self.assertEqual(dep["singularResource"], "deployment")
            subs = {s["subresource"]: s for s in dep["subresources"]}
            self.assertEqual(subs["scale"]["responseKind"], {"group": "autoscaling", "version": "v1", "kind": "Scale"})
        legacy = discovery.aggregated(self.catalog, legacy=True)
        self.assertEqual(len(legacy["items"]), 1)
        ns = legacy["items"][0]["versions"][0]["resources"][0]
        self.assertEqual((ns["resource"], ns["scope"]), ("namespaces", "Cluster"))


NOW = datetime.datetime(2025, 1, 10, 12, 0, 0, tzinfo=datetime.UTC)


def widget(name: str, created: str) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": created,
                         "resourceVersion": "7"},
            "spec": {"replicas": 3}, "status": {"readyReplicas": 1}}


class TableTests(unittest.TestCase):
    def test_human_duration(self) -> None:
        for seconds, text in [(-5, "<invalid>"), (-1, "0s"), (5, "5s"), (119, "119s"), (190, "3m10s"),
                              (600, "10m"), (3 * 3600, "3h"), (3 * 3600 + 120, "3h2m"), (10 * 3600, "10h"),
                              (52 * 3600, "2d4h"), (48 * 3600, "2d"), (30 * 86400, "30d"),
                              (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y")]:
            self.assertEqual(timefmt.human_duration(seconds), text, seconds)

    def test_list_table_with_metadata_objects(self) -> None:
        lst: dict[str, Any] = {"kind": "WidgetList", "apiVersion": "example.com/v1",
               "metadata": {"resourceVersion": "9", "continue": "abc"},
               "items": [widget("a", "2025-01-10T11:59:55Z"), widget("b", "2025-01-08T08:00:00Z")]}
        t = tables.to_table(WIDGETS, lst, now=NOW)
        self.assertEqual((t["kind"], t["apiVersion"]), ("Table", "meta.k8s.io/v1"))
        self.assertEqual(t["metadata"], {"resourceVersion": "9", "continue": "abc"})
        self.assertEqual([c["name"] for c in t["columnDefinitions"]], ["Name", "Ready", "Color", "Age"])
        self.assertEqual(t["columnDefinitions"][0]["format"], "name")
        self.assertEqual(t["columnDefinitions"][2]["priority"], 1)
        self.assertEqual(t["rows"][0]["cells"], ["a", "1/3", "<none>", "5s"])
        self.assertEqual(t["rows"][1]["cells"][3], "2d4h")
        self.assertEqual(t["rows"][0]["object"],
                         {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                          "metadata": lst["items"][0]["metadata"]})

    def test_include_object_options(self) -> None:
        w = widget("a", "2025-01-10T11:00:00Z")
        self.assertEqual(tables.to_table(WIDGETS, w, include="Object", now=NOW)["rows"][0]["object"], w)
        self.assertNotIn("object", tables.to_table(WIDGETS, w, include="None", now=NOW)["rows"][0])
        with self.assertRaises(StatusError) as cm:
            tables.to_table(WIDGETS, w, include="Everything")
        self.assertEqual(cm.exception.code, 400)

    def test_default_columns_without_definitions(self) -> None:
        g = {"kind": "Gadget", "metadata": {"name": "g", "creationTimestamp": "2025-01-01T00:00:00Z"}}
        t = tables.to_table(GADGETS, g, version="v1beta1")
        self.assertEqual([c["name"] for c in t["columnDefinitions"]], ["Name", "Created At"])
        self.assertEqual(t["rows"][0]["cells"], ["g", "2025-01-01T00:00:00Z"])
        self.assertEqual(t["apiVersion"], "meta.k8s.io/v1beta1")

    def test_partial_object_metadata(self) -> None:
        w = widget("a", "2025-01-10T11:00:00Z")
        pom = tables.convert("PartialObjectMetadata", "v1", WIDGETS, w)
        self.assertEqual(pom, {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                               "metadata": w["metadata"]})
        lst = {"kind": "WidgetList", "metadata": {"resourceVersion": "3"}, "items": [w]}
        pol = tables.convert("PartialObjectMetadataList", "v1beta1", WIDGETS, lst)
        self.assertEqual(pol["kind"], "PartialObjectMetadataList")
        self.assertEqual(pol["items"][0]["apiVersion"], "meta.k8s.io/v1beta1")
        with self.assertRaises(StatusError):
            tables.convert("PartialObjectMetadata", "v1", WIDGETS, lst)


class HealthTests(unittest.TestCase):
    def test_render(self) -> defer.Deferred[None]:
        async def fails() -> bool:
            return False

        async def ok() -> bool:
            return True

        async def go() -> None:
            checks = health.base_checks() + [("etcd", fails), ("extra", ok)]
            code, text = await health.render("readyz", checks, "", False, [])
            self.assertEqual(code, 500)
            self.assertEqual(text, "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n"
                                   "[+]extra ok\nreadyz check failed\n")
            code, text = await health.render("livez", checks, "", True, ["etcd", "nosuch"])
            self.assertEqual(code, 200)
            self.assertEqual(text, "[+]ping ok\n[+]log ok\n[+]etcd excluded: ok\n[+]extra ok\n"
                                   'warn: some health checks cannot be excluded: no matches for "nosuch"\n'
                                   "livez check passed\n")
            self.assertEqual(await health.render("livez", checks, "", False, ["etcd"]), (200, "ok"))
            self.assertEqual(await health.render("livez", checks, "extra", False, []), (200, "ok"))
            code, _ = await health.render("livez", checks, "etcd", False, [])
            self.assertEqual(code, 500)
            code, _ = await health.render("livez", checks, "missing", False, [])
            self.assertEqual(code, 404)

        return defer.ensureDeferred(go())
