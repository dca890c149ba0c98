"""RequestContext: what the filters learn about a request, handed down the chain."""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import parse_qs

from twisted.web.http_headers import _nameEncoder

from kubeapi.auth.user import UserInfo
from kubeapi.server.requestinfo import RequestInfo, request_info

# Verbs and subresources upstream treats as long-running (no request timeout, no in-flight slot).
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
MUTATING_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


_random = bytearray()  # crypto-random bytes handed out 16 at a time, refilled 4 KiB at once
os.register_at_fork(after_in_child=_random.clear)  # a forked worker must not repeat its parent's IDs


def new_audit_id() -> str:
    """A random (version 4) UUID in its text form, as ``str(uuid.uuid4())`` gives, without
    a getrandom call and a UUID object per request."""
    if len(_random) < 16:
        _random[:] = os.urandom(4096)
    h = _random[-16:].hex()
    del _random[-16:]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class RequestContext:
    """A plain class rather than a dataclass: its generated ``__init__`` set all twenty
    fields and called four factories for every request; here the defaults live on the
    class and ``__init__`` sets only what each request has of its own."""

    user: UserInfo | None = None
    code: int = 0
    dry_run: bool = False
    patch_type: str = ""
    protobuf: bool = False  # the resource's kind has a protobuf encoding (errors may use it too)
    # Audit: references only (no copies), read by kubeapi.audit when the policy level asks.
    audit: Any = None  # the audit recorder's per-request state
    request_body: bytes | None = None  # the raw body as read
    response_object: Any = None  # the object last encoded into the reply
    authz: tuple[str, str] | None = None  # ("allow"|"forbid", reason)
    on_response_started: Any = None  # called once when a long-running reply's headers go out

    def __init__(self, request: Any, secure: bool, method: str, path: str, query: dict[str, list[str]],
                 info: RequestInfo, audit_id: str | None = None, started: float | None = None,
                 **rest: Any) -> None:
        self.request = request  # twisted.web.server.Request
        self.secure = secure
        self.method = method
        self.path = path
        self.query = query
        self.info = info
        self.audit_id = audit_id if audit_id is not None else new_audit_id()
        self.started = started if started is not None else time.monotonic()
        self.warnings: list[str] = []
        self.audit_annotations: dict[str, str] = {}  # added by admission
        self._headers = header_table(getattr(request, "requestHeaders", None))
        self._out = header_table(getattr(request, "responseHeaders", None))
        for k, v in rest.items():
            if not hasattr(type(self), k):
                raise TypeError(f"RequestContext got an unexpected keyword argument {k!r}")
            setattr(self, k, v)

    def __repr__(self) -> str:
        return f"RequestContext({self.method} {self.path}, audit_id={self.audit_id})"

    @property
    def long_running(self) -> bool:
        i = self.info
        return i.is_resource_request and (i.verb in LONG_RUNNING_VERBS
                                          or i.subresource in LONG_RUNNING_SUBRESOURCES)

    @property
    def mutating(self) -> bool:
        return self.info.is_resource_request and self.info.verb in MUTATING_VERBS

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        """The request header's last value, as ``request.getHeader`` gives it; read from
        twisted's header table directly (by its canonical name) when there is one."""
        raw = self._headers
        if raw is not None:
            key = _CANONICAL.get(name)
            if key is None:
                key = _canonical(name)
            values = raw.get(key)
            return values[-1].decode("latin-1") if values else None
        got = self.request.getHeader(name)
        return got.decode("latin-1") if isinstance(got, bytes) else got

    def set_header(self, name: bytes, value: bytes) -> None:
        """``request.setHeader`` for a name already in twisted's canonical spelling and a
        value known to hold no line break: straight into twisted's header table, without
        its per-call name canonicalisation and value scrubbing."""
        out = self._out
        if out is not None:
            out[name] = [value]
        else:
            self.request.setHeader(name, value)

    def add_warning(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


def header_table(headers: Any) -> dict[bytes, list[bytes]] | None:
    """twisted.web's own table behind ``headers`` (canonical name -> values), or None when
    this Twisted keeps it some other way (callers then use the public methods)."""
    raw = getattr(headers, "_rawHeaders", None)
    return raw if type(raw) is dict else None


def header_value(value: str) -> bytes:
    """``value`` as twisted's ``setHeader`` would write it: encoded, line breaks made spaces."""
    return b" ".join(value.encode().splitlines())


_CANONICAL: dict[str, bytes] = {}


def _canonical(name: str) -> bytes:
    """twisted.web's spelling of a header name (``Content-Type``), as it keys its table."""
    key = _nameEncoder.encode(name.encode("latin-1"))
    if len(_CANONICAL) < 256:
        _CANONICAL[name] = key
    return key


def parse_query(uri: bytes) -> dict[str, list[str]]:
    """All query parameters, keeping bare ones like ``?verbose`` (twisted's args drop them)."""
    _, _, qs = uri.partition(b"?")
    if not qs:
        return {}
    return parse_qs(qs.decode("utf-8", "replace"), keep_blank_values=True)


def make_context(request: Any, secure: bool) -> RequestContext:
    method = request.method.decode("ascii", "replace").upper()
    raw_path = request.path.decode("utf-8", "replace") if isinstance(request.path, bytes) else request.path
    query = parse_query(request.uri or b"")
    info = request_info(method, raw_path, query)
    return RequestContext(request=request, secure=secure, method=method, path=info.path,
                          query=query, info=info)
