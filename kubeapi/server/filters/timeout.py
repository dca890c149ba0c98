"""Request timeout for non-long-running requests (upstream's WithTimeoutForNonLongRunningRequests)
and the ``?timeout=`` query parameter, which narrows it."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from kubeapi.errors import StatusError, bad_request, timeout
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


async def with_timeout(work: Awaitable[T], seconds: float, clock: IReactorTime) -> T:
    """Await ``work``; after ``seconds`` cancel it and raise 504 Timeout."""
    d: defer.Deferred[Any] = defer.ensureDeferred(work)  # type: ignore[arg-type]
    d.addTimeout(seconds, clock)
    try:
        return await d
    except defer.TimeoutError:
        raise timeout_error() from None


def timeout_error() -> StatusError:
    return timeout(f"Timeout: {TIMEOUT_MESSAGE}")
