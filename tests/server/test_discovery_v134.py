"""Discovery documents equal upstream's own (kubernetes v1.34.4 api/discovery/*.json in the Go
module cache), restricted to the group-versions served by default."""

from __future__ import annotations

import json
import os

from twisted.trial import unittest

from kubeapi.api import builtin_catalog
from kubeapi.api.generated import group_versions
from kubeapi.server import discovery

UPSTREAM = "/root/go/pkg/mod/k8s.io/kubernetes@v1.34.4/api/discovery"


def upstream(name: str) -> dict:
    path = os.path.join(UPSTREAM, name)
    if not os.path.exists(path):
        raise unittest.SkipTest("upstream discovery documents not in the module cache")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class UpstreamDiscoveryTests(unittest.TestCase):
    catalog = builtin_catalog()

    def test_resource_lists(self) -> None:
        for group, versions in group_versions():
            for v in versions:
                name = "api__v1.json" if not group else f"apis__{group}__{v}.json"
                want = upstream(name)["resources"]
                got = discovery.resource_list(self.catalog, group, v)
                assert got is not None
                self.assertEqual(got["resources"], want, f"{group}/{v}")

    def test_aggregated(self) -> None:
        def index(doc: dict) -> dict:
            return {(g["metadata"].get("name", ""), v["version"], r["resource"]): r
                    for g in doc["items"] for v in g["versions"] for r in v["resources"]}
        want = index(upstream("aggregated_v2.json"))
        got = index(discovery.aggregated(self.catalog, legacy=False))
        self.assertEqual(len(got), 49)
        for key, entry in got.items():
            self.assertEqual(entry, want.get(key), key)

    def test_group_list(self) -> None:
        want = [g["name"] for g in upstream("apis.json")["groups"]
                if any(f"{g['name']}/{v['version']}" in self._served() for v in g["versions"])]
        got = [g["name"] for g in discovery.api_group_list(self.catalog)["groups"]]
        self.assertEqual(got, want)

    def _served(self) -> set[str]:
        return {f"{g}/{v}" for g, vs in group_versions() if g for v in vs}
