"""Garbage-collector settings for a server process.

Under load CPython's full collections walk every object the process has, including the
hundreds of thousands made at start (the catalog, schemas, RBAC policy) that live as long as
the process; each such pass paused the reactor for tens of milliseconds, which was most of
GET's p99.  Once start-up is done we collect once and freeze what is left, so later passes
skip it, and let more allocations pass between young collections."""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between generation-0 collections (CPython's default: 700)


def settle() -> None:
    """Call once the server is ready: everything alive now is treated as permanent."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
