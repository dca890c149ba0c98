"""Extension groups in /apis (legacy and aggregated): placement and conversion."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest

from kubeapi.aggregator.apiservices import sorted_by_group_and_version
from kubeapi.aggregator.discovery import DiscoveryMerger, convert_resource_list
from kubeapi.api import builtin_catalog
from kubeapi.server import discovery

Obj = dict[str, Any]


def apiservice(group: str, version: str, gmin: int, vprio: int, available: bool = True) -> Obj:
    return {"metadata": {"name": f"{version}.{group}"},
            "spec": {"group": group, "version": version, "groupPriorityMinimum": gmin, "versionPriority": vprio,
                     "service": {"namespace": "ns", "name": "svc", "port": 443}},
            "status": {"conditions": [{"type": "Available", "status": "True" if available else "False"}]}}


class _Registry:
    def __init__(self, services: list[Obj]) -> None:
        self.by_name = {s["metadata"]["name"]: s for s in services}

    def remote_services(self) -> list[Obj]:
        return list(self.by_name.values())


class _Agg:
    def __init__(self, services: list[Obj]) -> None:
        self.registry = _Registry(services)


class OrderingTests(unittest.TestCase):
    def test_versions_by_priority_then_kube_version(self) -> None:
        groups = sorted_by_group_and_version([apiservice("g.io", "v1beta1", 100, 10), apiservice("g.io", "v1", 100, 10),
                                              apiservice("g.io", "v2alpha1", 100, 20)])
        self.assertEqual([s["spec"]["version"] for s in groups[0]], ["v2alpha1", "v1", "v1beta1"])

    def test_groups_by_minimum_priority(self) -> None:
        groups = sorted_by_group_and_version([apiservice("low.io", "v1", 100, 1), apiservice("high.io", "v1", 19000, 1)])
        self.assertEqual([g[0]["spec"]["group"] for g in groups], ["high.io", "low.io"])

    def test_legacy_list_places_extension_groups(self) -> None:
        catalog = builtin_catalog()
        merger = DiscoveryMerger(_Agg([apiservice("metrics.k8s.io", "v1beta1", 100, 100),
                                       apiservice("between.io", "v1", 17450, 15),
                                       apiservice("between.io", "v2", 17450, 20)]))
        doc = merger.merge_group_list(discovery.api_group_list(catalog), catalog.groups())
        names = [g["name"] for g in doc["groups"]]
        self.assertEqual(names[-1], "metrics.k8s.io")
        at = names.index("between.io")  # 17450: after autoscaling (17500), before batch (17400)
        self.assertEqual((names[at - 1], names[at + 1]), ("autoscaling", "batch"))
        between = doc["groups"][names.index("between.io")]
        self.assertEqual(between["preferredVersion"], {"groupVersion": "between.io/v2", "version": "v2"})
        self.assertEqual([v["version"] for v in between["versions"]], ["v2", "v1"])
        # the built-in order is untouched
        self.assertEqual([n for n in names if n not in ("between.io", "metrics.k8s.io")],
                         [g["name"] for g in discovery.api_group_list(catalog)["groups"]])

    def test_group_document(self) -> None:
        merger = DiscoveryMerger(_Agg([apiservice("metrics.k8s.io", "v1beta1", 100, 100)]))
        self.assertEqual(merger.group("metrics.k8s.io"), {
            "kind": "APIGroup", "apiVersion": "v1", "name": "metrics.k8s.io",
            "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
            "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}})
        self.assertIsNone(merger.group("nosuch.io"))

    def test_aggregated_before_first_fetch_is_stale(self) -> None:
        catalog = builtin_catalog()
        merger = DiscoveryMerger(_Agg([apiservice("metrics.k8s.io", "v1beta1", 100, 100)]))
        doc = merger.merge_aggregated(discovery.aggregated(catalog, False), catalog.groups())
        last = doc["items"][-1]
        self.assertEqual(last, {"metadata": {"name": "metrics.k8s.io", "creationTimestamp": None},
                                "versions": [{"version": "v1beta1", "freshness": "Stale"}]})
        merger.entries["v1beta1.metrics.k8s.io"] = {"version": "v1beta1", "resources": [], "freshness": "Current"}
        doc = merger.merge_aggregated(discovery.aggregated(catalog, False), catalog.groups())
        self.assertEqual(doc["items"][-1]["versions"][0]["freshness"], "Current")

    def test_local_group_of_the_same_name_is_not_duplicated(self) -> None:
        catalog = builtin_catalog()
        merger = DiscoveryMerger(_Agg([apiservice("apps", "v2", 17800, 20)]))
        doc = merger.merge_group_list(discovery.api_group_list(catalog), catalog.groups())
        self.assertEqual([g["name"] for g in doc["groups"]].count("apps"), 1)


class ConvertTests(unittest.TestCase):
    def test_legacy_resource_list_to_aggregated(self) -> None:
        doc = {"resources": [
            {"name": "widgets", "singularName": "widget", "namespaced": True, "kind": "Widget",
             "verbs": ["get", "list"], "shortNames": ["wd"], "categories": ["all"]},
            {"name": "widgets/status", "singularName": "", "namespaced": True, "kind": "Widget",
             "verbs": ["get", "patch"]},
            {"name": "gadgets", "singularName": "", "namespaced": False, "kind": "Gadget", "verbs": ["get"],
             "group": "other.io", "version": "v2"}]}
        self.assertEqual(convert_resource_list(doc), [
            {"resource": "widgets", "responseKind": {"group": "", "version": "", "kind": "Widget"},
             "scope": "Namespaced", "singularResource": "widget", "verbs": ["get", "list"],
             "shortNames": ["wd"], "categories": ["all"],
             "subresources": [{"subresource": "status", "responseKind": {"group": "", "version": "", "kind": "Widget"},
                               "verbs": ["get", "patch"]}]},
            {"resource": "gadgets", "responseKind": {"group": "other.io", "version": "v2", "kind": "Gadget"},
             "scope": "Cluster", "singularResource": "", "verbs": ["get"]}])
