"""A fake kubelet for the proxy tests: a real Twisted HTTPS server speaking the kubelet's
protocols well enough for kubectl on the far side of the API server.

Run it inside a TestHost (``host.spawn_python("tests.support.fakekubelet", ...)``); it prints
``ready`` on stdout once listening.  What it serves:

- ``/containerLogs/{ns}/{pod}/{container}``: five lines ``{container} line N`` (``previous``
  gives ``{container} previous line``), honouring tailLines, limitBytes, timestamps; with
  ``follow`` it then writes ``{container} tick N`` every 0.1 s until the client goes away.
- ``/exec/{ns}/{pod}/{container}`` and ``/attach/...`` over WebSocket (``v5.channel.k8s.io``
  or ``v4.channel.k8s.io``): a harmless fake shell — ``echo ARGS`` prints them, ``false``
  exits 1, ``cat``/``sh`` (and attach) echo stdin (in capitals with a tty) until it closes or a
  line ``exit`` arrives.
  Container ``refuse`` answers an upgrade 403, container ``plain`` answers 200.
- ``/portForward/{ns}/{pod}``: an upgrade to ``Upgrade: x-echo`` or ``SPDY/3.1`` (answered with
  the first ``X-Stream-Protocol-Version`` offered) answered 101, then every byte echoed (a
  stand-in for the SPDY port-forward protocol, which this fake does not speak).
- ``/debug/requests``: JSON list of every request seen (method, path, query, headers,
  client certificate CN); ``/debug/open``: follow streams and upgrades still open.
- ``/redirect``: 302 to ``/landed``; any other path: JSON echo of the request.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet import reactor as _reactor
from twisted.internet import ssl, task
from twisted.internet.protocol import Protocol
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

reactor: Any = _reactor
SEEN: list[dict[str, Any]] = []
OPEN = {"follow": 0, "exec": 0, "portforward": 0}
STATUS_SUCCESS = {"metadata": {}, "status": "Success"}


def _record(request: Request) -> None:
    cn = ""
    peer = getattr(request.channel.transport, "getPeerCertificate", lambda: None)()
    if peer is not None:
        cn = dict(peer.get_subject().get_components()).get(b"CN", b"").decode()
    SEEN.append({
        "method": request.method.decode(), "path": request.path.decode(),
        "query": parse_qs(urlsplit(request.uri.decode()).query, keep_blank_values=True),
        "headers": {k.decode().lower(): [v.decode() for v in vs] for k, vs in request.requestHeaders.getAllRawHeaders()},
        "clientCN": cn,
    })


class ShellProtocol(WebSocketServerProtocol):
    """The kubelet's side of the remotecommand websocket protocol (channel byte + data)."""

    command: list[str]
    echo = False
    v5 = False

    def onConnect(self, request: Any) -> str:
        parts = request.path.strip("/").split("/")
        container = parts[3] if len(parts) > 3 else ""
        if container == "refuse":
            raise ConnectionDeny(403, "forbidden by fake kubelet")
        chosen = next((p for p in ("v5.channel.k8s.io", "v4.channel.k8s.io") if p in request.protocols), None)
        if chosen is None:
            raise ConnectionDeny(400, "no supported subprotocol")
        self.v5 = chosen.startswith("v5")
        self.kind = parts[0]
        self.command = request.params.get("command", []) if self.kind == "exec" else ["cat"]
        self.tty = "tty" in request.params
        self.container = container
        return chosen

    def onOpen(self) -> None:
        OPEN["exec"] += 1
        cmd = self.command[0] if self.command else ""
        if self.kind == "attach":
            self.out(f"attached to {self.container}\n")
        if cmd == "echo":
            self.out(" ".join(self.command[1:]) + "\n")
            self.finish(0)
        elif cmd == "false":
            self.finish(1)
        elif cmd in ("cat", "sh"):
            self.echo = True
        else:
            self.finish(126, f"fake kubelet cannot run {cmd!r}")

    def out(self, text: str, channel: int = 1) -> None:
        self.sendMessage(bytes([channel]) + text.encode(), isBinary=True)

    def finish(self, code: int, message: str = "") -> None:
        if code == 0:
            status: dict[str, Any] = STATUS_SUCCESS
        else:
            status = {"metadata": {}, "status": "Failure",
                      "message": message or f"command terminated with non-zero exit code: {code}",
                      "reason": "NonZeroExitCode",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        self.sendMessage(bytes([3]) + json.dumps(status).encode(), isBinary=True)
        self.sendClose(1000)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if not payload:
            return
        channel, data = payload[0], payload[1:]
        if channel == 255:  # v5: the client closed a stream (stdin)
            if self.echo:
                self.finish(0)
            return
        if channel != 0 or not self.echo:
            return  # resize (4) and anything else: nothing to do here
        for line in data.replace(b"\r", b"\n").split(b"\n"):
            if line.strip() == b"exit":
                self.finish(0)
                return
        # With a tty the fake answers in capitals, so a test can tell its answer from a local echo.
        self.out(data.decode("utf-8", "replace").upper().replace("\r", "\r\n") if self.tty else data.decode())

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
        OPEN["exec"] -= 1


class _Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def connectionLost(self, reason: Any = None) -> None:
        OPEN["portforward"] -= 1


class Root(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        factory = WebSocketServerFactory()
        factory.protocol = ShellProtocol
        self.ws = WebSocketResource(factory)

    def render(self, request: Request) -> Any:
        _record(request)
        path = request.path.decode()
        upgrade = (request.getHeader(b"upgrade") or b"").lower()
        if path.startswith(("/exec/", "/attach/")):
            container = path.strip("/").split("/")[3] if path.count("/") >= 4 else ""
            if container == "plain":
                request.setHeader(b"content-type", b"text/plain")
                return b"not an upgrade\n"
            if container == "refuse":
                request.setResponseCode(403)
                return b"forbidden by fake kubelet\n"
            return self.ws.render(request)
        if path.startswith("/portForward/"):
            return self._port_forward(request, upgrade)
        if path.startswith("/containerLogs/"):
            return self._logs(request, path)
        if path == "/healthz":
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"ok"
        if path == "/debug/requests":
            return self._json(request, SEEN)
        if path == "/debug/open":
            return self._json(request, OPEN)
        if path == "/redirect":
            request.setResponseCode(302)
            request.setHeader(b"location", b"/landed")
            return b""
        body = request.content.read() if request.content is not None else b""
        return self._json(request, {**SEEN[-1], "body": base64.b64encode(body).decode()})

    @staticmethod
    def _json(request: Request, obj: Any) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(obj).encode()

    def _port_forward(self, request: Request, upgrade: bytes) -> Any:
        if upgrade not in (b"x-echo", b"spdy/3.1"):
            request.setResponseCode(400)
            return b"fake kubelet: port-forward needs Upgrade: x-echo or SPDY/3.1\n"
        channel: Any = request.channel
        transport = channel.transport
        if upgrade == b"spdy/3.1":  # answered as the kubelet does (the first protocol offered), then echoed
            offered = (request.getHeader("x-stream-protocol-version") or "").split(",")[0].strip()
            transport.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                            b"X-Stream-Protocol-Version: " + offered.encode() + b"\r\n\r\n")
        else:
            transport.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x-echo\r\n\r\n")
        echo = _Echo()
        OPEN["portforward"] += 1
        channel._protocolUpgradeForWebsockets(echo)  # twisted's own hook for handing a connection over
        return NOT_DONE_YET

    def _logs(self, request: Request, path: str) -> Any:
        parts = path.strip("/").split("/")
        if len(parts) != 4:
            request.setResponseCode(404)
            return b"404 page not found\n"
        container = parts[3]
        if container == "missing":
            request.setResponseCode(404)
            return b'container "missing" not found\n'
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.uri.decode()).query).items()}
        lines = [f"{container} previous line"] if q.get("previous") == "true" else \
            [f"{container} line {i}" for i in range(1, 6)]
        if "tailLines" in q:
            n = int(q["tailLines"])
            lines = lines[-n:] if n else []
        stamp = "2026-01-01T00:00:00.000000000Z "
        text = "".join((stamp if q.get("timestamps") == "true" else "") + line + "\n" for line in lines)
        if "limitBytes" in q:
            text = text[: int(q["limitBytes"])]
        request.setHeader(b"content-type", b"text/plain")
        if q.get("follow") != "true":
            return text.encode()
        request.write(text.encode())
        OPEN["follow"] += 1
        ticks = iter(range(1, 1 << 30))

        def tick() -> None:
            request.write(f"{container} tick {next(ticks)}\n".encode())

        loop = task.LoopingCall(tick)
        loop.start(0.1, now=False)

        def gone(_: Any) -> None:
            loop.stop()
            OPEN["follow"] -= 1

        request.notifyFinish().addBoth(gone)
        return NOT_DONE_YET


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--address", default="0.0.0.0")
    p.add_argument("--port", type=int, default=10250)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--client-ca", help="verify client certificates against this CA")
    a = p.parse_args(argv)
    with open(a.cert, "rb") as f, open(a.key, "rb") as g:
        pair = ssl.PrivateCertificate.loadPEM(g.read() + b"\n" + f.read())
    kw: dict[str, Any] = {}
    if a.client_ca:
        with open(a.client_ca, "rb") as f:
            kw = {"verify": True, "caCerts": [ssl.Certificate.loadPEM(f.read()).original],
                  "requireCertificate": False}  # asked for, not required: pod proxies send none
    opts = ssl.CertificateOptions(privateKey=pair.privateKey.original, certificate=pair.original,
                                  raiseMinimumTo=ssl.TLSVersion.TLSv1_2, **kw)
    reactor.listenSSL(a.port, Site(Root()), opts, interface=a.address)
    reactor.callWhenRunning(lambda: (sys.stdout.write("ready\n"), sys.stdout.flush()))
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
