"""The OpenAPI documents kubectl and client generators read."""

from __future__ import annotations

from typing import Any

import orjson
from twisted.trial import unittest

from kubeapi.openapi import OpenAPIDocs, build_v2, build_v3, build_v3_index, build_v3_path, doc_hash
from tests.openapi.fixtures import catalog

META = "io.k8s.apimachinery.pkg.apis.meta.v1"


def _refs(node: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                out.add(v)
            else:
                out |= _refs(v)
    elif isinstance(node, list):
        for v in node:
            out |= _refs(v)
    return out


class V2Tests(unittest.TestCase):
    def setUp(self) -> None:
        self.doc = build_v2(catalog())

    def test_definitions_named_as_upstream(self) -> None:
        defs = self.doc["definitions"]
        for name in ("io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.PodList", "io.k8s.api.apps.v1.Deployment",
                     "io.k8s.api.rbac.v1.Role", "com.example.stable.v1.CronTab", f"{META}.ObjectMeta",
                     f"{META}.Status", f"{META}.DeleteOptions", f"{META}.WatchEvent",
                     "io.k8s.api.autoscaling.v1.Scale"):
            self.assertIn(name, defs)
        self.assertEqual(defs["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"],
                         [{"group": "", "kind": "Pod", "version": "v1"}])
        self.assertEqual(defs["io.k8s.api.core.v1.Pod"]["properties"]["metadata"]["$ref"],
                         f"#/definitions/{META}.ObjectMeta")
        containers = defs["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["properties"]["containers"]
        self.assertEqual(containers["x-kubernetes-patch-merge-key"], "name")

    def test_every_ref_resolves(self) -> None:
        for ref in _refs(self.doc):
            self.assertTrue(ref.startswith("#/definitions/"), ref)
            self.assertIn(ref.removeprefix("#/definitions/"), self.doc["definitions"], ref)

    def test_paths_and_actions(self) -> None:
        paths = self.doc["paths"]
        item = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
        self.assertEqual(item["get"]["operationId"], "readCoreV1NamespacedPod")
        self.assertEqual(item["patch"]["x-kubernetes-action"], "patch")
        self.assertIn("application/strategic-merge-patch+json", item["patch"]["consumes"])
        self.assertEqual(item["delete"]["operationId"], "deleteCoreV1NamespacedPod")
        coll = paths["/api/v1/namespaces/{namespace}/pods"]
        self.assertEqual({m: op["x-kubernetes-action"] for m, op in coll.items() if m != "parameters"},
                         {"get": "list", "post": "post", "delete": "deletecollection"})
        self.assertEqual(coll["delete"]["operationId"], "deleteCoreV1CollectionNamespacedPod")
        self.assertEqual(paths["/api/v1/pods"]["get"]["operationId"], "listCoreV1PodForAllNamespaces")
        self.assertEqual(paths["/api/v1/watch/namespaces/{namespace}/pods"]["get"]["x-kubernetes-action"],
                         "watchlist")
        self.assertEqual(paths["/api/v1/watch/namespaces/{namespace}/pods/{name}"]["get"]["operationId"],
                         "watchCoreV1NamespacedPod")
        self.assertEqual(paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]["put"]["operationId"],
                         "replaceCoreV1NamespacedPodStatus")
        self.assertNotIn("/api/v1/namespaces/{namespace}/pods/{name}/exec", paths)
        # Cluster-scoped, without deletecollection.
        self.assertEqual(paths["/api/v1/namespaces"]["get"]["operationId"], "listCoreV1Namespace")
        self.assertNotIn("delete", paths["/api/v1/namespaces"])
        self.assertEqual(paths["/api/v1/namespaces/{name}"]["get"]["tags"], ["core_v1"])
        scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
        self.assertEqual(scale["operationId"], "patchAppsV1NamespacedDeploymentScale")
        self.assertEqual(scale["x-kubernetes-group-version-kind"],
                         {"group": "autoscaling", "kind": "Scale", "version": "v1"})
        role = paths["/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles"]["get"]
        self.assertEqual(role["operationId"], "listRbacAuthorizationV1NamespacedRole")
        self.assertEqual(role["tags"], ["rbacAuthorization_v1"])

    def test_parameters(self) -> None:
        item = self.doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
        self.assertEqual({p["name"] for p in item["parameters"]}, {"name", "namespace", "pretty"})
        names = [p["name"] for p in item["patch"]["parameters"]]
        self.assertEqual(names, ["body", "dryRun", "fieldManager", "fieldValidation", "force"])
        self.assertTrue(item["patch"]["parameters"][0]["required"])


class V3Tests(unittest.TestCase):
    def test_patch_operation_offers_field_validation(self) -> None:
        """What kubectl checks before relying on server-side field validation: the first PATCH
        operation tagged with the kind's GVK has a ``fieldValidation`` query parameter."""
        doc = build_v3(catalog(), "", "v1")
        assert doc is not None
        gvk = {"group": "", "kind": "Pod", "version": "v1"}
        patch_ops = [item["patch"] for item in doc["paths"].values()
                     if "patch" in item and item["patch"]["x-kubernetes-group-version-kind"] == gvk]
        self.assertEqual(len(patch_ops), 2)  # the pod and its status
        for op in patch_ops:
            self.assertIn(("fieldValidation", "query"),
                          [(p["name"], p["in"]) for p in op["parameters"]])
        body = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]["requestBody"]
        self.assertEqual(sorted(body["content"]), ["application/apply-patch+yaml", "application/json-patch+json",
                                                   "application/merge-patch+json",
                                                   "application/strategic-merge-patch+json"])

    def test_schemas_for_one_group_version(self) -> None:
        doc = build_v3(catalog(), "apps", "v1")
        assert doc is not None
        self.assertEqual(doc["openapi"], "3.0.0")
        schemas = doc["components"]["schemas"]
        self.assertIn("io.k8s.api.apps.v1.Deployment", schemas)
        self.assertNotIn("io.k8s.api.core.v1.Pod", schemas)
        self.assertIn("io.k8s.api.autoscaling.v1.Scale", schemas)
        dep = schemas["io.k8s.api.apps.v1.Deployment"]
        self.assertEqual(dep["properties"]["metadata"]["$ref"], f"#/components/schemas/{META}.ObjectMeta")
        for ref in _refs(doc):
            self.assertIn(ref.removeprefix("#/components/schemas/"), schemas, ref)
        self.assertIn("/apis/apps/v1/", doc["paths"])
        self.assertIsNone(build_v3(catalog(), "apps", "v2"))

    def test_pod_metadata_points_at_object_meta(self) -> None:
        doc = build_v3_path(catalog(), "api/v1")
        assert doc is not None
        md = doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"]["properties"]["metadata"]
        self.assertEqual(md["allOf"], [{"$ref": f"#/components/schemas/{META}.ObjectMeta"}])
        om = doc["components"]["schemas"][f"{META}.ObjectMeta"]["properties"]
        self.assertEqual(om["finalizers"]["x-kubernetes-patch-strategy"], "merge")

    def test_index(self) -> None:
        cat = catalog()
        index = build_v3_index(cat)
        self.assertEqual(sorted(index["paths"]), ["api", "api/v1", "apis", "apis/apps/v1",
                                                  "apis/rbac.authorization.k8s.io/v1",
                                                  "apis/stable.example.com/v1"])
        url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
        body = orjson.dumps(build_v3(cat, "apps", "v1"))
        self.assertEqual(url, "/openapi/v3/apis/apps/v1?hash=" + doc_hash(body))
        self.assertRegex(url.rsplit("=", 1)[1], "^[0-9A-F]{128}$")
        apis = build_v3_path(cat, "apis")
        assert apis is not None
        self.assertIn("/apis/apps/", apis["paths"])
        self.assertIsNone(build_v3_path(cat, "apis/nope/v1"))

    def test_docs_cache(self) -> None:
        cat = catalog()
        docs = OpenAPIDocs(cat)
        found = docs.v3("api/v1")
        assert found is not None
        body, etag = found
        self.assertEqual(etag, doc_hash(body))
        index = orjson.loads(docs.v3_index())
        self.assertEqual(index, build_v3_index(cat))
        self.assertIsNone(docs.v3("apis/x/v1"))
        self.assertEqual(orjson.loads(docs.v2())["swagger"], "2.0")
        cat.remove("apps", "v1", "deployments")
        self.assertIsNotNone(docs.v3("apis/apps/v1"), "cached until invalidated")
        docs.invalidate()
        self.assertIsNone(docs.v3("apis/apps/v1"))
