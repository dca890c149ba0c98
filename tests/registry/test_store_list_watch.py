"""LIST and WATCH on the real embedded store: selectors, pagination, continue tokens, events."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from kubeapi.errors import StatusError
from kubeapi.registry.options import DeleteOptions, ListOptions
from tests.registry.test_store_fixtures import WIDGETS, StoreCase, W, async_test, widget
from tests.support.waiting import eventually

MERGE = "application/merge-patch+json"


def names(lst: dict[str, Any]) -> list[str]:
    return [i["metadata"]["name"] for i in lst["items"]]


class ListTests(StoreCase):
    async def seed(self, n: int = 5) -> None:
        s = self.store(WIDGETS)
        for i in range(n):
            body = widget(f"w{i}", color="red" if i % 2 == 0 else "blue")
            body["metadata"]["labels"] = {"idx": str(i), "even": str(i % 2 == 0).lower()}
            await s.create("default", body, W)
        await s.create("other", widget("x", ns="other"), W)

    @async_test
    async def test_list_shape_and_selectors(self) -> None:
        await self.seed()
        s = self.store(WIDGETS)
        out = await s.list("default", ListOptions())
        self.assertEqual(out["kind"], "WidgetList")
        self.assertEqual(out["apiVersion"], "example.com/v1")
        self.assertEqual(out["metadata"], {"resourceVersion": str(await self.storage.current_revision())})
        self.assertEqual(names(out), ["w0", "w1", "w2", "w3", "w4"])
        self.assertNotIn("kind", out["items"][0])  # typed lists: kind/apiVersion on the list only
        self.assertNotIn("apiVersion", out["items"][0])
        self.assertEqual(len((await s.list("", ListOptions()))["items"]), 6)
        self.assertEqual(names(await s.list("default", ListOptions(label_selector="even=true"))),
                         ["w0", "w2", "w4"])
        self.assertEqual(names(await s.list("default", ListOptions(field_selector="spec.color=blue"))),
                         ["w1", "w3"])
        self.assertEqual(names(await s.list("", ListOptions(field_selector="metadata.namespace=other"))), ["x"])
        with self.assertRaises(StatusError) as cm:
            await s.list("default", ListOptions(field_selector="spec.size=1"))
        self.assertEqual((cm.exception.code, cm.exception.message), (400, "field label not supported: spec.size"))

    @async_test
    async def test_pagination_is_stable_across_writes(self) -> None:
        await self.seed()
        s = self.store(WIDGETS)
        p1 = await s.list("default", ListOptions(limit=2))
        self.assertEqual(names(p1), ["w0", "w1"])
        self.assertEqual(p1["metadata"]["remainingItemCount"], 3)
        token = p1["metadata"]["continue"]
        decoded = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        self.assertEqual(decoded, {"v": "meta.k8s.io/v1", "rv": int(p1["metadata"]["resourceVersion"]),
                                   "start": "w1\x00"})
        # Writes after the first page do not show in later pages.
        await s.delete("default", "w2", DeleteOptions())
        await s.create("default", widget("w25"), W)
        p2 = await s.list("default", ListOptions(limit=2, continue_=token))
        self.assertEqual(names(p2), ["w2", "w3"])
        self.assertEqual(p2["metadata"]["resourceVersion"], p1["metadata"]["resourceVersion"])
        p3 = await s.list("default", ListOptions(limit=2, continue_=p2["metadata"]["continue"]))
        self.assertEqual(names(p3), ["w4"])
        self.assertNotIn("continue", p3["metadata"])

    @async_test
    async def test_limit_with_selector_keeps_reading(self) -> None:
        await self.seed()
        s = self.store(WIDGETS)
        p1 = await s.list("default", ListOptions(limit=2, label_selector="even=true"))
        self.assertEqual(names(p1), ["w0", "w2"])
        self.assertNotIn("remainingItemCount", p1["metadata"])
        p2 = await s.list("default", ListOptions(limit=2, label_selector="even=true",
                                                 continue_=p1["metadata"]["continue"]))
        self.assertEqual(names(p2), ["w4"])

    @async_test
    async def test_continue_token_expires_after_compaction(self) -> None:
        await self.seed()
        s = self.store(WIDGETS)
        p1 = await s.list("default", ListOptions(limit=2))
        await s.patch("default", "w0", MERGE, b'{"spec":{"color":"green"}}', W)
        await self.storage.compact(await self.storage.current_revision())
        with self.assertRaises(StatusError) as cm:
            await s.list("default", ListOptions(limit=2, continue_=p1["metadata"]["continue"]))
        e = cm.exception
        self.assertEqual((e.code, e.reason), (410, "Expired"))
        self.assertTrue(e.message.startswith("The provided continue parameter is too old"))
        fresh = e.status()["metadata"]["continue"]
        p2 = await s.list("default", ListOptions(limit=10, continue_=fresh))
        self.assertEqual(names(p2), ["w2", "w3", "w4"])
        with self.assertRaises(StatusError) as cm:
            await s.list("default", ListOptions(continue_="!!notatoken"))
        self.assertEqual(cm.exception.code, 400)

    @async_test
    async def test_resource_version_semantics(self) -> None:
        await self.seed(2)
        s = self.store(WIDGETS)
        first = await s.list("default", ListOptions())
        rv = first["metadata"]["resourceVersion"]
        await s.create("default", widget("later"), W)
        exact = await s.list("default", ListOptions(resource_version=rv, resource_version_match="Exact"))
        self.assertEqual(names(exact), ["w0", "w1"])
        self.assertEqual(exact["metadata"]["resourceVersion"], rv)
        self.assertEqual(len((await s.list("default", ListOptions(resource_version="0")))["items"]), 3)
        await self.storage.compact(await self.storage.current_revision())
        with self.assertRaises(StatusError) as cm:
            await s.list("default", ListOptions(resource_version=rv, resource_version_match="Exact"))
        self.assertEqual((cm.exception.code, cm.exception.reason), (410, "Expired"))


class Collector:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, obj: dict[str, Any]) -> None:
        self.events.append((kind, obj))

    def summary(self) -> list[tuple[str, str]]:
        return [(k, o.get("metadata", {}).get("name", "")) for k, o in self.events]


class WatchTests(StoreCase):
    async def settle(self, sink: Collector, n: int) -> None:
        """Storage delivers events asynchronously; wait (bounded) for ``n`` of them."""
        await eventually(lambda: len(sink.events) >= n, 2.0, 0.01)

    @async_test
    async def test_unset_rv_sends_state_then_changes(self) -> None:
        s = self.store(WIDGETS)
        await s.create("default", widget("a"), W)
        sink = Collector()
        h = await s.watch("default", ListOptions(), sink)
        self.addCleanup(h.stop)
        await s.patch("default", "a", MERGE, b'{"spec":{"color":"x"}}', W)
        await s.delete("default", "a", DeleteOptions())
        await self.settle(sink, 3)
        self.assertEqual(sink.summary(), [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")])
        deleted = sink.events[2][1]
        self.assertEqual(deleted["kind"], "Widget")
        self.assertEqual(deleted["metadata"]["resourceVersion"], str(await self.storage.current_revision()))

    @async_test
    async def test_watch_from_rv_only_later_events(self) -> None:
        s = self.store(WIDGETS)
        a = await s.create("default", widget("a"), W)
        await s.create("default", widget("b"), W)
        sink = Collector()
        h = await s.watch("default", ListOptions(resource_version=a["metadata"]["resourceVersion"]), sink)
        self.addCleanup(h.stop)
        await self.settle(sink, 1)
        self.assertEqual(sink.summary(), [("ADDED", "b")])

    @async_test
    async def test_selector_move_out_is_deleted_and_in_is_added(self) -> None:
        s = self.store(WIDGETS)
        await s.create("default", widget("a", color="red"), W)
        sink = Collector()
        h = await s.watch("default", ListOptions(field_selector="spec.color=red", resource_version="0"), sink)
        self.addCleanup(h.stop)
        await s.patch("default", "a", MERGE, b'{"spec":{"color":"blue"}}', W)
        await s.patch("default", "a", MERGE, b'{"spec":{"color":"red"}}', W)
        await self.settle(sink, 3)
        self.assertEqual(sink.summary(), [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "a")])
        self.assertEqual(sink.events[1][1]["spec"]["color"], "red")  # the last state it matched

    @async_test
    async def test_bookmarks_and_initial_events_end(self) -> None:
        s = self.store(WIDGETS, bookmark_interval=5)
        await s.create("default", widget("a"), W)
        sink = Collector()
        opts = ListOptions(allow_watch_bookmarks=True, send_initial_events=True,
                           resource_version_match="NotOlderThan")
        h = await s.watch("default", opts, sink)
        self.addCleanup(h.stop)
        rv = str(await self.storage.current_revision())
        self.assertEqual(sink.events[0][0], "ADDED")
        self.assertEqual(sink.events[1], ("BOOKMARK", {
            "kind": "Widget", "apiVersion": "example.com/v1",
            "metadata": {"resourceVersion": rv, "annotations": {"k8s.io/initial-events-end": "true"}}}))
        self.clock.advance(5)
        self.assertEqual(sink.events[2], ("BOOKMARK", {"kind": "Widget", "apiVersion": "example.com/v1",
                                                       "metadata": {"resourceVersion": rv}}))

    @async_test
    async def test_too_old_resource_version_is_410(self) -> None:
        s = self.store(WIDGETS)
        a = await s.create("default", widget("a"), W)
        await s.patch("default", "a", MERGE, b'{"spec":{"color":"x"}}', W)
        await s.patch("default", "a", MERGE, b'{"spec":{"color":"y"}}', W)
        await self.storage.compact(await self.storage.current_revision())
        with self.assertRaises(StatusError) as cm:
            await s.watch("default", ListOptions(resource_version=a["metadata"]["resourceVersion"]), Collector())
        self.assertEqual((cm.exception.code, cm.exception.reason), (410, "Expired"))
        self.assertTrue(cm.exception.message.startswith("too old resource version: 1 ("))

    @async_test
    async def test_storage_failure_ends_with_error_event(self) -> None:
        s = self.store(WIDGETS)
        sink = Collector()
        await s.watch("default", ListOptions(resource_version="0"), sink)
        await self.storage.close()
        self.assertEqual(sink.events[-1][0], "ERROR")
        self.assertEqual(sink.events[-1][1]["kind"], "Status")
