"""Go text forms the JSON encoding uses: metav1.Time/MicroTime (RFC 3339) and time.Duration."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

from kubeapi.protobuf.wire import ProtobufDecodeError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))$")


def format_time(seconds: int, nanos: int = 0, micro: bool = False) -> str:
    """UTC RFC 3339 as metav1.Time (whole seconds) or metav1.MicroTime (6 fraction digits) marshal it."""
    try:
        dt = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise ProtobufDecodeError(f"time out of range: {seconds}s") from None
    base = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if micro:
        return f"{base}.{nanos // 1000:06d}Z"
    return base + "Z"


def parse_time(text: str) -> tuple[int, int]:
    """RFC 3339 text -> (unix seconds, nanoseconds)."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"invalid RFC 3339 time {text!r}")
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    frac = (m.group(7) or "")[:9].ljust(9, "0")
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    if m.group(9):
        off = int(m.group(10)) * 3600 + int(m.group(11)) * 60
        secs -= off if m.group(9) == "+" else -off
    return secs, int(frac)


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_DUR_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)")


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


def parse_duration(text: str) -> int:
    """time.ParseDuration: "1h2m3.5s" -> nanoseconds."""
    s = text
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"invalid duration {text!r}")
    total, pos = 0, 0
    while pos < len(s):
        m = _DUR_PART.match(s, pos)
        if not m or (not m.group(1) and not m.group(2)):
            raise ValueError(f"invalid duration {text!r}")
        unit = _UNITS[m.group(3)]
        total += int(m.group(1) or 0) * unit
        if m.group(2):
            total += int(m.group(2)) * unit // 10 ** len(m.group(2))
        pos = m.end()
    return sign * total
