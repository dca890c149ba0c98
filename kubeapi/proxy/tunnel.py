"""Port-forward over websockets, as kube-apiserver v1.34 does it (k8s.io/apiserver
``pkg/util/proxy/streamtunnel.go``, feature PortForwardWebsockets, on by default).

kubectl (1.30+) opens ``pods/{name}/portforward`` as a websocket offering
``SPDY/3.1+portforward.k8s.io``: it speaks SPDY inside the websocket's binary messages.
Kubelets do not accept that (their websocket port-forward is the older channel protocol), so
the API server asks the kubelet for a plain SPDY/3.1 upgrade (POST, ``Upgrade: SPDY/3.1``,
``X-Stream-Protocol-Version`` = the offered protocols less the ``SPDY/3.1+`` prefix) and, on
its 101, answers the caller's websocket handshake and carries the kubelet's bytes in binary
messages and the caller's message payloads back as bytes.  A refusal is relayed as the kubelet
wrote it, as for every upgrade.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers

PREFIX = "SPDY/3.1+"  # k8s.io/apimachinery/pkg/util/portforward WebsocketsSPDYTunnelingPrefix
SUFFIX = ".k8s.io"  # KubernetesSuffix
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_WS_DROP = (b"sec-websocket-protocol", b"sec-websocket-key", b"sec-websocket-version", b"upgrade",
            b"x-stream-protocol-version")
MAX_MESSAGE = 32 << 20  # a bound on one buffered websocket frame from the caller


def _values(headers: Headers, name: bytes) -> list[str]:
    return [p.strip() for v in headers.getRawHeaders(name, []) for p in v.decode("latin-1").split(",") if p.strip()]


def is_websocket(headers: Headers) -> bool:
    """wsstream.IsWebSocketRequest: an upgrade whose Upgrade header is ``websocket``."""
    return any(v.lower() == "websocket" for v in _values(headers, b"upgrade"))


def spdy_protocols(headers: Headers) -> list[str]:
    """The SPDY protocols a websocket offers by tunnelling (``SPDY/3.1+portforward.k8s.io`` →
    ``portforward.k8s.io``); empty when it offers none (then it is not a tunnelling request)."""
    return [p[len(PREFIX):] for p in _values(headers, b"sec-websocket-protocol")
            if p.startswith(PREFIX) and p.endswith(SUFFIX)]


def spdy_request_headers(headers: Headers, protocols: list[str]) -> Headers:
    """createSPDYRequest: the websocket headers go, ``Upgrade: SPDY/3.1`` and the protocols come."""
    out = Headers()
    for name, values in headers.getAllRawHeaders():
        if name.lower() not in _WS_DROP:
            out.setRawHeaders(name, list(values))
    out.setRawHeaders(b"Upgrade", [b"SPDY/3.1"])
    out.setRawHeaders(b"X-Stream-Protocol-Version", [p.encode() for p in protocols])
    return out


def head_headers(raw: bytes) -> dict[bytes, bytes]:
    """The backend's response headers (lower-cased names, last value wins)."""
    out = {}
    for line in raw.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def upgraded_to_spdy(raw: bytes) -> bool:
    h = head_headers(raw)
    return b"upgrade" in h.get(b"connection", b"").lower() and b"spdy/3.1" in h.get(b"upgrade", b"").lower()


def websocket_accept(headers: Headers, backend_head: bytes) -> bytes | None:
    """gorilla's Upgrader answer to the caller (the subprotocol: ``SPDY/3.1+`` + the kubelet's
    chosen protocol, if the caller offered it), or None when the handshake is not valid."""
    keys = headers.getRawHeaders(b"sec-websocket-key", [])
    try:
        if len(keys) != 1 or len(base64.b64decode(keys[0].strip(), validate=True)) != 16:
            return None
    except ValueError:
        return None
    if "13" not in _values(headers, b"sec-websocket-version"):
        return None
    accept = base64.b64encode(hashlib.sha1(keys[0].strip() + _WS_GUID).digest())  # noqa: S324 - RFC 6455
    lines = [b"HTTP/1.1 101 Switching Protocols", b"Upgrade: websocket", b"Connection: Upgrade",
             b"Sec-WebSocket-Accept: " + accept]
    chosen = head_headers(backend_head).get(b"x-stream-protocol-version", b"").decode("latin-1").strip()
    if chosen and PREFIX + chosen in _values(headers, b"sec-websocket-protocol"):
        lines.append(b"Sec-WebSocket-Protocol: " + (PREFIX + chosen).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


NORMAL_CLOSE = b"\x03\xe8"  # status 1000, as client-go's TunnelingConnection.Close sends


def frame(payload: bytes, opcode: int = 2) -> bytes:
    """One unmasked server frame (RFC 6455 §5.2), FIN set."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class ToCaller:
    """What the backend's relay writes to: each chunk of SPDY bytes becomes one binary message."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def write(self, data: bytes) -> None:
        self.transport.write(frame(data))


class TunnelCaller(Protocol):
    """The caller's side after the handshake: websocket frames in, their payloads to the
    backend; ping answered with pong, close answered and the connection closed."""

    def __init__(self, backend: Any) -> None:
        from twisted.internet import defer

        self.backend = backend
        self.closed: defer.Deferred[None] = defer.Deferred()
        self._buf = b""

    def dataReceived(self, data: bytes) -> None:
        transport: Any = self.transport
        self._buf += data
        while True:
            parsed = self._next_frame()
            if parsed is None:
                return
            opcode, payload = parsed
            if opcode in (0, 1, 2):  # continuation, text, binary: the tunnelled bytes
                if payload:
                    self.backend.transport.write(payload)
            elif opcode == 8:  # close: answer it and end the stream
                transport.write(frame(payload[:2], 8))
                transport.loseConnection()
                return
            elif opcode == 9:  # ping
                transport.write(frame(payload, 10))

    def _next_frame(self) -> tuple[int, bytes] | None:
        b = self._buf
        if len(b) < 2:
            return None
        opcode, masked, n = b[0] & 0x0F, b[1] & 0x80, b[1] & 0x7F
        i = 2
        if n == 126:
            if len(b) < 4:
                return None
            n, i = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, i = struct.unpack("!Q", b[2:10])[0], 10
        if n > MAX_MESSAGE:
            transport: Any = self.transport
            transport.loseConnection()
            self._buf = b""
            return None
        mask = b""
        if masked:
            if len(b) < i + 4:
                return None
            mask, i = b[i:i + 4], i + 4
        if len(b) < i + n:
            return None
        payload = b[i:i + n]
        self._buf = b[i + n:]
        if mask:
            payload = _unmask(payload, mask)
        return opcode, payload

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # type: ignore[assignment]  # noqa: B008
        if not self.closed.called:
            self.closed.callback(None)


def _unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
