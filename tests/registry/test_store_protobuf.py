"""--storage-media-type=application/vnd.kubernetes.protobuf on the real embedded store: values
are upstream's `k8s\\0` envelope, and either media type reads what the other wrote."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial import unittest

from kubeapi import protobuf
from kubeapi.admission.namespace_lifecycle import NamespaceLifecycle
from kubeapi.api.core import CONFIGMAPS, NAMESPACES
from kubeapi.api.types import ResourceDef
from kubeapi.registry.codec import JSON, PROTOBUF, decode_stored, encode_stored
from kubeapi.registry.options import DeleteOptions, ListOptions, WriteOptions
from kubeapi.registry.store import ResourceStore
from kubeapi.storage.embedded import SQLiteStorage
from tests.registry.test_store_fixtures import Ctx
from tests.support.storage import open_sqlite
from tests.support.waiting import eventually

W = WriteOptions()
MERGE = "application/merge-patch+json"
KEY = "/registry/configmaps/default/cm"


def configmap(name: str = "cm", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": dict(data)}


class ProtobufStoreTests(unittest.TestCase):
    storage: SQLiteStorage

    def store(self, rdef: ResourceDef, media_type: str) -> ResourceStore:
        return ResourceStore(rdef, self.storage, Ctx(self.storage), media_type=media_type,
                             admission=[NamespaceLifecycle(self.storage)])

    async def setup(self, media_type: str) -> ResourceStore:
        self.storage = await open_sqlite(self)
        await self.store(NAMESPACES, media_type).create("", {"metadata": {"name": "default"}}, W)
        return self.store(CONFIGMAPS, media_type)

    async def raw(self, key: str = KEY) -> bytes:
        kv = await self.storage.get(key)
        assert kv is not None
        return kv.value

    def test_crud_list_watch_store_the_envelope(self) -> Deferred[None]:
        async def go() -> None:
            s = await self.setup(PROTOBUF)
            self.assertTrue((await self.raw("/registry/namespaces/default")).startswith(b"k8s\x00"))
            events: list[tuple[str, dict[str, Any]]] = []
            h = await s.watch("default", ListOptions(resource_version="0"), lambda t, o: events.append((t, o)))
            self.addCleanup(h.stop)

            created = await s.create("default", configmap(a="1"), W)  # NamespaceLifecycle read the ns
            raw = await self.raw()
            self.assertTrue(raw.startswith(b"k8s\x00"), raw[:20])
            self.assertEqual(protobuf.peek_type(raw), ("v1", "ConfigMap"))
            stored = protobuf.decode(raw)
            self.assertEqual(stored["data"], {"a": "1"})
            self.assertEqual(stored["metadata"]["uid"], created["metadata"]["uid"])
            self.assertNotIn("resourceVersion", stored["metadata"])

            got = await s.get("default", "cm")
            self.assertEqual(got, created)

            updated, _ = await s.update("default", "cm", {**got, "data": {"a": "2"}}, W)
            self.assertEqual(protobuf.decode(await self.raw())["data"], {"a": "2"})
            self.assertNotEqual(updated["metadata"]["resourceVersion"], got["metadata"]["resourceVersion"])

            # A no-op update keeps the resourceVersion and writes nothing.
            rev = await self.storage.current_revision()
            same, _ = await s.update("default", "cm", updated, W)
            self.assertEqual(same["metadata"]["resourceVersion"], updated["metadata"]["resourceVersion"])
            self.assertEqual(await self.storage.current_revision(), rev)

            await s.patch("default", "cm", MERGE, b'{"data":{"b":"3"}}', W)
            self.assertEqual(protobuf.decode(await self.raw())["data"], {"a": "2", "b": "3"})
            await s.create("default", configmap("other"), W)
            lst = await s.list("default", ListOptions())
            self.assertEqual([(i["metadata"]["name"], i.get("data")) for i in lst["items"]],
                             [("cm", {"a": "2", "b": "3"}), ("other", None)])

            await s.delete("default", "cm", DeleteOptions())
            await eventually(lambda: len(events) >= 5, 2.0, 0.01)
            self.assertEqual([(t, o["metadata"]["name"]) for t, o in events],
                             [("ADDED", "cm"), ("MODIFIED", "cm"), ("MODIFIED", "cm"),
                              ("ADDED", "other"), ("DELETED", "cm")])
            self.assertEqual(events[2][1]["data"], {"a": "2", "b": "3"})
            self.assertEqual(events[4][1]["kind"], "ConfigMap")

        return Deferred.fromCoroutine(go())

    def test_json_store_reads_protobuf_and_back(self) -> Deferred[None]:
        async def go() -> None:
            pb = await self.setup(PROTOBUF)
            js = self.store(CONFIGMAPS, JSON)
            created = await pb.create("default", configmap(a="1"), W)
            self.assertEqual(await js.get("default", "cm"), created)
            self.assertEqual((await js.list("default", ListOptions()))["items"][0]["data"], {"a": "1"})
            # The JSON store writes JSON; the protobuf store still reads it.
            updated, _ = await js.patch("default", "cm", MERGE, b'{"data":{"a":"2"}}', W)
            raw = await self.raw()
            self.assertTrue(raw.startswith(b"{"), raw[:20])
            self.assertEqual(await pb.get("default", "cm"), updated)
            # ... and switching back rewrites it as protobuf.
            got = await pb.get("default", "cm")
            await pb.update("default", "cm", {**got, "data": {"a": "3"}}, W)
            self.assertTrue((await self.raw()).startswith(b"k8s\x00"))
            self.assertEqual((await js.get("default", "cm"))["data"], {"a": "3"})

        return Deferred.fromCoroutine(go())


class CodecTests(unittest.TestCase):
    def test_sniffs_either_form(self) -> None:
        obj = configmap(a="1")
        obj["metadata"]["creationTimestamp"] = "2025-01-02T03:04:05Z"
        pb = encode_stored(obj, PROTOBUF)
        self.assertTrue(pb.startswith(b"k8s\x00"))
        self.assertEqual(decode_stored(pb), obj)
        js = encode_stored(obj, JSON)
        self.assertTrue(js.startswith(b"{"))
        self.assertEqual(decode_stored(js), obj)

    def test_kinds_without_a_schema_stay_json(self) -> None:
        obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
        self.assertEqual(decode_stored(encode_stored(obj, PROTOBUF)), obj)
        self.assertTrue(encode_stored(obj, PROTOBUF).startswith(b"{"))
