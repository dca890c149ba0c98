"""Which headers cross the proxy, and how a backend's redirect is made to point back through it.

As upstream: hop-by-hop headers (and those the ``Connection`` header names) stop here both
ways; the caller's credentials (``Authorization``, impersonation headers) never reach a
backend; ``X-Forwarded-For`` gains the caller's address and ``X-Forwarded-Uri`` carries the
path the caller asked for; CORS headers from the backend are dropped.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from twisted.web.http_headers import Headers

HOP_BY_HOP = frozenset({b"connection", b"proxy-connection", b"keep-alive", b"proxy-authenticate",
                        b"proxy-authorization", b"te", b"trailer", b"transfer-encoding", b"upgrade"})
CREDENTIALS = frozenset({b"authorization"})
CORS = frozenset({b"access-control-allow-credentials", b"access-control-allow-headers",
                  b"access-control-allow-methods", b"access-control-allow-origin"})


def _named_by_connection(headers: Headers) -> set[bytes]:
    named: set[bytes] = set()
    for value in headers.getRawHeaders(b"connection", []):
        named.update(v.strip().lower() for v in value.split(b",") if v.strip())
    return named


def _is_credential(name: bytes) -> bool:
    return name in CREDENTIALS or name.startswith(b"impersonate-")


def request_headers(incoming: Headers, client_ip: str, forwarded_uri: str, *, upgrade: bool) -> Headers:
    """The headers sent to the backend.  An upgrade keeps Connection/Upgrade (and everything a
    stream protocol negotiates with); a plain request loses every hop-by-hop header."""
    drop = set() if upgrade else (HOP_BY_HOP | _named_by_connection(incoming))
    out = Headers()
    for name, values in incoming.getAllRawHeaders():
        low = name.lower()
        if low in drop or _is_credential(low) or low in (b"x-forwarded-for", b"x-forwarded-uri", b"content-length"):
            continue
        out.setRawHeaders(name, list(values))
    prior = b", ".join(incoming.getRawHeaders(b"x-forwarded-for", []))
    out.setRawHeaders(b"X-Forwarded-For", [prior + b", " + client_ip.encode() if prior else client_ip.encode()])
    if not upgrade:
        out.setRawHeaders(b"X-Forwarded-Uri", [forwarded_uri.encode()])
    return out


def response_headers(incoming: Headers) -> Iterable[tuple[bytes, list[bytes]]]:
    """The backend's response headers a client may see."""
    drop = HOP_BY_HOP | CORS | _named_by_connection(incoming)
    for name, values in incoming.getAllRawHeaders():
        if name.lower() not in drop:
            yield name, list(values)


def path_prepend(request_path: str, backend_path: str) -> str:
    """The part of the caller's path in front of the backend's (``/api/v1/nodes/n/proxy``)."""
    suffix = backend_path
    if request_path.endswith("/") and not suffix.endswith("/"):
        suffix += "/"
    return request_path[: -len(suffix)] if suffix and request_path.endswith(suffix) else request_path


def join_path(a: str, b: str) -> str:
    """Go's path.Join (cleaned), keeping a trailing slash of ``b`` as upstream adds it back."""
    joined = posixpath.normpath("/" + "/".join(p for p in (a.strip("/"), b.strip("/")) if p))
    if joined.startswith("//"):
        joined = "/" + joined.lstrip("/")
    if b.endswith("/") and not joined.endswith("/"):
        joined += "/"
    return joined


def forwarded_uri(prepend: str, backend_path: str) -> str:
    return join_path(prepend, backend_path)


def rewrite_location(location: str, backend_netloc: str, request_host: str, prepend: str) -> str:
    """Upstream's rewriteURL for a Location header: a same-host absolute path is moved under
    the proxy prefix; other hosts and relative paths pass unchanged."""
    try:
        parts = urlsplit(location)
    except ValueError:
        return location
    different_host = parts.netloc != "" and parts.netloc not in (backend_netloc, request_host)
    if different_host or not parts.path.startswith("/"):
        return location
    scheme, netloc = parts.scheme, parts.netloc
    if netloc != request_host:
        scheme, netloc = "", ""
    path = parts.path
    if not path.startswith(prepend):
        path = join_path(prepend, path)
    return urlunsplit((scheme, netloc, path, parts.query, parts.fragment))
