"""Synchronous operations on the revision log.

Everything here runs on the store's one database thread (the connection is opened there
with ``check_same_thread``, so SQLite itself refuses any other caller).  The async facade
in ``store.py`` is the only user.
"""

from __future__ import annotations

import builtins
import os
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any, Literal

from kubeapi.storage.embedded.schema import DDL, PRAGMAS, ROW_COLUMNS, SCHEMA_VERSION
from kubeapi.storage.interface import (
    CompactedError,
    ConflictError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    StorageError,
)

WriteKind = Literal["create", "update", "delete"]
# (kind, key, value, expected_revision) — value is b"" for deletes.
WriteOp = tuple[WriteKind, str, bytes, int]

_MAX_CHAR = 0x10FFFF


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``.

    Code-point order equals UTF-8 byte order, which is what SQLite's BINARY collation
    compares, so ``prefix <= name < prefix_end(prefix)`` selects exactly the prefix."""
    chars = list(prefix)
    while chars and ord(chars[-1]) == _MAX_CHAR:
        chars.pop()
    if not chars:
        return None
    chars[-1] = chr(ord(chars[-1]) + 1)
    return "".join(chars)


def _under_prefix(prefix: str, revision_cond: str, revision: int, *, after: str | None = None,
                  table: str = "") -> tuple[list[str], list[Any]]:
    """SQL conditions (and their parameters) for rows whose name starts with ``prefix``
    (and sorts after ``after``, if given) and whose id satisfies ``revision_cond``; AND
    them together.  ``table`` qualifies the name column (``"k."``) for joined queries.

    Only the tighter of the two lower bounds is emitted: given both, SQLite seeks the
    index on one of them and filters on the other, which would turn a page read from the
    middle of a prefix back into a scan from the prefix's start."""
    cond: list[str] = [revision_cond]
    params: list[Any] = [revision]
    if after is not None and after >= prefix:
        cond.append(f"{table}name > ?")
        params.append(after)
    elif prefix:
        cond.append(f"{table}name >= ?")
        params.append(prefix)
    end = prefix_end(prefix)
    if end is not None:
        cond.append(f"{table}name < ?")
        params.append(end)
    return cond, params


def _first(row: Sequence[Any]) -> Any:
    return row[0]


def row_event(row: Sequence[Any]) -> Event:
    """Rebuild the Event a log row stands for (see schema.py for the columns)."""
    rev, name, created, deleted, crev, prev_rev, value, old_value = row
    value = bytes(value)
    if deleted:
        prev = KeyValue(name, value, crev, prev_rev)
        return Event("DELETE", KeyValue(name, value, crev, rev), prev)
    kv = KeyValue(name, value, crev, rev)
    if created:
        return Event("PUT", kv, None)
    return Event("PUT", kv, KeyValue(name, bytes(old_value), crev, prev_rev))


class LogDB:
    """The revision log behind one connection.  ``revision`` and ``compacted`` mirror
    the database and are only touched on the database thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.thread_ident: int | None = None
        self.revision = 0
        self.compacted = 0

    # -- lifecycle -------------------------------------------------------------------

    def open(self) -> tuple[int, int]:
        """Open (creating if needed) and return (current revision, compacted revision)."""
        self.thread_ident = threading.get_ident()
        _owner_only(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        for pragma in PRAGMAS:
            conn.execute(pragma)
        for suffix in ("", "-wal", "-shm", "-journal"):  # SQLite copies the db's mode; older files may not
            if os.path.exists(self.path + suffix):
                os.chmod(self.path + suffix, 0o600)
        conn.executescript(DDL)
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
        )
        self.conn = conn
        seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'kv'").fetchone()
        top = conn.execute("SELECT MAX(id) FROM kv").fetchone()
        self.revision = max(seq[0] if seq else 0, top[0] or 0)
        comp = conn.execute("SELECT value FROM meta WHERE name = 'compacted'").fetchone()
        self.compacted = comp[0] if comp else 0
        return self.revision, self.compacted

    def close(self) -> None:
        if self.conn is not None:
            self._check_thread()
            self.conn.close()
            self.conn = None

    def ping(self) -> bool:
        self._db().execute("SELECT 1").fetchone()
        return True

    def _check_thread(self) -> None:
        if threading.get_ident() != self.thread_ident:
            raise RuntimeError("embedded storage touched outside its database thread")

    def _db(self) -> sqlite3.Connection:
        self._check_thread()
        if self.conn is None:
            raise sqlite3.ProgrammingError("database is closed")
        return self.conn

    # -- reads -----------------------------------------------------------------------

    def _latest(self, key: str) -> tuple[Any, ...] | None:
        return self._db().execute(
            "SELECT id, deleted, create_revision, value FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1",
            (key,),
        ).fetchone()

    def get(self, key: str) -> KeyValue | None:
        row = self._latest(key)
        if row is None or row[1]:
            return None
        return KeyValue(key, bytes(row[3]), row[2], row[0])

    def list(self, prefix: str, revision: int, limit: int, start_after: str | None) -> ListResult:
        if revision > self.revision:
            raise FutureRevisionError(f"revision {revision} is ahead of the store ({self.revision})")
        if revision and revision < self.compacted:
            raise CompactedError(self.compacted, self.revision)
        at = revision or self.revision
        if limit <= 0:
            rows = self._snapshot(prefix, at, start_after)
            items = [KeyValue(name, bytes(value), crev, rev) for name, value, crev, rev in rows]
            return ListResult(items=items, revision=at, more=False, remaining=0)
        rows = self._page(prefix, at, start_after, limit + 1)
        more = len(rows) > limit
        if more:
            rows = rows[:limit]
        items = [KeyValue(name, bytes(value), crev, rev) for name, value, crev, rev in rows]
        remaining = self._live_count(prefix, at, items[-1].key) if more else 0
        return ListResult(items=items, revision=at, more=more, remaining=remaining)

    def _snapshot(self, prefix: str, at: int, after: str | None) -> builtins.list[Any]:
        """Every live key under ``prefix`` (after ``after``) as of ``at``, in key order.

        One pass over the index picks each name's newest row, then the rows are fetched;
        sorting here instead of in SQL spares SQLite copying every value into a sorter
        (the rows already come back in name order, so the sort is one linear check).
        Python orders str by code point, which is SQLite's BINARY order for UTF-8."""
        cond, params = _under_prefix(prefix, "id <= ?", at, after=after)
        sql = (
            "SELECT k.name, k.value, k.create_revision, k.id FROM "
            f"(SELECT MAX(id) AS mid FROM kv WHERE {' AND '.join(cond)} GROUP BY name) AS m "
            "JOIN kv AS k ON k.id = m.mid WHERE k.deleted = 0"
        )
        rows = self._db().execute(sql, params).fetchall()
        rows.sort(key=_first)
        return rows

    def _page(self, prefix: str, at: int, after: str | None, count: int) -> builtins.list[Any]:
        """The first ``count`` live keys under ``prefix`` after ``after`` as of ``at``.

        Walks ``kv_name_id`` in key order from ``after``: a row is a key's value at ``at``
        when no newer row of that name is <= ``at`` (one index probe), and the walk stops
        once ``count`` such rows are not tombstones -- so a page costs about the rows of
        the keys it returns (plus any deleted but not yet compacted keys among them),
        not the whole prefix."""
        cond, params = _under_prefix(prefix, "k.id <= ?", at, after=after, table="k.")
        sql = (
            "SELECT k.name, k.value, k.create_revision, k.id FROM kv AS k INDEXED BY kv_name_id "
            f"WHERE {' AND '.join(cond)} AND NOT EXISTS (SELECT 1 FROM kv AS n "
            "WHERE n.name = k.name AND n.id > k.id AND n.id <= ?) AND k.deleted = 0 "
            "ORDER BY k.name LIMIT ?"
        )
        params += [at, count]
        return self._db().execute(sql, params).fetchall()

    def _live_count(self, prefix: str, at: int, after: str) -> int:
        """How many live keys under ``prefix`` come after ``after`` as of ``at``, from the
        indexes alone (no value is read): names with a row <= ``at``, less those whose
        newest such row is a tombstone."""
        db = self._db()
        cond, params = _under_prefix(prefix, "id <= ?", at, after=after)
        names = db.execute(
            f"SELECT COUNT(DISTINCT name) FROM kv WHERE {' AND '.join(cond)}", params
        ).fetchone()[0]
        cond, params = _under_prefix(prefix, "t.id <= ?", at, after=after, table="t.")
        deleted = db.execute(
            "SELECT COUNT(*) FROM kv AS t INDEXED BY kv_tombstones "
            f"WHERE t.deleted = 1 AND {' AND '.join(cond)} AND NOT EXISTS (SELECT 1 FROM kv AS n "
            "WHERE n.name = t.name AND n.id > t.id AND n.id <= ?)",
            [*params, at],
        ).fetchone()[0]
        return int(names) - int(deleted)

    def events_since(self, prefix: str, start: int) -> builtins.list[Event]:
        """Every event under ``prefix`` with revision >= start, oldest first."""
        if start < self.compacted:
            raise CompactedError(self.compacted, self.revision)
        cond, params = _under_prefix(prefix, "id >= ?", start)
        sql = f"SELECT {ROW_COLUMNS} FROM kv WHERE {' AND '.join(cond)} ORDER BY id"
        return [row_event(r) for r in self._db().execute(sql, params)]

    # -- writes ----------------------------------------------------------------------

    def apply_batch(self, ops: Sequence[WriteOp]) -> builtins.list[Event | StorageError]:
        """Apply ``ops`` in order in ONE transaction (group commit).  A refused op (key
        exists, conflict, ...) yields its error and does not stop the others; a failure of
        the transaction itself raises and nothing is kept."""
        conn = self._db()
        saved = self.revision
        conn.execute("BEGIN IMMEDIATE")
        try:
            results = [self._apply(op) for op in ops]
            conn.execute("COMMIT")
        except BaseException:
            self.revision = saved
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _apply(self, op: WriteOp) -> Event | StorageError:
        kind, key, value, expected = op
        row = self._latest(key)
        live = None if row is None or row[1] else KeyValue(key, bytes(row[3]), row[2], row[0])
        rev = self.revision + 1
        if kind == "create":
            if live is not None:
                return KeyExistsError(key)
            self._insert(rev, key, created=1, deleted=0, crev=rev, prev=0, value=value, old=None)
            self.revision = rev
            return Event("PUT", KeyValue(key, value, rev, rev), None)
        if live is None:
            return KeyNotFoundError(key)
        if kind == "update":
            if live.mod_revision != expected:
                return ConflictError(live)
            self._insert(rev, key, created=0, deleted=0, crev=live.create_revision,
                         prev=live.mod_revision, value=value, old=live.value)
            self.revision = rev
            return Event("PUT", KeyValue(key, value, live.create_revision, rev), live)
        if expected and live.mod_revision != expected:
            return ConflictError(live)
        # A tombstone keeps the deleted value in ``value`` (old_value would only repeat it).
        self._insert(rev, key, created=0, deleted=1, crev=live.create_revision,
                     prev=live.mod_revision, value=live.value, old=None)
        self.revision = rev
        return Event("DELETE", KeyValue(key, live.value, live.create_revision, rev), live)

    def _insert(self, rev: int, key: str, *, created: int, deleted: int, crev: int, prev: int,
                value: bytes, old: bytes | None) -> None:
        self._db().execute(
            f"INSERT INTO kv ({ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (rev, key, created, deleted, crev, prev, value, old),
        )

    def compact(self, revision: int) -> int:
        """Drop history older than ``revision``; return the compacted revision.

        Kept: every row >= revision, and for each key its newest row < revision unless that
        row is a tombstone -- exactly what a snapshot read at ``revision`` needs."""
        if revision > self.revision:
            raise FutureRevisionError(f"cannot compact at {revision}, store is at {self.revision}")
        if revision <= self.compacted:
            return self.compacted
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "DELETE FROM kv WHERE id < ? AND EXISTS (SELECT 1 FROM kv AS n "
                "WHERE n.name = kv.name AND n.id > kv.id AND n.id <= ?)",
                (revision, revision),
            )
            conn.execute("DELETE FROM kv WHERE id < ? AND deleted = 1", (revision,))
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('compacted', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (revision,),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.compacted = revision
        return revision


def _owner_only(path: str) -> None:
    """Create the database file 0600 before SQLite does (which would use the umask, 0644):
    it holds every Secret.  SQLite gives its -wal/-shm files the database file's mode."""
    if path == ":memory:" or path.startswith("file:"):
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
