"""Go's duration syntax and kubectl's human ages, in one place.

Flags (``--request-timeout=1m``), the ``?timeout=`` query parameter and the protobuf wire
form of ``metav1.Duration`` all speak Go's ``time.ParseDuration`` syntax, and both the table
printer and the per-kind printing columns show ages the way apimachinery's
``duration.HumanDuration`` does; each had its own copy before.  Parsing is exact in integer
nanoseconds (the wire format needs that); the seconds form used by flags and timeouts derives
from it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_NS_PER = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
           "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)")


def parse_duration_ns(text: str) -> int:
    """time.ParseDuration ("1h2m3.5s", "500ms", "-1.5h") -> nanoseconds; ValueError otherwise."""
    s = text
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0, 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m or (not m.group(1) and not m.group(2)):
            raise ValueError(f'time: invalid duration "{text}"')
        unit = _NS_PER[m.group(3)]
        total += int(m.group(1) or 0) * unit
        if m.group(2):
            total += int(m.group(2)) * unit // 10 ** len(m.group(2))
        pos = m.end()
    return sign * total


def parse_duration(text: str) -> float:
    """Seconds in a Go duration, blanks around it forgiven (flags, query strings).

    The ValueError reads like Go's: ``time: invalid duration "<text as given>"``."""
    try:
        return parse_duration_ns(text.strip()) / 1e9
    except ValueError:
        raise ValueError(f'time: invalid duration "{text}"') from None


def _frac(v: int, prec: int) -> str:
    whole, rest = divmod(v, 10 ** prec)
    digits = f"{rest:0{prec}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def format_duration(ns: int) -> str:
    """time.Duration.String(): "0s", "1.5s", "2m0s", "1h0m0s", "300ms", "1µs"."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000_000_000:
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            return f"{sign}{_frac(u, 3)}µs"
        return f"{sign}{_frac(u, 6)}ms"
    out = _frac(u % 60_000_000_000, 9) + "s"
    minutes = u // 60_000_000_000
    if minutes:
        out = f"{minutes % 60}m{out}"
        hours = minutes // 60
        if hours:
            out = f"{hours}h{out}"
    return sign + out


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime (UTC when it names no zone); None if unset or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def human_duration(seconds_f: float) -> str:
    """apimachinery's duration.HumanDuration: coarser as the duration grows ("5s", "3m10s", "2d4h")."""
    seconds = int(seconds_f)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


def age(value: Any, now: datetime | None = None) -> str:
    """translateTimestampSince: the age of a timestamp, ``<unknown>`` when it is unset."""
    t = parse_time(value)
    if t is None:
        return "<unknown>"
    return human_duration(((now or datetime.now(UTC)) - t).total_seconds())
