"""Whole-prefix LISTs of the embedded store served from memory until a write touches the
prefix: never stale, and at the store's current revision."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from kubeapi.storage.embedded.listsnap import ListSnapshots
from kubeapi.storage.embedded.store import SQLiteStorage
from kubeapi.storage.interface import Event, KeyValue


def keys(result: Any) -> list[str]:
    return [kv.key for kv in result.items]


class EmbeddedListSnapshotTests(TestCase):
    timeout = 30

    async def open(self) -> SQLiteStorage:
        s = SQLiteStorage(self.mktemp() + ".db")
        await s.open()
        self.addCleanup(lambda: Deferred.fromCoroutine(s.close()))
        return s

    def test_served_from_memory_until_a_write_under_the_prefix(self) -> Deferred[None]:
        async def go() -> None:
            s = await self.open()
            a = await s.create("/r/cm/ns1/a", b"1")
            b = await s.create("/r/cm/ns2/b", b"1")
            first = await s.list("/r/cm/")
            again = await s.list("/r/cm/")
            self.assertEqual(s._lists.hits, 1)
            self.assertEqual((again.items, again.revision), (first.items, first.revision))
            other = await s.create("/r/secrets/x", b"1")  # outside: kept, at the new revision
            kept = await s.list("/r/cm/")
            self.assertEqual((s._lists.hits, kept.revision), (2, other.mod_revision))
            await s.list("/r/cm/ns1/")
            await s.list("/r/cm/ns2/")
            a2 = await s.update("/r/cm/ns1/a", b"2", a.mod_revision)  # drops /r/cm/ and /r/cm/ns1/
            hits = s._lists.hits
            now = await s.list("/r/cm/")
            self.assertEqual([kv.value for kv in now.items], [b"2", b"1"])
            self.assertEqual(now.revision, a2.mod_revision)
            self.assertEqual([kv.value for kv in (await s.list("/r/cm/ns1/")).items], [b"2"])
            await s.list("/r/cm/ns2/")
            self.assertEqual(s._lists.hits, hits + 1)  # only ns2's stayed
            await s.delete("/r/cm/ns2/b")
            self.assertEqual(keys(await s.list("/r/cm/")), ["/r/cm/ns1/a"])
            self.assertEqual(keys(await s.list("/r/cm/ns2/")), [])
            # pages and reads at an older revision always go to the file
            hits = s._lists.hits
            self.assertEqual(keys(await s.list("/r/cm/", revision=b.mod_revision)), ["/r/cm/ns1/a", "/r/cm/ns2/b"])
            await s.list("/r/cm/", limit=1)
            self.assertEqual(s._lists.hits, hits)
        return Deferred.fromCoroutine(go())


class ListSnapshotsTests(TestCase):
    def test_a_read_that_raced_a_commit_is_not_kept(self) -> None:
        snaps = ListSnapshots()
        sent = snaps.generation
        snaps.committed([Event("PUT", KeyValue("/elsewhere", b"1", 5, 5), None)])
        snaps.remember("/r/", [KeyValue("/r/a", b"1", 1, 1)], sent)
        self.assertIsNone(snaps.lookup("/r/"))

    def test_bounded_by_count_and_bytes(self) -> None:
        snaps = ListSnapshots(max_snapshots=2, max_bytes=400)
        for p in ("/a/", "/b/", "/c/"):
            snaps.remember(p, [KeyValue(p + "k", b"x" * 10, 1, 1)], snaps.generation)
        self.assertIsNone(snaps.lookup("/a/"))
        self.assertIsNotNone(snaps.lookup("/c/"))
        snaps.remember("/big/", [KeyValue("/big/k", b"x" * 200, 1, 1)], snaps.generation)  # > a quarter
        self.assertIsNone(snaps.lookup("/big/"))
