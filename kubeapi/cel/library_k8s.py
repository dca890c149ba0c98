"""Kubernetes' CEL libraries beyond lists and strings: regex (``find``, ``findAll``), URLs
(``url()``, ``isURL``, ``getHost`` ...) and quantities (``quantity()``, ``isQuantity``,
``isGreaterThan``, ``add`` ...), named and behaving as k8s.io/apiserver's.  A URL and a
quantity are opaque values only these functions take apart."""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any
from urllib.parse import parse_qs, urlsplit

from celpy import celtypes

from kubeapi.admission.quantity import Quantity, parse


def _regex(pattern: Any) -> re.Pattern[str]:
    try:
        return re.compile(str(pattern))
    except re.error as e:
        raise ValueError(f"compilation of regex {pattern} failed: {e}") from None


def find(s: Any, pattern: Any) -> celtypes.StringType:
    m = _regex(pattern).search(str(s))
    return celtypes.StringType(m.group(0) if m else "")


def find_all(s: Any, pattern: Any, limit: Any = None) -> celtypes.ListType:
    found = [m.group(0) for m in _regex(pattern).finditer(str(s))]
    if limit is not None and int(limit) >= 0:
        found = found[:int(limit)]
    return celtypes.ListType([celtypes.StringType(x) for x in found])


class URL:
    """A parsed URL: absolute (scheme and host) or an absolute path, as url() accepts."""

    def __init__(self, text: str) -> None:
        self.text = text
        parts = urlsplit(text)
        if not (parts.scheme and parts.netloc) and not text.startswith("/"):
            raise ValueError(f"URL is not absolute: {text}")
        self.parts = parts

    def __eq__(self, other: object) -> bool:
        return isinstance(other, URL) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def url(text: Any) -> URL:
    try:
        return URL(str(text))
    except ValueError as e:
        raise ValueError(f"URL parse error during conversion from string: {e}") from None


def is_url(text: Any) -> celtypes.BoolType:
    try:
        URL(str(text))
    except ValueError:
        return celtypes.BoolType(False)
    return celtypes.BoolType(True)


def get_scheme(u: URL) -> celtypes.StringType:
    return celtypes.StringType(u.parts.scheme)


def get_host(u: URL) -> celtypes.StringType:
    return celtypes.StringType(u.parts.netloc.rsplit("@", 1)[-1])


def get_hostname(u: URL) -> celtypes.StringType:
    return celtypes.StringType(u.parts.hostname or "")


def get_port(u: URL) -> celtypes.StringType:
    host = get_host(u)
    port = host.rsplit(":", 1)[1] if ":" in host.rsplit("]", 1)[-1] else ""
    return celtypes.StringType(port)


def get_escaped_path(u: URL) -> celtypes.StringType:
    return celtypes.StringType(u.parts.path)


def get_query(u: URL) -> celtypes.MapType:
    query = parse_qs(u.parts.query, keep_blank_values=True)
    return celtypes.MapType({celtypes.StringType(k): celtypes.ListType([celtypes.StringType(x) for x in v])
                             for k, v in query.items()})


def quantity(text: Any) -> Quantity:
    try:
        return parse(str(text))
    except ValueError:
        raise ValueError(f"quantities must match the regular expression: {text}") from None


def is_quantity(text: Any) -> celtypes.BoolType:
    try:
        parse(str(text))
    except ValueError:
        return celtypes.BoolType(False)
    return celtypes.BoolType(True)


def _q(v: Any) -> Quantity:
    if isinstance(v, Quantity):
        return v
    if isinstance(v, (celtypes.IntType, int)) and not isinstance(v, bool):
        return Quantity(int(v))
    raise TypeError("no such overload")


def sign(q: Quantity) -> celtypes.IntType:
    return celtypes.IntType((q.value > 0) - (q.value < 0))


def is_integer(q: Quantity) -> celtypes.BoolType:
    return celtypes.BoolType(q.value.denominator == 1 and -(2 ** 63) <= q.value < 2 ** 63)


def as_integer(q: Quantity) -> celtypes.IntType:
    if not is_integer(q):
        raise ValueError("cannot convert value to integer")
    return celtypes.IntType(int(q.value))


def as_approximate_float(q: Quantity) -> celtypes.DoubleType:
    return celtypes.DoubleType(float(q.value))


def add(a: Quantity, b: Any) -> Quantity:
    return _q(a) + _q(b)


def sub(a: Quantity, b: Any) -> Quantity:
    return _q(a) - _q(b)


def compare_to(a: Quantity, b: Quantity) -> celtypes.IntType:
    x: Fraction = _q(a).value
    y: Fraction = _q(b).value
    return celtypes.IntType((x > y) - (x < y))


def is_greater_than(a: Quantity, b: Quantity) -> celtypes.BoolType:
    return celtypes.BoolType(_q(a).value > _q(b).value)


def is_less_than(a: Quantity, b: Quantity) -> celtypes.BoolType:
    return celtypes.BoolType(_q(a).value < _q(b).value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "find": find, "findAll": find_all,
    "url": url, "isURL": is_url, "getScheme": get_scheme, "getHost": get_host, "getHostname": get_hostname,
    "getPort": get_port, "getEscapedPath": get_escaped_path, "getQuery": get_query,
    "quantity": quantity, "isQuantity": is_quantity, "sign": sign, "isInteger": is_integer,
    "asInteger": as_integer, "asApproximateFloat": as_approximate_float, "add": add, "sub": sub,
    "compareTo": compare_to, "isGreaterThan": is_greater_than, "isLessThan": is_less_than,
}
