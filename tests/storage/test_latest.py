"""The embedded store's cache of newest values: never older than an acknowledged write."""

from __future__ import annotations

from twisted.trial import unittest

from kubeapi.storage.embedded.latest import MISSING, LatestValues
from kubeapi.storage.interface import Event, KeyValue


def kv(key: str, value: bytes, rev: int) -> KeyValue:
    return KeyValue(key, value, rev, rev)


class LatestValuesTests(unittest.TestCase):
    def test_commits_replace_and_delete(self) -> None:
        c = LatestValues()
        self.assertIs(c.lookup("/a"), MISSING)
        c.committed([Event("PUT", kv("/a", b"1", 2), None)])
        self.assertEqual(c.lookup("/a"), kv("/a", b"1", 2))
        c.committed([Event("DELETE", kv("/a", b"1", 3), kv("/a", b"1", 2))])
        self.assertIsNone(c.lookup("/a"))  # known absent, no trip to the database

    def test_a_read_that_raced_a_commit_is_not_remembered(self) -> None:
        c = LatestValues()
        sent = c.generation
        c.committed([Event("PUT", kv("/a", b"new", 5), None)])
        c.remember("/a", kv("/a", b"old", 4), sent)  # answered from before the commit
        self.assertEqual(c.lookup("/a"), kv("/a", b"new", 5))
        sent = c.generation
        c.remember("/b", kv("/b", b"x", 5), sent)
        self.assertEqual(c.lookup("/b"), kv("/b", b"x", 5))

    def test_bounded_by_bytes_oldest_first(self) -> None:
        c = LatestValues(max_bytes=3 * (1000 + 250))
        for i in range(5):
            c.committed([Event("PUT", kv(f"/k{i}", b"x" * 1000, i + 1), None)])
        c.lookup("/k2")  # used: kept over the older /k3
        c.committed([Event("PUT", kv("/k5", b"x" * 1000, 6), None)])
        kept = [k for k in ("/k0", "/k1", "/k2", "/k3", "/k4", "/k5") if c.lookup(k) is not MISSING]
        self.assertEqual(kept, ["/k2", "/k4", "/k5"])
