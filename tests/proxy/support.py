"""Shared pieces of the proxy tests: one fake kubelet per test process, an in-process API
server that reaches it with the kubelet client certificate, and a raw socket client for
upgrades (websocket frames decoded by hand: the test must see the bytes the server sends)."""

from __future__ import annotations

import atexit
import base64
import os
import struct
from typing import Any

import orjson
from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

from kubeapi.api import builtin_catalog
from kubeapi.proxy.kubelet import KubeletConfig
from tests.server.support import ServerTestCase, reactor
from tests.support.kubelethost import KubeletHost, skip_reason

Obj = dict[str, Any]
NS = "/api/v1/namespaces/default"
_host: KubeletHost | None = None
_skip: str | None = None


def kubelet_host() -> KubeletHost:
    global _host
    if _host is None:
        _host = KubeletHost()
        atexit.register(_host.close)
    return _host


def skip() -> str | None:
    """Why these tests cannot run here (cached: making a namespace costs a moment)."""
    global _skip
    if _skip is None:
        _skip = skip_reason() or ""
    return _skip or None


class KubeletCase(ServerTestCase):
    """An API server on the builtin catalog, the default namespace, node n1 at the fake kubelet."""

    async def setup(self, *, with_ca: bool = True) -> None:
        reason = skip()
        if reason:
            from twisted.trial.unittest import SkipTest

            raise SkipTest(reason)
        self.kubelet = kubelet_host()
        server = await self.start_server(catalog=builtin_catalog())
        from kubeapi.registry.allocator import ServiceAllocators

        server.allocators = server.hook_context.allocators = ServiceAllocators(self.storage)  # type: ignore[assignment]
        cfg = KubeletConfig(client_certificate=self.kubelet.client_cert, client_key=self.kubelet.client_key,
                            certificate_authority=self.kubelet.ca if with_ca else None, timeout=2.0)
        cfg.load()
        server.kubelet = cfg
        code, body, _ = await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "default"}})
        assert code == 201, body
        await self.make_node("n1")

    async def make_node(self, name: str, **kw: Any) -> Obj:
        node = self.kubelet.node(name, **{k: v for k, v in kw.items() if k in ("address_type", "address")})
        if "port" in kw:
            node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] = kw["port"]  # type: ignore[index]
        code, body, _ = await self.call("POST", "/api/v1/nodes", node)
        assert code == 201, body
        if not body.get("status", {}).get("addresses"):  # status is the kubelet's to write
            body["status"] = node["status"]
            code, body, _ = await self.call("PUT", f"/api/v1/nodes/{name}/status", body)
            assert code == 200, body
        return body  # type: ignore[no-any-return]

    async def make_pod(self, name: str, node: str = "n1", containers: tuple[str, ...] = ("c",),
                       ip: str | None = "kubelet", ports: tuple[int, ...] = ()) -> Obj:
        spec: Obj = {"containers": [{"name": c, "image": "fake",
                                     **({"ports": [{"containerPort": p} for p in ports]} if ports else {})}
                                    for c in containers]}
        if node:
            spec["nodeName"] = node
        code, body, _ = await self.call("POST", f"{NS}/pods", {"metadata": {"name": name}, "spec": spec})
        assert code == 201, body
        if ip:
            addr = self.kubelet.address if ip == "kubelet" else ip
            body["status"] = {"phase": "Running", "podIP": addr, "podIPs": [{"ip": addr}]}
            code, body, _ = await self.call("PUT", f"{NS}/pods/{name}/status", body)
            assert code == 200, body
        return body  # type: ignore[no-any-return]

    async def kubelet_requests(self) -> list[Obj]:
        """What the fake kubelet has seen (asked directly, not through the API server)."""
        from twisted.web.http_headers import Headers

        from kubeapi.proxy import forward
        from kubeapi.proxy.location import Target

        target = Target("https", self.kubelet.address, self.kubelet.port, path="/debug/requests", kubelet=True)
        resp = await forward.request(self.server.kubelet, reactor, target, "GET", Headers(), None)
        return orjson.loads(await forward.read_body(resp, 1 << 24))  # type: ignore[no-any-return]

    async def kubelet_open(self) -> Obj:
        from twisted.web.http_headers import Headers

        from kubeapi.proxy import forward
        from kubeapi.proxy.location import Target

        target = Target("https", self.kubelet.address, self.kubelet.port, path="/debug/open", kubelet=True)
        resp = await forward.request(self.server.kubelet, reactor, target, "GET", Headers(), None)
        return orjson.loads(await forward.read_body(resp, 1 << 16))  # type: ignore[no-any-return]


    async def get_no_redirect(self, path: str) -> tuple[int, Any]:
        """GET without following redirects (treq follows them): (code, headers)."""
        import treq

        resp = await treq.get(self.url + path, allow_redirects=False, pool=self.pool)
        await resp.content()
        return resp.code, resp.headers


class RawClient(Protocol):
    """Sends bytes, collects what comes back, notices the close."""

    def __init__(self) -> None:
        self.data = b""
        self.closed: defer.Deferred[None] = defer.Deferred()
        self._waiters: list[tuple[Any, defer.Deferred[None]]] = []

    @classmethod
    async def connect(cls, url: str) -> RawClient:
        host, port = url.split("//", 1)[1].split(":")
        client = cls()
        await connectProtocol(TCP4ClientEndpoint(reactor, host, int(port)), client)
        return client

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        self._wake()

    def connectionLost(self, reason: Any = None) -> None:
        if not self.closed.called:
            self.closed.callback(None)
        self._wake()

    def _wake(self) -> None:
        for pred, d in list(self._waiters):
            if self.closed.called or pred(self):
                self._waiters.remove((pred, d))
                d.callback(None)

    async def wait(self, pred: Any, timeout: float = 10.0) -> None:
        if pred(self) or self.closed.called:
            return
        d: defer.Deferred[None] = defer.Deferred()
        self._waiters.append((pred, d))
        d.addTimeout(timeout, reactor)
        try:
            await d
        except defer.TimeoutError:
            raise AssertionError(f"timed out; received so far: {self.data[:2000]!r}") from None

    async def wait_closed(self, timeout: float = 10.0) -> None:
        if not self.closed.called:
            d: defer.Deferred[None] = defer.Deferred()
            self.closed.addBoth(lambda r: (d.callback(None) if not d.called else None, r)[1])
            d.addTimeout(timeout, reactor)
            await d

    def close(self) -> None:
        if self.transport is not None:
            self.transport.loseConnection()

    @property
    def head(self) -> bytes:
        return self.data.split(b"\r\n\r\n", 1)[0]

    @property
    def body(self) -> bytes:
        return self.data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in self.data else b""


def ws_handshake(path: str, protocols: str = "v5.channel.k8s.io, v4.channel.k8s.io") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: kubeapi\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: {protocols}\r\n"
            f"Authorization: Bearer must-not-reach-the-kubelet\r\n\r\n").encode()


def ws_frame(payload: bytes, opcode: int = 2) -> bytes:
    """A masked client frame (RFC 6455 §5.3: clients must mask)."""
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_messages(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of the complete unmasked server frames in ``data``."""
    out = []
    i = 0
    while i + 2 <= len(data):
        opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            if i + 2 > len(data):
                break
            n = struct.unpack("!H", data[i:i + 2])[0]
            i += 2
        elif n == 127:
            if i + 8 > len(data):
                break
            n = struct.unpack("!Q", data[i:i + 8])[0]
            i += 8
        if i + n > len(data):
            break
        out.append((opcode, data[i:i + n]))
        i += n
    return out
