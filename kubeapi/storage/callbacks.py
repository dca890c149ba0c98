"""Calling a watch's consumer from the store's own delivery loop.

The watch cache and the embedded store fan events out to many watchers in one loop; an
exception raised by one consumer is logged here and goes no further, so it can neither
break that loop nor starve the other watchers.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.logger import Logger

from kubeapi.storage.interface import Event, OnError, OnEvents, StorageError

_log = Logger()


def deliver_events(on_events: OnEvents, events: Sequence[Event]) -> None:
    """Hand ``events`` to the consumer; log (and swallow) what it raises."""
    try:
        on_events(events)
    except Exception:
        _log.failure("watch on_events callback raised")


def report_error(on_error: OnError, error: StorageError) -> None:
    """Tell the consumer its watch ended with ``error``; log (and swallow) what it raises."""
    try:
        on_error(error)
    except Exception:
        _log.failure("watch on_error callback raised")
