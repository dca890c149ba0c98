"""Give memory back to the system after bursts of connections end.

Two thousand watches cost ~35 MiB of small objects; once they end, CPython frees them but
glibc keeps the heap pages, so the process stays at its peak.  After many streams have
ended, a collection and ``malloc_trim(0)`` return those pages (cheap: at most every few
seconds, and only after a drop)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable
from typing import Any

from twisted.internet.task import LoopingCall

DROP = 50  # watches + requests that must have ended since the last trim
INTERVAL = 5.0


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        fn = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


class Trimmer:
    def __init__(self, count: Callable[[], int], clock: Any) -> None:
        self._count = count
        self._peak = 0
        self._trim = _malloc_trim()
        self._loop = LoopingCall(self.check)
        self._loop.clock = clock

    def start(self) -> None:
        if self._trim is not None:
            self._loop.start(INTERVAL, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def check(self) -> None:
        n = self._count()
        self._peak = max(self._peak, n)
        if self._peak - n >= DROP and self._trim is not None:
            gc.collect()
            self._trim(0)
            self._peak = n
