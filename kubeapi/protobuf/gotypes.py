"""Go text forms the JSON encoding uses for metav1.Time/MicroTime (RFC 3339, exact to the nanosecond).

time.Duration's text form lives in kubeapi.timefmt, shared with flags and ``?timeout=``."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

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


@lru_cache(maxsize=4096)  # an object's timestamps are encoded again on every read of it
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
