"""Opening one gRPC connection to one etcd endpoint (plain TCP or TLS with a client cert)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS, platformTrust

from kubeapi.storage.etcd.grpc import UNAVAILABLE, GrpcError, GrpcProtocol


@dataclass(frozen=True, slots=True)
class Endpoint:
    scheme: str  # "http" | "https"
    host: str
    port: int

    @property
    def authority(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}"


def parse_endpoint(url: str, *, tls: bool) -> Endpoint:
    """``https://10.0.0.1:2379``, ``http://localhost:2379`` or a bare ``host:port``."""
    if "://" not in url:
        url = ("https://" if tls else "http://") + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"bad etcd endpoint {url!r}")
    return Endpoint(parts.scheme, parts.hostname, parts.port or 2379)


class TLSConfig:
    """CA bundle and optional client key pair, read once at start-up."""

    def __init__(self, ca_file: str | None, cert_file: str | None, key_file: str | None) -> None:
        self._ca = Certificate.loadPEM(Path(ca_file).read_bytes()) if ca_file else None
        self._client: PrivateCertificate | None = None
        if cert_file:
            pem = Path(cert_file).read_bytes() + b"\n" + Path(key_file or cert_file).read_bytes()
            self._client = PrivateCertificate.loadPEM(pem)

    def options_for(self, host: str) -> IOpenSSLClientConnectionCreator:
        return optionsForClientTLS(
            host,
            trustRoot=self._ca if self._ca is not None else platformTrust(),
            clientCertificate=self._client,
            acceptableProtocols=[b"h2"],
        )


async def dial(
    reactor: object, ep: Endpoint, tls: TLSConfig | None, timeout: float,
    keepalive_interval: float = 10.0, keepalive_timeout: float = 5.0,
) -> GrpcProtocol:
    """Connect and wait for the HTTP/2 handshake; GrpcError(UNAVAILABLE, sent=False) on failure."""
    tcp = (TCP6ClientEndpoint if ":" in ep.host else TCP4ClientEndpoint)(
        reactor, ep.host, ep.port, timeout=max(1, int(timeout + 0.999))
    )
    endpoint: Any = tcp
    if ep.scheme == "https":
        endpoint = wrapClientTLS((tls or TLSConfig(None, None, None)).options_for(ep.host), endpoint)
    proto = GrpcProtocol(reactor, ep.authority, scheme=ep.scheme,  # type: ignore[arg-type]
                         keepalive_interval=keepalive_interval, keepalive_timeout=keepalive_timeout)
    connecting = connectProtocol(endpoint, proto)
    timer = reactor.callLater(timeout, connecting.cancel)  # type: ignore[attr-defined]
    try:
        await connecting
        handshake = proto.ready
        timer.cancel()
        timer = reactor.callLater(timeout, handshake.cancel)  # type: ignore[attr-defined]
        await handshake
    except GrpcError:
        proto.abort()
        raise
    except defer.CancelledError:
        proto.abort()
        raise GrpcError(UNAVAILABLE, f"dial {ep}: timed out after {timeout}s", sent=False) from None
    except Exception as e:  # refused, unreachable, TLS failure
        proto.abort()
        raise GrpcError(UNAVAILABLE, f"dial {ep}: {e}", sent=False) from e
    finally:
        if timer.active():
            timer.cancel()
    return proto
