"""Upgrade requests (exec, attach, port-forward, websockets through a proxy): dial the backend,
send the caller's request, and only if it answers ``101 Switching Protocols`` join the two
connections byte for byte until either side closes.

Any other answer is relayed (a 4xx/5xx as the backend wrote it) and the caller's connection
is then closed — never left open to the backend (CVE-2018-1002105).  The API server does not
look inside the stream protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers

from kubeapi.errors import StatusError
from kubeapi.proxy.forward import creator_for, go_dial_error
from kubeapi.proxy.kubelet import KubeletConfig
from kubeapi.proxy.location import Target

MAX_RESPONSE_HEAD = 1 << 20
ERROR_RELAY_DEADLINE = 10.0  # upstream's deadline for relaying a refused upgrade's answer


@dataclass
class Head:
    status: int
    raw: bytes  # the status line and headers as the backend sent them
    rest: bytes  # what followed (stream or body bytes)
    content_length: int | None


def is_upgrade(headers: Headers) -> bool:
    """Upstream's httpstream.IsUpgradeRequest: Connection names ``upgrade``."""
    for value in headers.getRawHeaders(b"connection", []):
        if b"upgrade" in value.lower():
            return True
    return False


def _parse_head(raw: bytes) -> tuple[int, int | None]:
    lines = raw.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError("malformed HTTP response " + repr(lines[0][:64]))
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    return int(parts[1]), length


class Backend(Protocol):
    """The connection to the backend: sends the request, reads the response head, then
    relays everything to ``peer`` (the caller's transport) once one is set."""

    def __init__(self, request_bytes: bytes) -> None:
        self.request_bytes = request_bytes
        self.head: defer.Deferred[Head] = defer.Deferred()
        self.closed: defer.Deferred[None] = defer.Deferred()
        self._buf = b""
        self.peer: Any = None
        self.relay_limit: int | None = None  # bytes to relay after the head (a refused upgrade)

    def connectionMade(self) -> None:
        transport: Any = self.transport
        transport.write(self.request_bytes)

    def dataReceived(self, data: bytes) -> None:
        if self.peer is not None:
            self._relay(data)
            return
        if self.head.called:
            self._buf += data  # arrived before the peer was joined
            return
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_RESPONSE_HEAD:
                self.head.errback(Failure(ValueError("response head too large")))
                self._abort()
            return
        raw, rest = self._buf[: end + 4], self._buf[end + 4:]
        self._buf = b""
        try:
            status, length = _parse_head(raw)
        except ValueError as e:
            self.head.errback(Failure(e))
            self._abort()
            return
        self._buf = rest
        self.head.callback(Head(status, raw, b"", length))

    def join(self, peer: Any, relay_limit: int | None = None) -> None:
        """Start relaying to ``peer``, beginning with what arrived after the head."""
        self.peer = peer
        self.relay_limit = relay_limit
        pending, self._buf = self._buf, b""
        if pending:
            self._relay(pending)

    def _relay(self, data: bytes) -> None:
        if self.relay_limit is not None:
            data = data[: self.relay_limit]
            self.relay_limit -= len(data)
        if data:
            self.peer.write(data)
        if self.relay_limit == 0:
            self._abort()

    def _abort(self) -> None:
        transport: Any = self.transport
        if transport is not None:
            transport.loseConnection()

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # type: ignore[assignment]  # noqa: B008
        if not self.head.called:  # closed (or the TLS handshake failed) before an answer
            self.head.errback(reason)
        if not self.closed.called:
            self.closed.callback(None)


class Caller(Protocol):
    """The caller's side once taken over from twisted.web: every byte goes to the backend."""

    def __init__(self, backend: Backend | None) -> None:
        self.backend = backend
        self.closed: defer.Deferred[None] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        transport: Any = self.backend.transport if self.backend is not None else None
        if transport is not None:
            transport.write(data)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # type: ignore[assignment]  # noqa: B008
        if not self.closed.called:
            self.closed.callback(None)


def request_bytes(method: str, target: Target, host: str, headers: Headers, body: bytes) -> bytes:
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + host.encode()]
    for name, values in headers.getAllRawHeaders():
        if name.lower() in (b"host", b"content-length"):
            continue
        lines += [name + b": " + v for v in values]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def dial(cfg: KubeletConfig, reactor: Any, target: Target, payload: bytes) -> Backend:
    """Connect and send the request; a failure is upstream's ``error dialing backend: ...``."""
    endpoint: Any = HostnameEndpoint(reactor, target.host.encode(), target.effective_port, timeout=cfg.timeout)
    if target.scheme == "https":
        endpoint = wrapClientTLS(creator_for(cfg, target), endpoint)
    backend = Backend(payload)
    try:
        await connectProtocol(endpoint, backend)
    except defer.CancelledError:
        raise
    except Exception:
        raise StatusError(500, "", f"error dialing backend: {go_dial_error(Failure(), target)}") from None
    return backend


async def response_head(backend: Backend, target: Target) -> Head:
    try:
        return await backend.head
    except defer.CancelledError:
        backend._abort()
        raise
    except Exception:
        f = Failure()
        backend._abort()
        why = str(f.value) if f.check(ValueError) else go_dial_error(f, target)
        raise StatusError(500, "", f"error dialing backend: {why}") from None


def first_closed(reactor: Any, *ds: defer.Deferred[None], timeout: float | None = None) -> defer.Deferred[Any]:
    """Fires when any of ``ds`` fires (or after ``timeout``); never fails."""
    out: defer.Deferred[Any] = defer.Deferred()

    def fire(result: Any = None) -> Any:
        if not out.called:
            out.callback(None)
        return result

    for d in ds:
        d.addBoth(fire)
    if timeout is not None:
        call = reactor.callLater(timeout, fire)

        def stop_timer(result: Any) -> Any:
            if call.active():
                call.cancel()
            return result

        out.addBoth(stop_timer)
    return out
