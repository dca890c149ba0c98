"""The embedded backend: a kine-like revision log in one SQLite file."""

from kubeapi.storage.embedded.store import DEFAULT_MAX_VALUE_BYTES, SQLiteStorage

__all__ = ["DEFAULT_MAX_VALUE_BYTES", "SQLiteStorage"]
