"""The server's side of glibc's heap: keep large blocks, give memory back after bursts.

A LIST answer is one large bytes object (440 KB for 1,000 ConfigMaps), built and freed per
request.  Under glibc's defaults each such block was mapped and unmapped again (or the heap
top was trimmed and grown), and the page faults of touching fresh pages cost more than
building the answer: half a LIST's CPU.  ``keep_large_blocks`` raises the mmap and trim
thresholds so those blocks are reused from the heap.

Memory still goes back: two thousand watches cost ~35 MiB of small objects; once they end,
CPython frees them but glibc keeps the heap pages, so the process stays at its peak.  After
many streams have ended, a collection and ``malloc_trim(0)`` return those pages (cheap: at
most every few seconds, and only after a drop).  A trim can run while the connections that
just closed still hold their buffers, so the check after each trim trims once more to settle."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable
from typing import Any

from twisted.internet.task import LoopingCall

DROP = 50  # watches + requests that must have ended since the last trim
INTERVAL = 5.0


M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest: blocks below it come from the heap
TRIM_THRESHOLD = 64 << 20  # free heap top kept before glibc gives it back by itself


def _libc_function(name: str, *argtypes: Any) -> Any:
    lib = ctypes.util.find_library("c")
    if not lib:
        return None
    try:
        fn = getattr(ctypes.CDLL(lib), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_int
    return fn


def _malloc_trim() -> Callable[[int], int] | None:
    return _libc_function("malloc_trim", ctypes.c_size_t)  # type: ignore[no-any-return]


def keep_large_blocks() -> bool:
    """Serve large allocations from the heap and keep its top (glibc only; False elsewhere)."""
    mallopt = _libc_function("mallopt", ctypes.c_int, ctypes.c_int)
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


class Trimmer:
    """Collect and trim once the watches and requests in flight have dropped by DROP."""

    def __init__(self, count: Callable[[], int], clock: Any, trim: Callable[[int], int] | None = None) -> None:
        self._count = count
        self._peak = 0
        self._settle = False
        self._trim = trim if trim is not None else _malloc_trim()
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
        if self._trim is None:
            return
        dropped = self._peak - n >= DROP
        if dropped or self._settle:
            self._settle = dropped  # the check after a drop's trim trims once more
            gc.collect()
            self._trim(0)
            self._peak = n
