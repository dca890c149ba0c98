"""The official `kubernetes` Python client: CRUD, selectors, watch."""

from __future__ import annotations

import threading

from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from twisted.trial import unittest

from tests.e2e.harness import shared_server, unique_namespace


class PythonClientTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()
        self.ns = unique_namespace(self.server, "py")
        self.api_client = self.server.client()
        self.addCleanup(self.api_client.close)
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)

    def cm(self, name: str, labels: dict[str, str] | None = None) -> client.V1ConfigMap:
        return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data={"k": name})

    def test_crud(self) -> None:
        created = self.core.create_namespaced_config_map(self.ns, self.cm("one"))
        self.assertEqual(created.metadata.name, "one")
        got = self.core.read_namespaced_config_map("one", self.ns)
        self.assertEqual(got.data, {"k": "one"})
        got.data["k"] = "changed"
        updated = self.core.replace_namespaced_config_map("one", self.ns, got)
        self.assertGreater(int(updated.metadata.resource_version), int(created.metadata.resource_version))
        patched = self.core.patch_namespaced_config_map("one", self.ns, {"data": {"extra": "x"}})
        self.assertEqual(patched.data, {"k": "changed", "extra": "x"})
        got.data["k"] = "stale"
        with self.assertRaises(ApiException) as stale:
            self.core.replace_namespaced_config_map("one", self.ns, got)
        self.assertEqual(stale.exception.status, 409)
        self.core.delete_namespaced_config_map("one", self.ns)
        with self.assertRaises(ApiException) as missing:
            self.core.read_namespaced_config_map("one", self.ns)
        self.assertEqual(missing.exception.status, 404)

    def test_list_with_selectors_and_pages(self) -> None:
        for i in range(5):
            self.core.create_namespaced_config_map(
                self.ns, self.cm(f"c{i}", {"parity": "even" if i % 2 == 0 else "odd", "idx": str(i)}))
        even = self.core.list_namespaced_config_map(self.ns, label_selector="parity=even")
        self.assertEqual(sorted(i.metadata.name for i in even.items), ["c0", "c2", "c4"])
        notin = self.core.list_namespaced_config_map(self.ns, label_selector="idx notin (0,1),parity")
        self.assertEqual(sorted(i.metadata.name for i in notin.items), ["c2", "c3", "c4"])
        by_name = self.core.list_namespaced_config_map(self.ns, field_selector="metadata.name=c3")
        self.assertEqual([i.metadata.name for i in by_name.items], ["c3"])
        page1 = self.core.list_namespaced_config_map(self.ns, limit=2)
        self.assertEqual(len(page1.items), 2)
        self.assertTrue(page1.metadata._continue)
        self.core.create_namespaced_config_map(self.ns, self.cm("c9"))  # not in the snapshot
        names = [i.metadata.name for i in page1.items]
        token = page1.metadata._continue
        while token:
            page = self.core.list_namespaced_config_map(self.ns, limit=2, _continue=token)
            names += [i.metadata.name for i in page.items]
            token = page.metadata._continue
        self.assertEqual(names, [f"c{i}" for i in range(5)])

    def test_deployment_crud(self) -> None:
        body = client.V1Deployment(
            metadata=client.V1ObjectMeta(name="d1"),
            spec=client.V1DeploymentSpec(
                selector=client.V1LabelSelector(match_labels={"app": "d1"}),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels={"app": "d1"}),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]))))
        created = self.apps.create_namespaced_deployment(self.ns, body)
        self.assertEqual(created.spec.replicas, 1)
        scale = self.apps.read_namespaced_deployment_scale("d1", self.ns)
        self.assertEqual(scale.spec.replicas, 1)
        self.apps.patch_namespaced_deployment_scale("d1", self.ns, {"spec": {"replicas": 4}})
        self.assertEqual(self.apps.read_namespaced_deployment("d1", self.ns).spec.replicas, 4)

    def test_watch_stream(self) -> None:
        start = self.core.list_namespaced_config_map(self.ns).metadata.resource_version
        seen: list[tuple[str, str]] = []
        w = watch.Watch()

        def consume() -> None:
            for event in w.stream(self.core.list_namespaced_config_map, self.ns,
                                  resource_version=start, timeout_seconds=20):
                seen.append((event["type"], event["object"].metadata.name))
                if event["type"] == "DELETED":
                    w.stop()

        t = threading.Thread(target=consume, daemon=True)
        t.start()
        self.core.create_namespaced_config_map(self.ns, self.cm("watched", {"a": "1"}))
        self.core.patch_namespaced_config_map("watched", self.ns, {"data": {"k": "v2"}})
        self.core.delete_namespaced_config_map("watched", self.ns)
        t.join(25)
        self.assertEqual(seen, [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")])

    def test_watch_selector_move_out_is_deleted(self) -> None:
        self.core.create_namespaced_config_map(self.ns, self.cm("mover", {"tier": "a"}))
        start = self.core.list_namespaced_config_map(self.ns).metadata.resource_version
        seen: list[str] = []
        w = watch.Watch()

        def consume() -> None:
            for event in w.stream(self.core.list_namespaced_config_map, self.ns, label_selector="tier=a",
                                  resource_version=start, timeout_seconds=20):
                seen.append(event["type"])
                w.stop()

        t = threading.Thread(target=consume, daemon=True)
        t.start()
        self.core.patch_namespaced_config_map("mover", self.ns, {"metadata": {"labels": {"tier": "b"}}})
        t.join(25)
        self.assertEqual(seen, ["DELETED"])
