"""Subresources controllers rely on, over HTTP on the real server and embedded store:
pods/binding and bindings, pods/eviction against PodDisruptionBudgets in storage,
pods/ephemeralcontainers, pods/resize, nodes/status, namespaces/finalize; plus delete
propagation, managedFields naming, Table objects, body decoding and the JSON newline."""

from __future__ import annotations

from typing import Any

import treq
from twisted.internet import defer

from kubeapi import protobuf
from kubeapi.api import builtin_catalog
from kubeapi.api.types import Catalog, ResourceDef
from kubeapi.registry import codec
from tests.server.support import ServerTestCase

Obj = dict[str, Any]
NS = "/api/v1/namespaces/default"
PODS = NS + "/pods"
BINDINGS = ResourceDef(group="", version="v1", kind="Binding", plural="bindings", singular="binding",
                       namespaced=True, verbs=("create",))


def catalog() -> Catalog:
    base = builtin_catalog()
    rdefs = list(base.all())
    if base.get("", "v1", "bindings") is None:
        rdefs.append(BINDINGS)
    return Catalog(rdefs)


def pod(name: str = "p", node: str = "", labels: Obj | None = None, ready: bool = True) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "nginx",
                                 "resources": {"requests": {"cpu": "100m"}}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": "web"}},
            "spec": spec}


def d(coro: Any) -> defer.Deferred[Any]:
    return defer.ensureDeferred(coro)


class Case(ServerTestCase):
    async def setup(self) -> None:
        await self.start_server(catalog=catalog())
        code, _, _ = await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "default"}})
        self.assertEqual(code, 201)

    async def running_pod(self, name: str = "p", ready: bool = True, node: str = "") -> Obj:
        code, body, _ = await self.call("POST", PODS, pod(name, node=node))
        self.assertEqual(code, 201, body)
        status = {"phase": "Running",
                  "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
        body["status"] = status
        code, body, _ = await self.call("PUT", f"{PODS}/{name}/status", body)
        self.assertEqual(code, 200, body)
        return body

    async def put_pdb(self, name: str, allowed: int, *, generation: int = 1, observed: int = 1) -> str:
        key = f"/registry/poddisruptionbudgets/default/{name}"
        obj = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": name, "namespace": "default", "uid": "u-" + name, "generation": generation},
               "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
               "status": {"observedGeneration": observed, "disruptionsAllowed": allowed, "currentHealthy": 1,
                          "desiredHealthy": 1, "expectedPods": 1}}
        kv = await self.storage.get(key)
        data = codec.encode_stored(obj, codec.JSON)
        if kv is None:
            await self.storage.create(key, data)
        else:
            await self.storage.update(key, data, kv.mod_revision)
        return key


class BindingTests(Case):
    def test_binding_sets_node_once_and_marks_scheduled(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            await self.call("POST", PODS, pod())
            b = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "annotations": {"a": "b"}},
                 "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
            code, body, _ = await self.call("POST", f"{PODS}/p/binding", b)
            self.assertEqual((code, body), (201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                  "status": "Success", "code": 201}))
            _, got, _ = await self.call("GET", f"{PODS}/p")
            self.assertEqual(got["spec"]["nodeName"], "n1")
            self.assertEqual(got["metadata"]["annotations"], {"a": "b"})
            [cond] = [c for c in got["status"]["conditions"] if c["type"] == "PodScheduled"]
            self.assertEqual(cond["status"], "True")
            self.assertIn("lastTransitionTime", cond)
            code, body, _ = await self.call("POST", f"{PODS}/p/binding", dict(b, target={"name": "n2"}))
            self.assertEqual((code, body["reason"]), (409, "Conflict"))
            self.assertEqual(body["message"], 'Operation cannot be fulfilled on pods/binding "p": pod p is '
                                              'already assigned to node "n1"')
            code, body, _ = await self.call("POST", f"{PODS}/p/binding", dict(b, metadata={"name": "q"}))
            self.assertEqual((code, body["message"]), (400, "name in URL does not match name in Binding object"))
            code, body, _ = await self.call("POST", f"{PODS}/p/binding", dict(b, target={"kind": "Pod"}))
            self.assertEqual((code, body["reason"]), (422, "Invalid"))
            self.assertEqual([c["field"] for c in body["details"]["causes"]], ["target.kind", "target.name"])
        return d(go())

    def test_bindings_resource_names_the_pod_in_the_body(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            await self.call("POST", PODS, pod("x"))
            code, body, _ = await self.call("POST", NS + "/bindings", {
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "x"}, "target": {"name": "n9"}})
            self.assertEqual((code, body["status"]), (201, "Success"))
            _, got, _ = await self.call("GET", f"{PODS}/x")
            self.assertEqual(got["spec"]["nodeName"], "n9")
            code, body, _ = await self.call("POST", NS + "/bindings", {
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "missing"}, "target": {"name": "n9"}})
            self.assertEqual(code, 404)
        return d(go())


class EvictionTests(Case):
    def eviction(self, name: str = "p") -> Obj:
        return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}

    def test_budget_blocks_then_allows_and_is_spent(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            await self.running_pod()
            key = await self.put_pdb("budget", 0)
            code, body, _ = await self.call("POST", f"{PODS}/p/eviction", self.eviction())
            self.assertEqual((code, body["reason"]), (429, "TooManyRequests"))
            self.assertEqual(body["message"], "Cannot evict pod as it would violate the pod's disruption budget.")
            self.assertEqual(body["details"]["causes"], [{"reason": "DisruptionBudget", "message":
                             "The disruption budget budget needs 1 healthy pods and has 1 currently"}])
            # StatusCause.Type is "reason" in JSON and field 1 in protobuf (what clients decode:
            # apierrors.HasStatusCause, which upstream's disruption e2e spec asserts on).
            code, raw, _ = await self.call("POST", f"{PODS}/p/eviction", self.eviction(),
                                           headers={"Accept": "application/vnd.kubernetes.protobuf"})
            self.assertEqual(code, 429)
            self.assertEqual(protobuf.decode(raw)["details"]["causes"][0]["reason"], "DisruptionBudget")
            code, _, _ = await self.call("GET", f"{PODS}/p")
            self.assertEqual(code, 200)
            await self.put_pdb("budget", 1)
            code, body, _ = await self.call("POST", f"{PODS}/p/eviction", self.eviction())
            self.assertEqual((code, body["status"]), (201, "Success"))
            code, _, _ = await self.call("GET", f"{PODS}/p")
            self.assertEqual(code, 404)
            kv = await self.storage.get(key)
            st = codec.decode_stored(kv.value)["status"]
            self.assertEqual(st["disruptionsAllowed"], 0)
            self.assertIn("p", st["disruptedPods"])
            self.assertEqual([(c["type"], c["status"], c["reason"]) for c in st["conditions"]],
                             [("DisruptionAllowed", "False", "InsufficientPods")])
        return d(go())

    def test_unprocessed_budget_and_pod_without_budget(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            await self.running_pod()
            await self.put_pdb("budget", 1, generation=2, observed=1)
            code, body, h = await self.call("POST", f"{PODS}/p/eviction", self.eviction())
            self.assertEqual(code, 429)
            self.assertEqual(body["details"]["causes"][0]["message"],
                             "The disruption budget budget is still being processed by the server.")
            self.assertEqual(h.getRawHeaders("retry-after"), ["10"])
            await self.running_pod("lonely")
            code, body, _ = await self.call("POST", f"{PODS}/lonely/eviction", self.eviction("lonely"))
            self.assertEqual(code, 429)  # same labels: the budget applies
            await self.storage.delete("/registry/poddisruptionbudgets/default/budget")
            code, body, _ = await self.call("POST", f"{PODS}/lonely/eviction", self.eviction("lonely"))
            self.assertEqual(code, 201)
            code, body, _ = await self.call("POST", f"{PODS}/p/eviction", self.eviction("other"))
            self.assertEqual((code, body["message"]), (400, "name in URL does not match name in Eviction object"))
        return d(go())

    def test_scheduled_pod_gets_disruption_target_and_graceful_deletion(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            await self.running_pod(node="n1")
            code, _, _ = await self.call("POST", f"{PODS}/p/eviction", self.eviction())
            self.assertEqual(code, 201)
            _, got, _ = await self.call("GET", f"{PODS}/p")
            self.assertIn("deletionTimestamp", got["metadata"])
            [c] = [c for c in got["status"]["conditions"] if c["type"] == "DisruptionTarget"]
            self.assertEqual((c["status"], c["reason"]), ("True", "EvictionByEvictionAPI"))
        return d(go())


class PodSpecSubresourceTests(Case):
    def test_ephemeral_containers_added_not_removed(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            await self.call("POST", PODS, pod())
            patch = {"spec": {"ephemeralContainers": [{"name": "debug", "image": "busybox"}],
                              "containers": [{"name": "c", "image": "ignored"}]}}
            code, body, _ = await self.call("PATCH", f"{PODS}/p/ephemeralcontainers", patch,
                                            headers={"Content-Type": "application/strategic-merge-patch+json"})
            self.assertEqual(code, 200, body)
            self.assertEqual(body["spec"]["ephemeralContainers"][0]["name"], "debug")
            self.assertEqual(body["spec"]["containers"][0]["image"], "nginx")
            code, got, _ = await self.call("GET", f"{PODS}/p/ephemeralcontainers")
            self.assertEqual((code, got["kind"]), (200, "Pod"))
            got["spec"]["ephemeralContainers"] = []
            code, body, _ = await self.call("PUT", f"{PODS}/p/ephemeralcontainers", got)
            self.assertEqual(code, 422, body)
            self.assertIn('existing ephemeral containers "debug" may not be removed', body["message"])
        return d(go())

    def test_resize_changes_only_resources(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            await self.call("POST", PODS, pod())
            patch = {"spec": {"containers": [{"name": "c", "image": "ignored",
                                              "resources": {"requests": {"cpu": "200m"}}}]}}
            code, body, _ = await self.call("PATCH", f"{PODS}/p/resize", patch,
                                            headers={"Content-Type": "application/strategic-merge-patch+json"})
            self.assertEqual(code, 200, body)
            c = body["spec"]["containers"][0]
            self.assertEqual((c["image"], c["resources"]["requests"]["cpu"]), ("nginx", "200m"))
        return d(go())


class NodeAndNamespaceTests(Case):
    def test_node_status_and_namespace_finalize(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            code, node, _ = await self.call("POST", "/api/v1/nodes", {"metadata": {"name": "n1"},
                                                                      "spec": {"podCIDR": "10.0.0.0/24"}})
            self.assertEqual(code, 201, node)
            code, body, _ = await self.call("PATCH", "/api/v1/nodes/n1/status",
                                            {"status": {"capacity": {"cpu": "4"}}, "spec": {"unschedulable": True}},
                                            headers={"Content-Type": "application/merge-patch+json"})
            self.assertEqual(code, 200, body)
            self.assertEqual(body["status"]["capacity"], {"cpu": "4"})
            self.assertNotIn("unschedulable", body["spec"])
            await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "gone"}})
            await self.call("DELETE", "/api/v1/namespaces/gone")
            _, ns, _ = await self.call("GET", "/api/v1/namespaces/gone")
            ns["spec"]["finalizers"] = []
            code, body, _ = await self.call("PUT", "/api/v1/namespaces/gone/finalize", ns)
            self.assertEqual(code, 200, body)
            # The last finalizer gone from a terminating namespace: the store deletes it.
            code, _, _ = await self.call("GET", "/api/v1/namespaces/gone")
            self.assertEqual(code, 404)
        return d(go())


class DeleteTests(Case):
    DEPLOY = "/apis/apps/v1/namespaces/default/deployments"

    async def deployment(self, name: str) -> None:
        code, body, _ = await self.call("POST", self.DEPLOY, {
            "metadata": {"name": name}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
        self.assertEqual(code, 201, body)

    def test_propagation_finalizers(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            for name, policy, fins in (("fg", "Foreground", ["foregroundDeletion"]), ("or", "Orphan", ["orphan"])):
                await self.deployment(name)
                code, body, _ = await self.call("DELETE", f"{self.DEPLOY}/{name}",
                                                {"kind": "DeleteOptions", "apiVersion": "v1",
                                                 "propagationPolicy": policy})
                self.assertEqual(code, 200, body)
                _, got, _ = await self.call("GET", f"{self.DEPLOY}/{name}")
                self.assertEqual(got["metadata"]["finalizers"], fins)
                self.assertIn("deletionTimestamp", got["metadata"])
            await self.deployment("bg")
            code, _, _ = await self.call("DELETE", f"{self.DEPLOY}/bg?propagationPolicy=Background")
            self.assertEqual(code, 200)
            code, _, _ = await self.call("GET", f"{self.DEPLOY}/bg")
            self.assertEqual(code, 404)
            # apps/v1 defaults to background; legacy orphanDependents=true means orphan.
            await self.deployment("def")
            code, _, _ = await self.call("DELETE", f"{self.DEPLOY}/def")
            self.assertEqual(code, 200)
            self.assertEqual((await self.call("GET", f"{self.DEPLOY}/def"))[0], 404)
            await self.deployment("leg")
            code, _, _ = await self.call("DELETE", f"{self.DEPLOY}/leg", {"orphanDependents": True})
            _, got, _ = await self.call("GET", f"{self.DEPLOY}/leg")
            self.assertEqual(got["metadata"]["finalizers"], ["orphan"])
        return d(go())

    def test_job_default_orphans_and_preconditions(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            jobs = "/apis/batch/v1/namespaces/default/jobs"
            code, body, _ = await self.call("POST", jobs, {"metadata": {"name": "j"}, "spec": {"template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}})
            self.assertEqual(code, 201, body)
            code, err, _ = await self.call("DELETE", f"{jobs}/j", {"preconditions": {"uid": "nope"}})
            self.assertEqual(code, 409)
            self.assertEqual(err["message"], f'Operation cannot be fulfilled on Job.batch "j": the UID in the '
                                             f'precondition (nope) does not match the UID in record '
                                             f'({body["metadata"]["uid"]}). The object might have been deleted '
                                             f'and then recreated')
            code, err, _ = await self.call("DELETE", f"{jobs}/j", {"preconditions": {"resourceVersion": "1"}})
            self.assertEqual(code, 409)
            self.assertIn("the ResourceVersion in the precondition (1) does not match", err["message"])
            code, _, _ = await self.call("DELETE", f"{jobs}/j")
            self.assertEqual(code, 200)
            _, got, _ = await self.call("GET", f"{jobs}/j")
            self.assertEqual(got["metadata"]["finalizers"], ["orphan"])
        return d(go())


class SmallThingsTests(Case):
    def test_manager_from_user_agent_table_objects_newline_and_wrong_kind(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup()
            code, cm, _ = await self.call("POST", NS + "/configmaps", {"metadata": {"name": "c"}, "data": {"k": "v"}},
                                          headers={"User-Agent": "my-operator/1.2 (linux)"})
            self.assertEqual(code, 201)
            self.assertEqual([e["manager"] for e in cm["metadata"]["managedFields"]], ["my-operator"])
            resp = await treq.get(self.url + NS + "/configmaps/c", pool=self.pool)
            raw = await resp.content()
            self.assertTrue(raw.endswith(b"}\n"), raw[-10:])
            code, table, _ = await self.call("GET", NS + "/configmaps?includeObject=Object", headers={
                "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
            obj = table["rows"][0]["object"]
            self.assertEqual((obj["kind"], obj["apiVersion"], obj["metadata"]["name"]), ("ConfigMap", "v1", "c"))
            code, body, _ = await self.call("POST", "/api/v1/namespaces",
                                            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}})
            self.assertEqual(code, 400)
            self.assertEqual(body["message"], 'Pod in version "v1" cannot be handled as a Namespace: converting '
                                              '(v1.Pod) to (core.Namespace): unknown conversion')
            code, body, _ = await self.call("POST", "/api/v1/namespaces", raw=b"[1,2]")
            self.assertEqual(code, 400)
            self.assertEqual(body["message"], 'the object provided is unrecognized (must be of type Namespace): '
                                              "couldn't get version/kind; json parse error: json: cannot unmarshal "
                                              'array into Go value of type struct { APIVersion string '
                                              '"json:\\"apiVersion,omitempty\\""; Kind string '
                                              '"json:\\"kind,omitempty\\"" } (5b312c325d)')
            code, body, _ = await self.call("POST", "/api/v1/namespaces", raw=b'{"kind": 1}')
            self.assertEqual(body["message"], 'the object provided is unrecognized (must be of type Namespace): '
                                              "couldn't get version/kind; json parse error: json: cannot unmarshal "
                                              'number into Go struct field .kind of type string ({"kind": 1})')
        return d(go())
