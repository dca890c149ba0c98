"""resource.Quantity arithmetic for admission (quota sums, limit ranges): exact values as
Fractions, printed back in the canonical form a client sees (``500m``, ``2Gi``, ``10``)."""

from __future__ import annotations

import re
from fractions import Fraction

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_RE = re.compile(r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$")


class Quantity:
    """An exact amount plus the format its first operand was written in (as upstream keeps)."""

    __slots__ = ("value", "fmt")

    def __init__(self, value: Fraction | int, fmt: str = "DecimalSI") -> None:
        self.value = Fraction(value)
        self.fmt = fmt

    def __add__(self, other: Quantity) -> Quantity:
        # A zero (an empty used counter) takes the format of what is added to it.
        return Quantity(self.value + other.value, other.fmt if self.value == 0 else self.fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.fmt)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"Quantity({self})"

    def __str__(self) -> str:
        return format_quantity(self.value, self.fmt)


def parse(text: object) -> Quantity:
    """Parse a quantity string (or a JSON number); ValueError when it is not one."""
    if isinstance(text, bool):
        raise ValueError(f"quantity {text!r}")
    if isinstance(text, int):
        return Quantity(text)
    if isinstance(text, float):
        return Quantity(Fraction(str(text)))
    if not isinstance(text, str):
        raise ValueError(f"quantity {text!r}")
    m = _RE.match(text.strip())
    if m is None:
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    sign, num, suffix, exp = m.groups()
    value = Fraction(num if not num.endswith(".") else num[:-1] or "0")
    if sign == "-":
        value = -value
    if suffix in _BINARY:
        return Quantity(value * (1024 ** _BINARY[suffix]), "BinarySI")
    if exp is not None:
        return Quantity(value * Fraction(10) ** int(exp), "DecimalExponent")
    return Quantity(value * Fraction(10) ** _DECIMAL[suffix or ""], "DecimalSI")


def _ceil_milli(value: Fraction) -> Fraction:
    """Canonical forms never go below nano; round away from zero there as upstream does."""
    scaled = value * 10**9
    if scaled.denominator == 1:
        return value
    n = -(-scaled.numerator // scaled.denominator) if value > 0 else scaled.numerator // scaled.denominator
    return Fraction(n, 10**9)


def format_quantity(value: Fraction, fmt: str = "DecimalSI") -> str:
    value = _ceil_milli(value)
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    v = abs(value)
    if fmt == "BinarySI" and v.denominator == 1 and v >= 1024:
        n = int(v)
        best = ""
        for suffix, power in sorted(_BINARY.items(), key=lambda kv: kv[1]):
            if n % (1024 ** power) == 0:
                best = suffix
        if best:
            return f"{sign}{n // 1024 ** _BINARY[best]}{best}"
    if fmt == "BinarySI" and v.denominator == 1:
        return f"{sign}{int(v)}"
    # Decimal: the largest power-of-1000 suffix that leaves an integer mantissa.
    for power in (18, 15, 12, 9, 6, 3, 0, -3, -6, -9):
        mant = v / Fraction(10) ** power
        if mant.denominator == 1:
            if fmt == "DecimalExponent":
                return f"{sign}{int(mant)}" + (f"e{power}" if power else "")
            suffix = next(s for s, p in _DECIMAL.items() if p == power)
            return f"{sign}{int(mant)}{suffix}"
    return f"{sign}{int(v)}"  # unreachable: _ceil_milli leaves a multiple of 1e-9
