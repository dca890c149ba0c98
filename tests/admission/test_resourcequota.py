"""ResourceQuota at admission: counts, compute, scopes, status.used, and concurrent creates."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from kubeapi.admission.quantity import parse
from kubeapi.errors import StatusError
from tests.admission.helpers import AdmissionCase, W, async_test, pod


def quota(name: str, hard: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"hard": hard, **spec}}


def compute_pod(name: str, cpu: str = "100m", mem: str = "64Mi", **kw: Any) -> dict[str, Any]:
    res = {"requests": {"cpu": cpu, "memory": mem}, "limits": {"cpu": cpu, "memory": mem}}
    return pod(name, containers=[{"name": "c", "image": "nginx", "resources": res}], **kw)


class QuantityTests(AdmissionCase):
    def test_parse_and_format(self) -> None:
        self.assertEqual(str(parse("500m") + parse("500m")), "1")
        self.assertEqual(str(parse("1") + parse("500m")), "1500m")
        self.assertEqual(str(parse("64Mi") + parse("64Mi")), "128Mi")
        self.assertEqual(str(parse("1Gi")), "1Gi")
        self.assertEqual(str(parse("1000")), "1k")
        self.assertEqual(str(parse("1e3")), "1e3")
        self.assertEqual(parse("1Ki").value, 1024)
        self.assertGreater(parse("1.5").value, parse("1400m").value)
        with self.assertRaises(ValueError):
            parse("12abc")


class ResourceQuotaTests(AdmissionCase):
    plugins = ("NamespaceLifecycle", "ResourceQuota")

    async def _ns(self, s: dict[str, Any], name: str = "default") -> None:
        await s["namespaces"].create("", {"metadata": {"name": name}}, W)

    @async_test
    async def test_pod_count_stops_the_eleventh(self) -> None:
        s = self.stores()
        await self._ns(s)
        await s["resourcequotas"].create("default", quota("q", {"pods": "10"}), W)
        for i in range(10):
            await s["pods"].create("default", pod(f"p{i}"), W)
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("p10"), W)
        e = cm.exception
        self.assertEqual((e.code, e.reason), (403, "Forbidden"))
        self.assertEqual(e.message, 'pods "p10" is forbidden: exceeded quota: q, requested: pods=1, '
                                    'used: pods=10, limited: pods=10')
        q = await s["resourcequotas"].get("default", "q")
        self.assertEqual(q["status"], {"hard": {"pods": "10"}, "used": {"pods": "10"}})

    @async_test
    async def test_concurrent_creates_never_exceed(self) -> None:
        s = self.stores()
        await self._ns(s)
        await s["resourcequotas"].create("default", quota("q", {"pods": "10", "count/pods": "50"}), W)
        results = await defer.DeferredList(
            [defer.Deferred.fromCoroutine(s["pods"].create("default", pod(f"p{i}"), W)) for i in range(20)],
            consumeErrors=True)
        ok = [r for good, r in results if good]
        refused = [r for good, r in results if not good]
        self.assertEqual(len(ok), 10)
        self.assertEqual(len(refused), 10)
        for f in refused:
            self.assertIn("exceeded quota: q", f.value.message)
        listed = await self.storage.list("/registry/pods/default/")
        self.assertEqual(len(listed.items), 10)
        q = await s["resourcequotas"].get("default", "q")
        self.assertEqual(q["status"]["used"], {"count/pods": "10", "pods": "10"})

    @async_test
    async def test_compute_requests_and_limits(self) -> None:
        s = self.stores()
        await self._ns(s)
        await s["resourcequotas"].create("default", quota(
            "compute", {"requests.cpu": "1", "limits.memory": "256Mi", "requests.memory": "1Gi", "limits.cpu": "2"}), W)
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("bare"), W)
        self.assertEqual(cm.exception.message,
                         'pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: c; '
                         'limits.memory for: c; requests.cpu for: c; requests.memory for: c')
        await s["pods"].create("default", compute_pod("a", "500m", "128Mi"), W)
        await s["pods"].create("default", compute_pod("b", "250m", "64Mi"), W)
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", compute_pod("c", "500m", "100Mi"), W)
        self.assertEqual(cm.exception.message,
                         'pods "c" is forbidden: exceeded quota: compute, requested: limits.memory=100Mi,'
                         'requests.cpu=500m, used: limits.memory=192Mi,requests.cpu=750m, '
                         'limited: limits.memory=256Mi,requests.cpu=1')
        q = await s["resourcequotas"].get("default", "compute")
        self.assertEqual(q["status"]["used"], {"limits.cpu": "750m", "limits.memory": "192Mi",
                                               "requests.cpu": "750m", "requests.memory": "192Mi"})

    @async_test
    async def test_scopes(self) -> None:
        s = self.stores()
        await self._ns(s)
        await s["resourcequotas"].create("default", quota("be", {"pods": "1"}, scopes=["BestEffort"]), W)
        await s["resourcequotas"].create("default", quota("term", {"pods": "1"}, scopes=["Terminating"]), W)
        await s["pods"].create("default", pod("be1"), W)
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("be2"), W)
        self.assertIn("exceeded quota: be,", cm.exception.message)
        await s["pods"].create("default", compute_pod("nbe1"), W)  # not best-effort: only "term" could match
        await s["pods"].create("default", compute_pod("t1", activeDeadlineSeconds=30), W)
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", compute_pod("t2", activeDeadlineSeconds=30), W)
        self.assertIn("exceeded quota: term,", cm.exception.message)

    @async_test
    async def test_priority_class_scope_selector(self) -> None:
        s = self.stores()
        await self._ns(s)
        await s["resourcequotas"].create("default", quota("hi", {"pods": "0"}, scopeSelector={"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}), W)
        await s["pods"].create("default", pod("low", priorityClassName="low"), W)
        with self.assertRaises(StatusError) as cm:
            await s["pods"].create("default", pod("high", priorityClassName="high"), W)
        self.assertIn("exceeded quota: hi, requested: pods=1, used: pods=0, limited: pods=0", cm.exception.message)

    @async_test
    async def test_object_counts_services_and_groups(self) -> None:
        s = self.stores()
        await self._ns(s)
        await s["resourcequotas"].create("default", quota("objs", {
            "configmaps": "1", "services.nodeports": "1", "count/deployments.apps": "0"}), W)
        await s["configmaps"].create("default", {"metadata": {"name": "a"}}, W)
        with self.assertRaises(StatusError) as cm:
            await s["configmaps"].create("default", {"metadata": {"name": "b"}}, W)
        self.assertEqual(cm.exception.message, 'configmaps "b" is forbidden: exceeded quota: objs, '
                                               'requested: configmaps=1, used: configmaps=1, limited: configmaps=1')
        svc = {"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}}
        with self.assertRaises(StatusError) as cm:
            await s["services"].create("default", svc, W)
        self.assertIn("requested: services.nodeports=2, used: services.nodeports=0", cm.exception.message)
        dep = {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
        with self.assertRaises(StatusError) as cm:
            await s["deployments"].create("default", dep, W)
        self.assertEqual(cm.exception.message, 'deployments.apps "d" is forbidden: exceeded quota: objs, '
                                               'requested: count/deployments.apps=1, used: count/deployments.apps=0, '
                                               'limited: count/deployments.apps=0')

    @async_test
    async def test_existing_objects_counted_and_deletes_recounted(self) -> None:
        s = self.stores()
        await self._ns(s)
        for i in range(3):
            await s["configmaps"].create("default", {"metadata": {"name": f"c{i}"}}, W)
        await s["resourcequotas"].create("default", quota("q", {"configmaps": "3"}), W)
        with self.assertRaises(StatusError) as cm:
            await s["configmaps"].create("default", {"metadata": {"name": "c3"}}, W)
        self.assertIn("used: configmaps=3", cm.exception.message)
        from kubeapi.registry.options import DeleteOptions
        await s["configmaps"].delete("default", "c0", DeleteOptions())
        await s["configmaps"].create("default", {"metadata": {"name": "c3"}}, W)  # the delete freed one
        q = await s["resourcequotas"].get("default", "q")
        self.assertEqual(q["status"]["used"], {"configmaps": "3"})
        with self.assertRaises(StatusError):
            await s["configmaps"].create("default", {"metadata": {"name": "c4"}}, W)

    @async_test
    async def test_dry_run_does_not_charge(self) -> None:
        from kubeapi.registry.options import WriteOptions
        s = self.stores()
        await self._ns(s)
        await s["resourcequotas"].create("default", quota("q", {"pods": "1"}), W)
        await s["pods"].create("default", pod("a"), WriteOptions(dry_run=True))
        await s["pods"].create("default", pod("b"), W)


class LimitedResourcesTests(AdmissionCase):
    plugins = ("ResourceQuota",)
    config = {"ResourceQuota": {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "ResourceQuotaConfiguration",
                                "limitedResources": [{"resource": "persistentvolumeclaims",
                                                      "matchContains": ["requests.storage"]}]}}

    @async_test
    async def test_limited_resource_needs_a_quota(self) -> None:
        s = self.stores()
        pvc = {"metadata": {"name": "v"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                   "resources": {"requests": {"storage": "1Gi"}}}}
        with self.assertRaises(StatusError) as cm:
            await s["pvcs"].create("default", pvc, W)
        self.assertEqual(cm.exception.message, 'persistentvolumeclaims "v" is forbidden: insufficient quota to '
                                               'consume: requests.storage')
        await s["resourcequotas"].create("default", quota("st", {"requests.storage": "10Gi"}), W)
        await s["pvcs"].create("default", pvc, W)
