"""Bounded waiting for tests: one place for "sleep without blocking the reactor" and
"poll until a condition holds or a deadline passes"."""

from __future__ import annotations

import time
from collections.abc import Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater


def sleep(seconds: float) -> Deferred[None]:
    """A Deferred that fires after ``seconds`` on the global reactor."""
    return deferLater(reactor, seconds, lambda: None)  # type: ignore[arg-type]


async def eventually(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Re-check ``predicate`` every ``interval`` (reactor keeps running) until it holds; False
    if it still does not after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await sleep(interval)
    return True


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Blocking form of ``eventually`` for tests that drive a server in another process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
