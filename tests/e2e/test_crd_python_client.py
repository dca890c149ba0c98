"""The official `kubernetes` Python client on CRDs: ApiextensionsV1Api and CustomObjectsApi
(create, get, list, patch status, scale, watch), as Python operator test suites use them."""

from __future__ import annotations

import atexit
import threading

import yaml
from twisted.trial import unittest

from tests.e2e.harness import ServerProcess
from tests.e2e.test_crd_kubectl import CRD_FILE

GROUP, VERSION, PLURAL = "monitoring.example.dev", "v1", "probes"
_server: ServerProcess | None = None


def server() -> ServerProcess:
    global _server
    if _server is None:
        s = ServerProcess()
        s.start()
        atexit.register(s.cleanup)
        _server = s
    return _server


def probe(name: str, replicas: int = 1) -> dict:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Probe", "metadata": {"name": name},
            "spec": {"replicas": replicas, "endpoints": [{"name": "http", "port": 8080}]}}


class PythonClientTests(unittest.TestCase):
    def test_crd_and_custom_objects(self) -> None:
        from kubernetes import client, watch
        from kubernetes.client.rest import ApiException

        api_client = server().client()
        ext = client.ApiextensionsV1Api(api_client)
        with open(CRD_FILE) as f:
            body = yaml.safe_load(f)
        created = ext.create_custom_resource_definition(body)
        self.assertEqual(created.metadata.name, "probes.monitoring.example.dev")
        got = ext.read_custom_resource_definition("probes.monitoring.example.dev")
        self.assertIn("Established", [c.type for c in got.status.conditions])
        self.assertEqual(got.status.accepted_names.kind, "Probe")
        self.assertEqual(got.spec.versions[0].schema.open_apiv3_schema.properties["spec"].required, ["endpoints"])

        client.CoreV1Api(api_client).create_namespace({"metadata": {"name": "py"}})
        co = client.CustomObjectsApi(api_client)
        events: list[tuple[str, str]] = []
        ready = threading.Event()

        def watch_them() -> None:
            w = watch.Watch()
            for ev in w.stream(co.list_namespaced_custom_object, GROUP, VERSION, "py", PLURAL, timeout_seconds=10):
                events.append((ev["type"], ev["object"]["metadata"]["name"]))
                if len(events) >= 2:
                    w.stop()
            ready.set()

        t = threading.Thread(target=watch_them, daemon=True)
        t.start()
        obj = co.create_namespaced_custom_object(GROUP, VERSION, "py", PLURAL, probe("p1"))
        self.assertEqual(obj["spec"]["interval"], "30s")
        co.create_namespaced_custom_object(GROUP, VERSION, "py", PLURAL, probe("p2"))
        ready.wait(15)
        self.assertEqual(events, [("ADDED", "p1"), ("ADDED", "p2")])
        lst = co.list_namespaced_custom_object(GROUP, VERSION, "py", PLURAL)
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["p1", "p2"])
        self.assertEqual(lst["kind"], "ProbeList")
        st = co.patch_namespaced_custom_object_status(GROUP, VERSION, "py", PLURAL, "p1",
                                                      {"status": {"replicas": 1, "selector": "app=web"}})
        self.assertEqual(st["status"]["replicas"], 1)
        scale = co.patch_namespaced_custom_object_scale(GROUP, VERSION, "py", PLURAL, "p1",
                                                        {"spec": {"replicas": 3}})
        self.assertEqual((scale["spec"]["replicas"], scale["status"]["selector"]), (3, "app=web"))
        with self.assertRaises(ApiException) as caught:
            co.patch_namespaced_custom_object(GROUP, VERSION, "py", PLURAL, "p1", {"spec": {"replicas": 1}})
        self.assertEqual(caught.exception.status, 422)
        self.assertIn("replicas may only grow", caught.exception.body)
        co.delete_namespaced_custom_object(GROUP, VERSION, "py", PLURAL, "p2")
        ext.delete_custom_resource_definition("probes.monitoring.example.dev")
