"""Request timeout for non-long-running requests (upstream's WithTimeoutForNonLongRunningRequests)
and the ``?timeout=`` query parameter, which narrows it."""

from __future__ import annotations

from collections.abc import Awaitable
from types import CoroutineType
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from kubeapi.errors import StatusError, bad_request, timeout
from kubeapi.server import eager
from kubeapi.timefmt import parse_duration

T = TypeVar("T")

TIMEOUT_MESSAGE = "request did not complete within requested timeout - context deadline exceeded"


def effective_timeout(default: float, query_timeout: str) -> float:
    if not query_timeout:
        return default
    try:
        t = parse_duration(query_timeout)
    except ValueError as e:
        raise bad_request(str(e)) from None
    return min(t, default) if t > 0 else default


# Deadlines this far off are checked by one sweep per server, not a timer per request: most
# requests carry the 60 s default and finish in milliseconds, and arming and cancelling a
# reactor timer for each was a noticeable part of a GET.  Shorter ones keep their own timer.
SWEEP_FROM = 5.0
SWEEP_EVERY = 0.5


class Deadlines:
    """In-flight requests' deadlines, swept every SWEEP_EVERY seconds."""

    def __init__(self, clock: IReactorTime) -> None:
        self.clock: Any = clock  # zope's interface declarations confuse mypy about its methods
        self._pending: dict[int, tuple[float, defer.Deferred[Any], list[bool]]] = {}
        self._call: Any = None

    def add(self, d: defer.Deferred[Any], seconds: float) -> list[bool]:
        fired = [False]
        self._pending[id(d)] = (self.clock.seconds() + seconds, d, fired)
        if self._call is None:
            self._call = self.clock.callLater(SWEEP_EVERY, self._sweep)
        return fired

    def discard(self, d: defer.Deferred[Any]) -> None:
        self._pending.pop(id(d), None)
        if not self._pending and self._call is not None:  # idle: leave no timer behind
            self._call.cancel()
            self._call = None

    def _sweep(self) -> None:
        self._call = None
        now = self.clock.seconds()
        for key, (deadline, d, fired) in list(self._pending.items()):
            if deadline <= now:
                del self._pending[key]
                fired[0] = True
                d.cancel()
        if self._pending:
            self._call = self.clock.callLater(SWEEP_EVERY, self._sweep)


_deadlines: dict[int, Deadlines] = {}  # per clock (tests use their own)


async def with_timeout(work: Awaitable[T], seconds: float, clock: IReactorTime) -> T:
    """Await ``work``; after ``seconds`` cancel it and raise 504 Timeout.

    A coroutine is stepped at once (kubeapi.server.eager): one that finishes without
    waiting, as most GETs do, needs no Deferred and no deadline."""
    if isinstance(work, CoroutineType):
        timer: Any = clock  # zope's interface declarations confuse mypy about its methods
        began = timer.seconds()
        outcome = eager.start(work)
        if not isinstance(outcome, eager.Pending):
            return outcome
        d: defer.Deferred[Any] = outcome.deferred
        seconds -= timer.seconds() - began
    else:
        d = defer.ensureDeferred(work)  # type: ignore[arg-type]
    if seconds < SWEEP_FROM:
        d.addTimeout(max(seconds, 0.0), clock)
        try:
            return await d  # type: ignore[no-any-return]
        except defer.TimeoutError:
            raise timeout_error() from None
    sweeper = _deadlines.get(id(clock))
    if sweeper is None or sweeper.clock is not clock:
        sweeper = _deadlines[id(clock)] = Deadlines(clock)
    fired = sweeper.add(d, seconds)
    try:
        return await d  # type: ignore[no-any-return]
    except defer.CancelledError:
        if fired[0]:
            raise timeout_error() from None
        raise
    finally:
        sweeper.discard(d)


def timeout_error() -> StatusError:
    return timeout(f"Timeout: {TIMEOUT_MESSAGE}")
