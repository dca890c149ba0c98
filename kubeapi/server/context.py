"""RequestContext: what the filters learn about a request, handed down the chain."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from kubeapi.auth.user import UserInfo
from kubeapi.server.requestinfo import RequestInfo, parse_request_info

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


@dataclass
class RequestContext:
    request: Any  # twisted.web.server.Request
    secure: bool
    method: str
    path: str
    query: dict[str, list[str]]
    info: RequestInfo
    audit_id: str = field(default_factory=new_audit_id)
    started: float = field(default_factory=time.monotonic)
    user: UserInfo | None = None
    warnings: list[str] = field(default_factory=list)
    audit_annotations: dict[str, str] = field(default_factory=dict)  # added by admission
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
        raw = self.request.getHeader(name)
        return raw.decode("latin-1") if isinstance(raw, bytes) else raw

    def add_warning(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


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
    info = parse_request_info(method, raw_path, query)
    return RequestContext(request=request, secure=secure, method=method, path=info.path,
                          query=query, info=info)
