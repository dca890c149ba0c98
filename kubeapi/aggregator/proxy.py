"""Forwarding one request to an extension server, as upstream's aggregator proxy does.

The caller is already authenticated, impersonated and authorized by the main chain.  The
extension gets the request as sent (path, query, body) minus the caller's credentials and
hop-by-hop headers, plus ``X-Remote-User``/``-Uid``/``-Group``/``-Extra-*`` naming the
authenticated user (client-go's fixed names) and our ``Audit-Id``; it is reached over TLS
with the proxy client certificate.  The answer is streamed back as it arrives (watches
work), redirects are never followed (and, as upstream's default, answered with 502).
Failures are upstream's plain-text 503s.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlencode

from twisted.internet import defer
from twisted.internet.error import ConnectError, ConnectionRefusedError, DNSLookupError, TimeoutError
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import FileBodyProducer, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers

from kubeapi.auth.user import UserInfo
from kubeapi.server import responses
from kubeapi.server.context import RequestContext

log = logging.getLogger(__name__)

# RFC 7230 hop-by-hop headers (Go's httputil.ReverseProxy list), dropped both ways.
HOP_BY_HOP = frozenset({b"connection", b"proxy-connection", b"keep-alive", b"proxy-authenticate",
                        b"proxy-authorization", b"te", b"trailer", b"transfer-encoding", b"upgrade"})
# The caller's credentials and identity claims never travel on.
_CREDENTIALS = (b"authorization", b"impersonate-user", b"impersonate-group", b"impersonate-uid")
_REMOTE_PREFIX = b"x-remote-"
_IMPERSONATE_EXTRA = b"impersonate-extra-"
REDIRECT_REFUSED = "the backend attempted to redirect this request, which is not permitted"


def proxy_error(ctx: RequestContext, code: int, text: str) -> bytes:
    """Go's http.Error: text/plain, nosniff, the text and a newline."""
    return responses.write_text(ctx, code, text + "\n")


def _connection_tokens(headers: Headers) -> set[bytes]:
    out: set[bytes] = set()
    for value in headers.getRawHeaders(b"connection") or []:
        out.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return out


def identity_headers(user: UserInfo) -> list[tuple[bytes, bytes]]:
    """client-go's SetAuthProxyHeaders: X-Remote-User, -Uid, one -Group each, -Extra-<escaped key>."""
    out = [(b"X-Remote-User", user.name.encode())]
    if user.uid:
        out.append((b"X-Remote-Uid", user.uid.encode()))
    out.extend((b"X-Remote-Group", g.encode()) for g in user.groups)
    for key, values in user.extra.items():
        name = b"X-Remote-Extra-" + quote(key, safe="-!#$&'*+.^_`|~").encode()
        out.extend((name, v.encode()) for v in values)
    return out


def outgoing_headers(ctx: RequestContext, host: str) -> Headers:
    """The request's headers as the extension should see them."""
    src = ctx.request.requestHeaders
    drop = HOP_BY_HOP | _connection_tokens(src)
    out = Headers()
    for name, values in src.getAllRawHeaders():
        low = name.lower()
        if low in drop or low in _CREDENTIALS or low == b"host" or low.startswith(_REMOTE_PREFIX) \
                or low.startswith(_IMPERSONATE_EXTRA) or low == b"audit-id" or low == b"content-length":
            continue
        out.setRawHeaders(name, list(values))
    assert ctx.user is not None
    for name, value in identity_headers(ctx.user):
        out.addRawHeader(name, value)
    out.setRawHeaders(b"Audit-Id", [ctx.audit_id.encode()])
    out.setRawHeaders(b"Host", [host.encode()])
    peer = getattr(ctx.request.getClientAddress(), "host", "")
    if peer:
        prior = b", ".join(src.getRawHeaders(b"x-forwarded-for") or [])
        out.setRawHeaders(b"X-Forwarded-For", [(prior + b", " if prior else b"") + peer.encode()])
    return out


class _Relay(Protocol):
    """Copies the extension's body to our client as each piece arrives; a slow client pauses
    the extension's connection (the relay is the request's producer) rather than piling up
    data in memory."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.done: defer.Deferred[None] = defer.Deferred()
        self._registered = False

    def connectionMade(self) -> None:
        if self.transport is not None and not self.request.finished:
            try:
                self.request.registerProducer(self.transport, True)
                self._registered = True
            except RuntimeError:  # the request already has a producer
                pass

    def _unregister(self) -> None:
        if self._registered:
            self._registered = False
            try:
                self.request.unregisterProducer()
            except Exception:
                pass

    def dataReceived(self, data: bytes) -> None:
        if not self.request.finished and not getattr(self.request, "_disconnected", False):
            self.request.write(data)

    def connectionLost(self, reason: Failure = ResponseDone()) -> None:  # type: ignore[assignment]
        self._unregister()
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(None)
        else:
            self.done.errback(reason)

    def abort(self) -> None:
        self._unregister()
        transport = self.transport
        if transport is not None:
            try:
                transport.stopProducing()  # type: ignore[attr-defined]
            except Exception:
                pass


def _tls_error(f: Failure) -> str | None:
    """Go's words for a server certificate we do not trust, when that is what failed."""
    reasons = getattr(f.value, "reasons", None) or [f]
    text = " ".join(str(r.value) for r in reasons if isinstance(r, Failure))
    if "certificate verify failed" in text:
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    return None


def dial_error_text(f: Failure, host: str, port: int) -> str:
    """A dial failure worded as Go's net package words it."""
    tls = _tls_error(f)
    if tls is not None:
        return tls
    if f.check(ConnectionRefusedError):
        return f"dial tcp {host}:{port}: connect: connection refused"
    if f.check(TimeoutError):
        return f"dial tcp {host}:{port}: i/o timeout"
    if f.check(DNSLookupError):
        return f"dial tcp: lookup {host}: no such host"
    if f.check(ConnectError):
        return f"dial tcp {host}:{port}: connect: {f.getErrorMessage()}"
    return f.getErrorMessage()


def target(ctx: RequestContext) -> str:
    """The path as received and the query re-encoded as Go's url.Values.Encode does (keys sorted)."""
    raw = ctx.request.path
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    if not ctx.query:
        return path
    return path + "?" + urlencode(sorted(ctx.query.items()), doseq=True)


def _copy_response_headers(ctx: RequestContext, resp: Any) -> None:
    drop = HOP_BY_HOP | _connection_tokens(resp.headers)
    ours = ctx.request.responseHeaders
    for name, values in resp.headers.getAllRawHeaders():
        low = name.lower()
        if low in drop or low == b"audit-id":
            continue
        ours.setRawHeaders(name, list(values))


async def forward(ctx: RequestContext, agent: Any, host: str, port: int, reject_redirects: bool) -> bytes:
    """Send the request on to https://host:port and stream the answer back; the body written
    here, so the pipeline gets b"" (or an error reply it writes)."""
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    url = f"https://{hostport}{target(ctx)}".encode()
    body = None
    content = ctx.request.content
    if content is not None:
        content.seek(0, 2)
        if content.tell() > 0 or ctx.method in ("POST", "PUT", "PATCH"):
            content.seek(0)
            body = FileBodyProducer(content)
    try:
        resp = await agent.request(ctx.method.encode(), url, outgoing_headers(ctx, hostport), body)
    except defer.CancelledError:
        raise
    except Exception as e:
        text = dial_error_text(Failure(e), host, port)
        log.info("proxying %s %s to %s failed: %s", ctx.method, ctx.path, hostport, text)
        return proxy_error(ctx, 503, text)
    location = resp.headers.getRawHeaders(b"location")
    if reject_redirects and 300 <= resp.code <= 399 and location and location[0]:
        resp.deliverBody(Protocol())  # discard
        return _write_plain(ctx, 502, REDIRECT_REFUSED)
    _copy_response_headers(ctx, resp)
    ctx.code = resp.code
    ctx.request.setResponseCode(resp.code)
    if ctx.on_response_started is not None:
        hook, ctx.on_response_started = ctx.on_response_started, None
        hook()
    relay = _Relay(ctx.request)
    resp.deliverBody(relay)
    if ctx.method != "HEAD":
        ctx.request.write(b"")  # headers out now: a watch's client sees its 200 at once
    try:
        await relay.done
    except defer.CancelledError:
        relay.abort()
        raise
    except Exception as e:
        log.info("proxied response from %s ended early: %s", hostport, e)
    return b""


def _write_plain(ctx: RequestContext, code: int, text: str) -> bytes:
    """Upstream's replaced redirect: the text with no newline, sniffed as text/plain."""
    return responses.write_body(ctx, code, text.encode(), "text/plain; charset=utf-8")
