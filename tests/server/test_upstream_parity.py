"""What a client sees, checked against kube-apiserver v1.33 on the built-in kinds: routing
405s, Status field order, nodes registering with status, pod generation, PUT-creates."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from kubeapi.api import builtin_catalog
from tests.server.support import ServerTestCase

CM = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
STATUS_KEYS = ["kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"]

NODE: dict[str, Any] = {
    "metadata": {"name": "n1"},
    "status": {
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "lastHeartbeatTime": "2025-01-01T00:00:00Z",
                        "lastTransitionTime": "2025-01-01T00:00:00Z"}],
        "capacity": {"cpu": "4", "pods": "110"},
        "nodeInfo": {"kubeletVersion": "v1.33.0"},
    },
}


def pod(name: str, node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "a", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


class UpstreamParity(ServerTestCase):
    async def _start(self) -> None:
        await self.start_server(catalog=builtin_catalog())
        code, _, _ = await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "default"}})
        self.assertEqual(code, 201)

    def test_methods_without_a_route_are_405_with_empty_details(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self._start()
            for method, path in (("POST", CM + "/x"),           # create is on the collection
                                 ("PUT", CM),                   # update needs a name
                                 ("PATCH", CM),                 # so does patch
                                 ("POST", "/api/v1/namespaces/default"),
                                 ("DELETE", "/api/v1/namespaces")):  # no deletecollection
                code, body, _ = await self.call(
                    method, path, {"metadata": {"name": "x"}},
                    headers={"Content-Type": "application/merge-patch+json"} if method == "PATCH" else None)
                self.assertEqual((code, body["reason"], body["details"]), (405, "MethodNotAllowed", {}),
                                 (method, path))
                self.assertEqual(body["message"], "the server does not allow this method on the "
                                                  "requested resource")
            code, _, _ = await self.call("GET", CM + "/x")
            self.assertEqual(code, 404)  # the refused POST created nothing

        return defer.ensureDeferred(go())

    def test_status_fields_in_upstream_order(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self._start()
            code, body, _ = await self.call("GET", CM + "/missing")
            self.assertEqual(code, 404)
            self.assertEqual(list(body), STATUS_KEYS)  # metav1.Status: details before code
            code, body, _ = await self.call("GET", "/api/v1/nosuchthings")
            self.assertEqual(list(body), STATUS_KEYS)

        return defer.ensureDeferred(go())

    def test_node_registers_with_its_status(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self._start()
            code, body, _ = await self.call("POST", "/api/v1/nodes", NODE)
            self.assertEqual(code, 201)
            self.assertEqual(body["status"]["conditions"][0]["type"], "Ready")
            self.assertEqual(body["status"]["capacity"], {"cpu": "4", "pods": "110"})
            table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
            code, tbl, _ = await self.call("GET", "/api/v1/nodes/n1", headers=table)
            cols = [c["name"] for c in tbl["columnDefinitions"]]
            cells = dict(zip(cols, tbl["rows"][0]["cells"], strict=True))
            self.assertEqual((cells["Status"], cells["Version"]), ("Ready", "v1.33.0"))
            # The main endpoint still cannot change status after create.
            body["status"]["capacity"] = {"cpu": "1"}
            code, body, _ = await self.call("PUT", "/api/v1/nodes/n1", body)
            self.assertEqual((code, body["status"]["capacity"]["cpu"]), (200, "4"))

        return defer.ensureDeferred(go())

    def test_pod_generation(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self._start()
            code, body, _ = await self.call("POST", PODS, pod("p", node="n1"))
            self.assertEqual((code, body["metadata"]["generation"]), (201, 1))
            merge = {"Content-Type": "application/merge-patch+json"}
            code, body, _ = await self.call("PATCH", PODS + "/p", {"metadata": {"labels": {"a": "b"}}},
                                            headers=merge)
            self.assertEqual((code, body["metadata"]["generation"]), (200, 1))
            code, body, _ = await self.call("PATCH", PODS + "/p/status", {"status": {"phase": "Running"}},
                                            headers=merge)
            self.assertEqual((code, body["metadata"]["generation"]), (200, 1))
            code, body, _ = await self.call("PATCH", PODS + "/p", {"spec": {"activeDeadlineSeconds": 30}},
                                            headers=merge)
            self.assertEqual((code, body["metadata"]["generation"]), (200, 2))
            code, body, _ = await self.call("DELETE", PODS + "/p")  # graceful: it has a node
            self.assertEqual((code, body["kind"]), (200, "Pod"))
            self.assertIn("deletionTimestamp", body["metadata"])
            self.assertEqual(body["metadata"]["generation"], 3)
            code, body, _ = await self.call("POST", CM, {"metadata": {"name": "c"}})
            self.assertNotIn("generation", body["metadata"])

        return defer.ensureDeferred(go())

    def test_put_creates_only_where_upstream_allows_it(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self._start()
            for path, obj in (
                ("/apis/coordination.k8s.io/v1/namespaces/default/leases/l",
                 {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}}),
                ("/api/v1/namespaces/default/endpoints/e", {"metadata": {"name": "e"}}),
                ("/api/v1/namespaces/default/events/ev",
                 {"metadata": {"name": "ev"}, "involvedObject": {"kind": "Pod", "name": "p",
                                                                 "namespace": "default"}}),
                ("/api/v1/namespaces/default/limitranges/lr",
                 {"metadata": {"name": "lr"}, "spec": {"limits": [{"type": "Container"}]}}),
            ):
                code, body, _ = await self.call("PUT", path, obj)
                self.assertEqual(code, 201, (path, body))
                self.assertTrue(body["metadata"]["uid"])
                code, _, _ = await self.call("PUT", path, body)
                self.assertEqual(code, 200, path)
            code, body, _ = await self.call("PUT", CM + "/c", {"metadata": {"name": "c"}})
            self.assertEqual((code, body["reason"]), (404, "NotFound"))
            code, body, _ = await self.call("PUT", PODS + "/p", pod("p"))
            self.assertEqual((code, body["reason"]), (404, "NotFound"))

        return defer.ensureDeferred(go())
