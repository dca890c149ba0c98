"""A real embedded store for tests: one SQLite file in the test's own temp dir."""

from __future__ import annotations

import os

from twisted.internet.defer import ensureDeferred
from twisted.trial import unittest

from kubeapi.storage.embedded import SQLiteStorage


async def open_sqlite(test: unittest.TestCase, *, compaction_interval: float = 0) -> SQLiteStorage:
    """Open a fresh ``SQLiteStorage`` under ``test.mktemp()``; closed by a cleanup.

    Background compaction is off unless asked for, so no timer outlives the test."""
    path = test.mktemp()
    os.makedirs(path)
    storage = SQLiteStorage(os.path.join(path, "db.sqlite"), compaction_interval=compaction_interval)
    await storage.open()
    test.addCleanup(lambda: ensureDeferred(storage.close()))
    return storage
