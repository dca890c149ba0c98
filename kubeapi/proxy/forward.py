"""Plain HTTP forwarding to a backend (node, pod, service, kubelet) with twisted.web's Agent.

Redirects are never followed; the response body is streamed to the caller with the backend's
pace (the caller's transport is the backend's producer), never buffered whole.  A backend
that cannot be reached is upstream's 503 ``error trying to reach service: ...``.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from twisted.internet import defer, error
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool, ResponseDone
from twisted.web.http_headers import Headers
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from kubeapi.errors import StatusError, service_unavailable
from kubeapi.proxy.kubelet import KubeletConfig
from kubeapi.proxy.location import Target


@implementer(IPolicyForHTTPS)
class _Policy:
    def __init__(self, cfg: KubeletConfig, target: Target) -> None:
        self._cfg = cfg
        self._target = target

    def creatorForNetloc(self, hostname: bytes, port: int) -> IOpenSSLClientConnectionCreator:
        return creator_for(self._cfg, self._target)


def creator_for(cfg: KubeletConfig, target: Target) -> IOpenSSLClientConnectionCreator:
    """Kubelets get our client certificate and (with a CA) verification; other HTTPS backends
    get neither, as upstream's proxy transport (InsecureSkipVerify) does."""
    if target.kubelet:
        return cfg.creator(target.host, skip_verify=target.skip_verify)
    return KubeletConfig().creator(target.host)


def go_dial_error(f: Failure, target: Target) -> str:
    """A connection failure in the words of Go's net package, which clients may match on."""
    addr = f"{target.netloc}" if target.port is not None else f"{target.netloc}:{target.effective_port}"
    if f.check(error.ConnectionRefusedError):
        return f"dial tcp {addr}: connect: connection refused"
    if f.check(error.TimeoutError, defer.TimeoutError):
        return f"dial tcp {addr}: i/o timeout"
    if f.check(error.NoRouteError):
        return f"dial tcp {addr}: connect: no route to host"
    text = str(f.value)
    if "certificate verify failed" in text or "CERTIFICATE_VERIFY_FAILED" in text or "VerificationError" in text:
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    if f.check(error.ConnectionLost, error.ConnectionDone):
        return "EOF"
    return f"dial tcp {addr}: {text or type(f.value).__name__}"


class Unreachable(Exception):
    """The backend could not be reached; ``str()`` is Go's wording of why."""


def unreachable(e: Unreachable) -> StatusError:
    """How the proxy reports it (upstream's proxy transport wraps it in a 503)."""
    return service_unavailable(f"error trying to reach service: {e}")


async def request(cfg: KubeletConfig, reactor: Any, target: Target, method: str, headers: Headers,
                  body: bytes | None) -> Any:
    """Send one request; the Agent's IResponse, its body not yet read.  Raises Unreachable."""
    agent = Agent(reactor, contextFactory=_Policy(cfg, target), connectTimeout=cfg.timeout,
                  pool=HTTPConnectionPool(reactor, persistent=False))
    producer: Any = FileBodyProducer(BytesIO(body)) if body else None
    d = agent.request(method.encode(), target.url().encode(), headers, producer)
    try:
        return await d
    except defer.CancelledError:
        raise
    except Exception:
        f = Failure()
        reasons = getattr(f.value, "reasons", None)  # ResponseNeverReceived wraps the real cause
        raise Unreachable(go_dial_error(reasons[0] if reasons else f, target)) from None


class _Relay(Protocol):
    """Copies a response body into a twisted.web request as it arrives."""

    def __init__(self, out: Any, done: defer.Deferred[None], limit: int | None = None) -> None:
        self.out = out
        self.done = done
        self.limit = limit

    def connectionMade(self) -> None:
        if self.transport is not None:
            self.out.registerProducer(self.transport, True)

    def dataReceived(self, data: bytes) -> None:
        if self.out.finished or getattr(self.out, "_disconnected", False):
            return
        self.out.write(data)

    def connectionLost(self, reason: Failure = ResponseDone()) -> None:  # type: ignore[assignment]
        try:
            self.out.unregisterProducer()
        except Exception:  # the caller went first
            pass
        if not self.done.called:  # a backend cut midway ends the stream too: nothing else to say
            self.done.callback(None)


async def relay_body(response: Any, out: Any) -> None:
    """Stream ``response``'s body into ``out`` until it ends or the caller goes away (then
    the backend connection is dropped)."""
    relay: _Relay

    def cancel(_: defer.Deferred[None]) -> None:
        t = getattr(relay, "transport", None)
        if t is not None:
            t.stopProducing()

    done: defer.Deferred[None] = defer.Deferred(cancel)
    relay = _Relay(out, done)
    response.deliverBody(relay)
    await done


async def read_body(response: Any, limit: int) -> bytes:
    """At most ``limit`` bytes of a (short, error) body."""
    chunks: list[bytes] = []
    done: defer.Deferred[None] = defer.Deferred()

    class _Collect(Protocol):
        size = 0

        def dataReceived(self, data: bytes) -> None:
            if self.size < limit:
                chunks.append(data[: limit - self.size])
                self.size += len(data)

        def connectionLost(self, reason: Failure = ResponseDone()) -> None:  # type: ignore[assignment]
            if not done.called:
                done.callback(None)

    response.deliverBody(_Collect())
    await done
    return b"".join(chunks)
