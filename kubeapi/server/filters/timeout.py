"""Request timeout for non-long-running requests (upstream's WithTimeoutForNonLongRunningRequests)
and the Go duration syntax of ``?timeout=``."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from kubeapi.errors import StatusError, bad_request, timeout

T = TypeVar("T")

TIMEOUT_MESSAGE = "request did not complete within requested timeout - context deadline exceeded"
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration like '32s', '1m30s', '500ms'; ValueError otherwise."""
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total


def effective_timeout(default: float, query_timeout: str) -> float:
    if not query_timeout:
        return default
    try:
        t = parse_go_duration(query_timeout)
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
        raise timeout(f"Timeout: {TIMEOUT_MESSAGE}") from None


def timeout_error() -> StatusError:
    return timeout(f"Timeout: {TIMEOUT_MESSAGE}")
