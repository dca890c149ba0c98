"""LIST items from the store's decoded-object cache: only for a read-only caller, never
stale after a write, and the same visible list either way."""

from __future__ import annotations

import orjson

from kubeapi.registry.objectcache import DecodedObjects
from kubeapi.registry.options import DeleteOptions, ListOptions
from kubeapi.server.negotiation import encode
from kubeapi.storage.interface import KeyValue
from tests.registry.test_store_fixtures import WIDGETS, StoreCase, W, async_test, widget

MERGE = "application/merge-patch+json"


class ListCacheTests(StoreCase):
    @async_test
    async def test_read_only_lists_share_objects_and_see_writes(self) -> None:
        st = self.store(WIDGETS)
        for i in range(3):
            await st.create("default", widget(f"w{i}", color="red"), W)
        plain = await st.list("default", ListOptions())
        first = await st.list("default", ListOptions(read_only=True))
        second = await st.list("default", ListOptions(read_only=True))
        self.assertEqual(first, plain)  # what a client sees does not change
        self.assertIs(first["items"][0]["metadata"], second["items"][0]["metadata"])  # decoded once
        self.assertIs(first["items"][0], second["items"][0])  # the item too, kind and apiVersion dropped once
        self.assertNotIn("kind", first["items"][0])
        await st.patch("default", "w1", MERGE, b'{"spec":{"color":"blue"}}', W)
        third = await st.list("default", ListOptions(read_only=True))
        self.assertEqual(third, await st.list("default", ListOptions()))
        self.assertEqual(third["items"][1]["spec"]["color"], "blue")
        self.assertEqual(names(await st.list("default", ListOptions(read_only=True, field_selector="spec.color=red"))),
                         ["w0", "w2"])
        mine = await st.list("default", ListOptions())  # an in-process caller may change its copy
        self.assertIsNot(mine["items"][0]["metadata"], third["items"][0]["metadata"])


    @async_test
    async def test_json_lists_splice_items_encoded_once(self) -> None:
        st = self.store(WIDGETS)
        for i in range(3):
            await st.create("default", widget(f"w{i}", color="red"), W)
        json_opts = ListOptions(read_only=True, encoded_json=True)
        first = await st.list("default", json_opts)
        self.assertEqual(encode(first), encode(await st.list("default", ListOptions())))
        self.assertEqual(orjson.loads(encode(first)), orjson.loads(orjson.dumps(dict(first, items=list(first["items"])))))
        again = await st.list("default", json_opts)
        self.assertTrue(all(a is b for a, b in zip(first["items"].json, again["items"].json, strict=True)))
        self.assertEqual(encode(again), encode(first))
        self.assertIs(again["items"].json.joined(), first["items"].json.joined())  # one joined form for both
        await st.patch("default", "w1", MERGE, b'{"spec":{"color":"blue"}}', W)
        third = await st.list("default", json_opts)
        self.assertEqual(orjson.loads(encode(third))["items"][1]["spec"]["color"], "blue")
        self.assertEqual(encode(third), encode(await st.list("default", ListOptions())))
        # a filtered list splices only the items it keeps
        red = await st.list("default", ListOptions(read_only=True, encoded_json=True, field_selector="spec.color=red"))
        self.assertEqual([i["metadata"]["name"] for i in orjson.loads(encode(red))["items"]], ["w0", "w2"])
        self.assertIs(type((await st.list("default", ListOptions(read_only=True)))["items"]), list)

    @async_test
    async def test_an_unchanged_prefix_is_listed_from_last_time(self) -> None:
        st = self.store(WIDGETS)
        for i in range(3):
            await st.create("default", widget(f"w{i}", color="red"), W)
        json_opts = ListOptions(read_only=True, encoded_json=True)
        first = await st.list("default", json_opts)
        cache = st._objects()
        looked_up = cache.hits + cache.misses
        again = await st.list("default", json_opts)
        self.assertEqual(cache.hits + cache.misses, looked_up)  # no per-item work at all
        self.assertEqual(encode(again), encode(first))
        again["items"].pop()  # a caller's list is its own
        self.assertEqual(len((await st.list("default", json_opts))["items"]), 3)
        # selectors are part of what is remembered
        self.assertEqual(names(await st.list("default", ListOptions(read_only=True, label_selector="x=y"))), [])
        self.assertEqual(names(await st.list("default", ListOptions(read_only=True))), ["w0", "w1", "w2"])
        # a write under the prefix is seen by the next LIST
        await st.patch("default", "w2", MERGE, b'{"spec":{"color":"blue"}}', W)
        third = await st.list("default", json_opts)
        self.assertEqual(orjson.loads(encode(third))["items"][2]["spec"]["color"], "blue")
        await st.delete("default", "w0", DeleteOptions())
        self.assertEqual(names(await st.list("default", json_opts)), ["w1", "w2"])


def names(lst: dict) -> list[str]:
    return [i["metadata"]["name"] for i in lst["items"]]


class DecodedObjectsTests(StoreCase):
    def test_bounded_and_checked_against_the_stored_bytes(self) -> None:
        calls: list[str] = []

        def decode(kv: KeyValue) -> dict:
            calls.append(kv.key)
            return {"v": kv.value}

        c = DecodedObjects(decode, max_entries=2)
        a = KeyValue("a", b"1", 1, 1)
        self.assertIs(c.get(a), c.get(KeyValue("a", b"1", 1, 1)))
        self.assertEqual(c.get(KeyValue("a", b"2", 1, 1)), {"v": b"2"})  # same revision, other bytes
        c.get(KeyValue("b", b"1", 2, 2))
        c.get(KeyValue("c", b"1", 3, 3))
        self.assertEqual(len(c._entries), 2)
        self.assertEqual(calls, ["a", "a", "b", "c"])
