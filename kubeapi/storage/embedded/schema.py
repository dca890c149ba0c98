"""The on-disk layout of the embedded store: one SQLite file holding a revision log.

Every write appends one row whose ``id`` is the new store revision (kine's idea): the
current value of a key is its newest row unless that row is a deletion tombstone.
``create_revision``/``prev_revision``/``old_value`` make each row self-describing, so a
watch can rebuild the event (with its ``prev``) from that row alone, even after the
older rows were compacted away.

``kv_name_id`` lets a paged LIST walk keys in order from where the last page ended.
``kv_tombstones`` (partial, so only deletions pay for it and compaction keeps it small)
lets LIST count live keys from the index alone: distinct names minus names whose newest
row is a tombstone.  Both are created on open, so an older file gains them too.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

# Applied on every connection: WAL lets readers and the writer coexist; synchronous=FULL
# fsyncs the WAL on each commit, so a write acknowledged to a client survives kill -9 and
# power loss.
PRAGMAS: tuple[str, ...] = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA temp_store=MEMORY",
)

DDL = """
CREATE TABLE IF NOT EXISTS kv (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    created         INTEGER NOT NULL,
    deleted         INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,
    value           BLOB    NOT NULL,
    old_value       BLOB
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE INDEX IF NOT EXISTS kv_tombstones ON kv (name, id) WHERE deleted = 1;
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

# Columns in the order every row-reading query selects them.
ROW_COLUMNS = "id, name, created, deleted, create_revision, prev_revision, value, old_value"
