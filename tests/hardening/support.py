"""A real server with the built-in catalog for the hardening tests (embedded SQLite store,
127.0.0.1 listeners), and small helpers to build awkward bodies."""

from __future__ import annotations

from typing import Any

from kubeapi.api import builtin_catalog
from kubeapi.server.apiserver import APIServer
from tests.server.support import ServerTestCase

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def deployment(name: str, replicas: Any = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def nested(depth: int) -> bytes:
    """A JSON value ``depth`` objects deep."""
    return b'{"a":' * depth + b"1" + b"}" * depth


class BuiltinServerTestCase(ServerTestCase):
    async def start(self, **kwargs: Any) -> APIServer:
        server = await self.start_server(catalog=builtin_catalog(), **kwargs)
        code, body, _ = await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "default"}})
        assert code == 201, body
        return server


class RawClient:
    """Bytes in, bytes out over one TCP connection: for what HTTP client libraries will not
    send (huge or trickled headers, a body that never comes)."""

    def __init__(self) -> None:
        from twisted.internet import defer
        from twisted.internet.protocol import Protocol

        outer = self
        self.data = b""
        self.closed: defer.Deferred[None] = defer.Deferred()
        self.closed_at: float | None = None

        class _P(Protocol):
            def dataReceived(self, data: bytes) -> None:
                outer.data += data

            def connectionLost(self, reason: Any = None) -> None:
                import time

                outer.closed_at = time.monotonic()
                if not outer.closed.called:
                    outer.closed.callback(None)

        self.protocol: Any = _P()

    async def connect(self, url: str) -> None:
        from twisted.internet import reactor
        from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

        host, port = url.split("//", 1)[1].split(":")
        await connectProtocol(TCP4ClientEndpoint(reactor, host, int(port)), self.protocol)

    def send(self, data: bytes) -> None:
        self.protocol.transport.write(data)

    async def wait_closed(self, seconds: float) -> bool:
        """Whether the server closed the connection within ``seconds``."""
        from twisted.internet import reactor, task

        for _ in range(int(seconds * 20)):
            if self.closed.called:
                return True
            await task.deferLater(reactor, 0.05, lambda: None)
        return self.closed.called

    def close(self) -> None:
        if not self.closed.called and self.protocol.transport is not None:
            self.protocol.transport.abortConnection()

    @property
    def status_line(self) -> bytes:
        return self.data.split(b"\r\n", 1)[0]

    @property
    def body(self) -> bytes:
        return self.data.split(b"\r\n\r\n", 1)[-1]
