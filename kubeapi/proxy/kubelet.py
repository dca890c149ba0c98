"""How the API server reaches kubelets: the ``--kubelet-*`` flags and the TLS they imply.

Upstream dials every kubelet over HTTPS with one client certificate; it verifies the
kubelet's serving certificate only when ``--kubelet-certificate-authority`` is given (no CA
means no verification), and ``insecureSkipTLSVerifyBackend`` on pods/log skips it even then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from zope.interface import implementer

NODE_ADDRESS_TYPES = ("Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP")
DEFAULT_PREFERRED = ",".join(NODE_ADDRESS_TYPES)
DEFAULT_KUBELET_PORT = 10250  # upstream's ports.KubeletPort, used when a node reports none
DEFAULT_TIMEOUT = 5.0


@implementer(IOpenSSLClientConnectionCreator)
class _Unverified:
    """A TLS client that presents our certificate but accepts any server certificate."""

    def __init__(self, context: SSL.Context) -> None:
        self._context = context

    def clientConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        conn = SSL.Connection(self._context, None)
        conn.set_app_data(tlsProtocol)
        return conn


@dataclass
class KubeletConfig:
    preferred_address_types: tuple[str, ...] = NODE_ADDRESS_TYPES
    client_certificate: str | None = None
    client_key: str | None = None
    certificate_authority: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    default_port: int = DEFAULT_KUBELET_PORT
    _client_pem: bytes | None = field(default=None, repr=False)
    _ca_pem: bytes | None = field(default=None, repr=False)

    def load(self) -> None:
        """Read the files once at start (a bad file fails the start, not a request)."""
        if self.client_certificate and self.client_key:
            with open(self.client_certificate, "rb") as f:
                cert = f.read()
            with open(self.client_key, "rb") as f:
                key = f.read()
            ssl.PrivateCertificate.loadPEM(key + b"\n" + cert)  # fails here if they do not match
            self._client_pem = key + b"\n" + cert
        if self.certificate_authority:
            with open(self.certificate_authority, "rb") as f:
                self._ca_pem = f.read()
            crypto.load_certificate(crypto.FILETYPE_PEM, self._ca_pem)

    def _client_cert(self) -> ssl.PrivateCertificate | None:
        return ssl.PrivateCertificate.loadPEM(self._client_pem) if self._client_pem else None

    def creator(self, hostname: str, skip_verify: bool = False) -> IOpenSSLClientConnectionCreator:
        """The TLS connection creator for one kubelet at ``hostname``."""
        client = self._client_cert()
        if self._ca_pem and not skip_verify:
            trust = ssl.trustRootFromCertificates(
                [ssl.Certificate.loadPEM(c) for c in _split_pem(self._ca_pem)])
            return ssl.optionsForClientTLS(hostname, trustRoot=trust,  # type: ignore[no-any-return]
                                           clientCertificate=client)
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_verify(SSL.VERIFY_NONE, lambda *_: True)
        if client is not None:
            ctx.use_certificate(client.original)
            ctx.use_privatekey(client.privateKey.original)
        return _Unverified(ctx)  # type: ignore[return-value]  # zope's implementer, not a subclass


def _split_pem(data: bytes) -> list[bytes]:
    marker = b"-----END CERTIFICATE-----"
    return [p.strip() + b"\n" + marker + b"\n" for p in data.split(marker) if b"-----BEGIN" in p]


def from_options(opts: Any) -> KubeletConfig:
    """The config from parsed Options (``kubeapi.options``)."""
    get = opts.__getitem__
    cfg = KubeletConfig(preferred_address_types=tuple(get("kubelet-preferred-address-types")),
                        client_certificate=get("kubelet-client-certificate"),
                        client_key=get("kubelet-client-key"),
                        certificate_authority=get("kubelet-certificate-authority"),
                        timeout=float(get("kubelet-timeout")))
    cfg.load()
    return cfg
