"""A real server for tests: embedded SQLite storage, the generic store, a small catalog,
and twisted.web Sites on 127.0.0.1 free ports (one insecure, one 'secure' without TLS so
authentication/authorization paths can be driven without certificates)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import treq
from twisted.internet import defer
from twisted.internet import reactor as _reactor
from twisted.trial import unittest
from twisted.web.server import Site

from kubeapi.api.types import Catalog, Column, ResourceDef, ScaleSpec
from kubeapi.server.apiserver import APIServer
from kubeapi.server.site import make_site
from kubeapi.storage.embedded import SQLiteStorage

Obj = dict[str, Any]
reactor: Any = _reactor  # the global reactor, untyped for mypy's sake


def _ready(o: Obj) -> str:
    st = (o.get("status") or {}).get("readyReplicas", 0)
    return f"{st}/{(o.get('spec') or {}).get('replicas', 0)}"


WIDGETS = ResourceDef(
    group="example.com", version="v1", kind="Widget", plural="widgets", singular="widget",
    namespaced=True, short_names=("wd",), categories=("all",), subresources=("status", "scale"),
    has_status=True, scale=ScaleSpec(),
    columns=(
        Column("Name", "string", lambda o: o["metadata"]["name"], format="name"),
        Column("Ready", "string", _ready),
        Column("Color", "string", lambda o: (o.get("spec") or {}).get("color"), priority=1),
        Column("Age", "date", lambda o: o["metadata"].get("creationTimestamp")),
    ),
)
NAMESPACES = ResourceDef(
    group="", version="v1", kind="Namespace", plural="namespaces", singular="namespace",
    namespaced=False, short_names=("ns",), subresources=("status", "finalize"), has_status=True,
)
CONFIGMAPS = ResourceDef(
    group="", version="v1", kind="ConfigMap", plural="configmaps", singular="configmap",
    namespaced=True, short_names=("cm",),
)
GADGETS = ResourceDef(  # cluster-scoped, read-only verbs, no columns
    group="example.com", version="v1", kind="Gadget", plural="gadgets", singular="gadget",
    namespaced=False, verbs=("get", "list", "watch"),
)


def small_catalog() -> Catalog:
    return Catalog([NAMESPACES, CONFIGMAPS, WIDGETS, GADGETS])


class ServerTestCase(unittest.TestCase):
    """Starts storage + server per test; ``self.url`` is insecure, ``self.secure_url`` secure."""

    server_kwargs: dict[str, Any] = {}

    async def start_server(self, **kwargs: Any) -> APIServer:
        tmp = tempfile.mkdtemp(prefix="kubeapi-server-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        storage = SQLiteStorage(os.path.join(tmp, "db.sqlite"))
        await storage.open()
        self.addCleanup(lambda: defer.ensureDeferred(storage.close()))
        opts = {**self.server_kwargs, **kwargs}
        catalog = opts.pop("catalog", None) or small_catalog()
        server = APIServer(catalog, storage, None, **opts)  # type: ignore[arg-type]
        self.server = server
        self.storage = storage
        for secure in (False, True):
            # The insecure listener uses our body-limiting Site, the other a plain one.
            resource = server.resource(secure=secure)
            site = Site(resource) if secure else make_site(resource, server.max_request_body_bytes)
            port = reactor.listenTCP(0, site, interface="127.0.0.1")
            self.addCleanup(port.stopListening)
            url = f"http://127.0.0.1:{port.getHost().port}"
            if secure:
                self.secure_url = url
            else:
                self.url = url
        from twisted.web.client import HTTPConnectionPool

        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.addCleanup(self.pool.closeCachedConnections)
        return server

    async def open_stream(self, path: str, headers: dict[str, str] | None = None,
                          secure: bool = False) -> StreamClient:
        client = StreamClient()
        await client.open(self.secure_url if secure else self.url, path, headers)
        self.addCleanup(client.shutdown)
        return client

    async def call(self, method: str, path: str, body: Any = None, *, secure: bool = False,
                   headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any, Any]:
        """(status, decoded JSON body or text, response headers)."""
        import orjson

        url = (self.secure_url if secure else self.url) + path
        h: dict[Any, Any] = {"Content-Type": "application/json"}
        h.update(headers or {})
        data = raw if raw is not None else (orjson.dumps(body) if body is not None else None)
        resp = await treq.request(method, url, data=data, headers=h, pool=self.pool)
        content = await resp.content()
        ctype = resp.headers.getRawHeaders("content-type", [""])[0]
        parsed: Any = content
        if ctype.startswith("application/json") and content:
            parsed = orjson.loads(content)
        elif ctype.startswith("text/plain") or ctype.startswith("application/yaml"):
            parsed = content.decode()
        return resp.code, parsed, resp.headers


class StreamClient:
    """A raw HTTP/1.1 client for watch streams: collects body lines as they arrive and can
    drop the connection mid-stream (what treq does not let a test do directly)."""

    def __init__(self) -> None:
        from twisted.internet.protocol import Protocol

        outer = self
        self.data = b""
        self.closed: defer.Deferred[None] = defer.Deferred()
        self._waiters: list[tuple[int, defer.Deferred[None]]] = []

        class _P(Protocol):
            def dataReceived(self, data: bytes) -> None:
                outer.data += data
                outer._wake()

            def connectionLost(self, reason: Any = None) -> None:
                if not outer.closed.called:
                    outer.closed.callback(None)
                outer._wake(force=True)

        self.protocol: Any = _P()

    async def open(self, url: str, path: str, headers: dict[str, str] | None = None) -> None:
        from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

        host, port = url.split("//", 1)[1].split(":")
        ep = TCP4ClientEndpoint(reactor, host, int(port))
        await connectProtocol(ep, self.protocol)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.protocol.transport.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())

    @property
    def ended(self) -> bool:
        """The chunked body's last-chunk marker arrived, or the connection closed."""
        return self.closed.called or self.data.endswith(b"\r\n0\r\n\r\n")

    async def wait_end(self, timeout: float = 5.0) -> None:
        if not self.ended:
            d: defer.Deferred[None] = defer.Deferred()
            self._waiters.append((-1, d))
            d.addTimeout(timeout, reactor)
            await d

    def _wake(self, force: bool = False) -> None:
        for want, d in list(self._waiters):
            if force or (want < 0 and self.ended) or (want >= 0 and len(self.events()) >= want):
                self._waiters.remove((want, d))
                d.callback(None)

    @property
    def head(self) -> bytes:
        return self.data.split(b"\r\n\r\n", 1)[0]

    def events(self) -> list[Obj]:
        """Decoded watch frames so far (chunk framing stripped)."""
        import orjson

        if b"\r\n\r\n" not in self.data:
            return []
        body = self.data.split(b"\r\n\r\n", 1)[1]
        out: list[Obj] = []
        for line in body.split(b"\n")[:-1]:  # the piece after the last newline may be partial
            line = line.strip()
            if line.startswith(b"{"):
                out.append(orjson.loads(line))
        return out

    async def wait_events(self, count: int, timeout: float = 5.0) -> list[Obj]:
        if len(self.events()) < count and not self.closed.called:
            d: defer.Deferred[None] = defer.Deferred()
            self._waiters.append((count, d))
            d.addTimeout(timeout, reactor)
            await d
        return self.events()

    def abort(self) -> None:
        self.protocol.transport.abortConnection()

    def shutdown(self) -> defer.Deferred[None]:
        """Close (if still open) and wait until both ends let go."""
        if not self.closed.called:
            self.abort()
        d: defer.Deferred[None] = defer.Deferred()
        def later(_: Any) -> None:
            reactor.callLater(0.01, d.callback, None)

        self.closed.addCallback(later)
        return d
