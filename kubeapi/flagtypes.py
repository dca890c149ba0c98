"""Typed flag values, as pflag parses them, with kube-apiserver's one-line refusals.

Every ``--flag`` table (options, authentication, audit...) builds its coercers here; this module
imports nothing heavy, so ``--help`` stays quick."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from kubeapi.timefmt import parse_duration


def parse_bool(text: str) -> bool:
    """Go's strconv.ParseBool spellings."""
    t = str(text).strip()
    if t in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if t in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(f"invalid boolean {text!r}")


def _invalid(flag: str, value: str, why: str) -> ValueError:
    return ValueError(f'invalid argument "{value}" for "--{flag}" flag: {why}')


def boolean(flag: str) -> Callable[[str], bool]:
    def coerce(value: str) -> bool:
        try:
            return parse_bool(value)
        except ValueError:
            raise _invalid(flag, value, f'strconv.ParseBool: parsing "{value}": invalid syntax') from None
    return coerce


def integer(flag: str, *, minimum: int | None = None) -> Callable[[str], int]:
    def coerce(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise _invalid(flag, value, f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
        if minimum is not None and n < minimum:
            raise ValueError(f"--{flag}: {n} must not be negative" if minimum == 0
                             else f"--{flag}: {n} must not be less than {minimum}")
        return n
    return coerce


def non_negative(flag: str) -> Callable[[str], int]:
    return integer(flag, minimum=0)


def number(flag: str) -> Callable[[str], float]:
    def coerce(value: str) -> float:
        try:
            return float(value)
        except ValueError:
            raise _invalid(flag, value, f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None
    return coerce


def duration(flag: str) -> Callable[[str], float]:
    """A Go duration (``30s``, ``5m``, ``1h30m``) in seconds; never negative."""
    def coerce(value: str) -> float:
        try:
            d = parse_duration(value)
        except ValueError:
            raise _invalid(flag, value, f'time: invalid duration "{value}"') from None
        if d < 0:
            raise ValueError(f"--{flag}: duration {value!r} must not be negative")
        return d
    return coerce


def port(flag: str, allow_zero: bool) -> Callable[[str], int]:
    def coerce(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise _invalid(flag, value, f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
        low = 0 if allow_zero else 1
        if not (low <= n <= 65535):
            raise ValueError(f"--{flag}: {n} must be between {low} and 65535, inclusive")
        return n
    return coerce


def ip(flag: str) -> Callable[[str], str]:
    def coerce(value: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"--{flag}: {value!r} is not a valid IP address") from None
    return coerce


def one_of(flag: str, values: tuple[str, ...]) -> Callable[[str], str]:
    def coerce(value: str) -> str:
        if value not in values:
            raise ValueError(f"--{flag}: {value!r} is not supported (one of {', '.join(values)})")
        return value
    return coerce
