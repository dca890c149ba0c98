"""The catalog: which kinds exist, named and stored as upstream has them."""

from __future__ import annotations

from twisted.trial import unittest

from kubeapi.api import builtin_catalog
from kubeapi.api.types import STANDARD_VERBS

# group, plural, kind, namespaced, shortNames, storage segment, categories
EXPECTED = [
    ("", "namespaces", "Namespace", False, ("ns",), "namespaces", ()),
    ("", "pods", "Pod", True, ("po",), "pods", ("all",)),
    ("", "services", "Service", True, ("svc",), "services/specs", ("all",)),
    ("", "endpoints", "Endpoints", True, ("ep",), "services/endpoints", ()),
    ("", "configmaps", "ConfigMap", True, ("cm",), "configmaps", ()),
    ("", "secrets", "Secret", True, (), "secrets", ()),
    ("", "serviceaccounts", "ServiceAccount", True, ("sa",), "serviceaccounts", ()),
    ("", "events", "Event", True, ("ev",), "events", ()),
    ("", "nodes", "Node", False, ("no",), "minions", ()),
    ("", "replicationcontrollers", "ReplicationController", True, ("rc",), "controllers", ("all",)),
    ("", "persistentvolumes", "PersistentVolume", False, ("pv",), "persistentvolumes", ()),
    ("", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",),
     "persistentvolumeclaims", ()),
    ("", "limitranges", "LimitRange", True, ("limits",), "limitranges", ()),
    ("", "resourcequotas", "ResourceQuota", True, ("quota",), "resourcequotas", ()),
    ("", "podtemplates", "PodTemplate", True, (), "podtemplates", ()),
    ("apps", "deployments", "Deployment", True, ("deploy",), "deployments", ("all",)),
    ("apps", "replicasets", "ReplicaSet", True, ("rs",), "replicasets", ("all",)),
    ("apps", "statefulsets", "StatefulSet", True, ("sts",), "statefulsets", ("all",)),
    ("apps", "daemonsets", "DaemonSet", True, ("ds",), "daemonsets", ("all",)),
    ("apps", "controllerrevisions", "ControllerRevision", True, (), "controllerrevisions", ()),
    ("batch", "jobs", "Job", True, (), "jobs", ("all",)),
    ("batch", "cronjobs", "CronJob", True, ("cj",), "cronjobs", ("all",)),
    ("coordination.k8s.io", "leases", "Lease", True, (), "leases", ()),
    ("discovery.k8s.io", "endpointslices", "EndpointSlice", True, (), "endpointslices", ()),
    ("events.k8s.io", "events", "Event", True, ("ev",), "events", ()),
]


class CatalogTests(unittest.TestCase):
    def test_every_kind_as_upstream(self) -> None:
        cat = builtin_catalog()
        for group, plural, kind, namespaced, shorts, segment, cats in EXPECTED:
            r = cat.get(group, "v1", plural)
            self.assertIsNotNone(r, plural)
            assert r is not None
            self.assertEqual((r.kind, r.namespaced, r.short_names, r.key_segment, r.categories),
                             (kind, namespaced, shorts, segment, cats), f"{group}/{plural}")
            self.assertEqual(r.singular, kind.lower())
            self.assertTrue(r.columns, plural)
            self.assertEqual(r.columns[0].name if plural != "events" else "Name",
                             "Name")
            self.assertIsNotNone(r.schema, plural)
        self.assertEqual(len(cat.all()), 66)  # every resource v1.34 serves with default flags

    def test_group_order_core_first_then_discovery_order(self) -> None:
        self.assertEqual(list(builtin_catalog().groups()),
                         ["", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
                          "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io",
                          "networking.k8s.io", "policy", "rbac.authorization.k8s.io", "storage.k8s.io",
                          "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
                          "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "resource.k8s.io",
                          "flowcontrol.apiserver.k8s.io"])
        self.assertEqual(builtin_catalog().groups()["autoscaling"], ["v2", "v1"])

    def test_storage_keys_as_upstream(self) -> None:
        # test/integration/etcd/data.go of v1.34
        cat = builtin_catalog()
        for (group, version, plural), ns, key in [
            (("rbac.authorization.k8s.io", "v1", "clusterroles"), None, "/registry/clusterroles/x"),
            (("rbac.authorization.k8s.io", "v1", "roles"), "d", "/registry/roles/d/x"),
            (("scheduling.k8s.io", "v1", "priorityclasses"), None, "/registry/priorityclasses/x"),
            (("autoscaling", "v1", "horizontalpodautoscalers"), "d", "/registry/horizontalpodautoscalers/d/x"),
            (("autoscaling", "v2", "horizontalpodautoscalers"), "d", "/registry/horizontalpodautoscalers/d/x"),
            (("networking.k8s.io", "v1", "ingresses"), "d", "/registry/ingress/d/x"),
            (("apiregistration.k8s.io", "v1", "apiservices"), None,
             "/registry/apiregistration.k8s.io/apiservices/x"),
            (("apiextensions.k8s.io", "v1", "customresourcedefinitions"), None,
             "/registry/apiextensions.k8s.io/customresourcedefinitions/x"),
            (("resource.k8s.io", "v1", "resourceslices"), None, "/registry/resourceslices/x"),
        ]:
            r = cat.get(group, version, plural)
            assert r is not None, plural
            self.assertEqual(r.key("/registry", ns, "x"), key)

    def test_fresh_catalog_each_call(self) -> None:
        a, b = builtin_catalog(), builtin_catalog()
        a.remove("", "v1", "pods")
        self.assertIsNone(a.get("", "v1", "pods"))
        self.assertIsNotNone(b.get("", "v1", "pods"))

    def test_keys(self) -> None:
        cat = builtin_catalog()
        nodes = cat.get("", "v1", "nodes")
        deploy = cat.get("apps", "v1", "deployments")
        assert nodes is not None and deploy is not None
        self.assertEqual(nodes.key("/registry", None, "n1"), "/registry/minions/n1")
        self.assertEqual(deploy.key("/registry", "default", "web"), "/registry/deployments/default/web")

    def test_subresources_and_verbs(self) -> None:
        cat = builtin_catalog()

        def sub(group: str, plural: str) -> set[str]:
            r = cat.get(group, "v1", plural)
            assert r is not None
            return set(r.subresources)

        self.assertEqual(sub("", "pods"), {"status", "log", "exec", "attach", "portforward", "proxy",
                                           "binding", "eviction", "ephemeralcontainers", "resize"})
        self.assertEqual(sub("", "services"), {"status", "proxy"})
        self.assertEqual(sub("", "nodes"), {"status", "proxy"})
        self.assertEqual(sub("", "namespaces"), {"status", "finalize"})
        for group, plural in (("apps", "deployments"), ("apps", "replicasets"),
                              ("apps", "statefulsets"), ("", "replicationcontrollers")):
            self.assertEqual(sub(group, plural), {"status", "scale"})
            r = cat.get(group, "v1", plural)
            assert r is not None
            self.assertIsNotNone(r.scale)
            self.assertTrue(r.has_generation)
        for group, plural in (("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs"),
                              ("", "persistentvolumeclaims"), ("", "persistentvolumes"),
                              ("", "resourcequotas")):
            self.assertEqual(sub(group, plural), {"status"})
        ns = cat.get("", "v1", "namespaces")
        ev = cat.get("", "v1", "events")
        assert ns is not None and ev is not None
        self.assertNotIn("deletecollection", ns.verbs)
        self.assertEqual(ev.verbs, STANDARD_VERBS)

    def test_status_and_delete_flags(self) -> None:
        cat = builtin_catalog()
        pods = cat.get("", "v1", "pods")
        cms = cat.get("", "v1", "configmaps")
        assert pods is not None and cms is not None
        self.assertTrue(pods.has_status and pods.return_deleted_object)
        self.assertFalse(cms.has_status or cms.return_deleted_object)
        self.assertTrue(pods.has_generation)  # v1.33 sets pod metadata.generation (KEP-5067)
        self.assertFalse(cms.has_generation)

    def test_both_event_groups_share_storage(self) -> None:
        cat = builtin_catalog()
        core, new = cat.get("", "v1", "events"), cat.get("events.k8s.io", "v1", "events")
        assert core is not None and new is not None
        self.assertEqual(core.key("/registry", "ns", "e"), new.key("/registry", "ns", "e"))
        self.assertIsNotNone(new.to_storage)
        self.assertIsNone(core.to_storage)
