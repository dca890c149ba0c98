"""TLS for the secure listener: the self-signed serving certificate and the context factory.

Without ``--tls-cert-file`` kube-apiserver writes ``apiserver.crt``/``apiserver.key`` into
``--cert-dir`` and reuses them on the next start; we do the same.  Client certificates are
requested (not required) when ``--client-ca-file`` is given; the handshake never fails on a
bad client certificate — the authenticator asks ``verified_client_certificate(transport)``
and treats an unverified one as no certificate, as upstream's x509 authenticator does.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile
from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL, crypto
from twisted.internet.interfaces import IOpenSSLContextFactory
from twisted.logger import Logger
from zope.interface import implementer

log = Logger()

CERT_NAME = "apiserver.crt"
KEY_NAME = "apiserver.key"
SERVICE_DNS_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                     "kubernetes.default.svc.cluster.local")
ALPN_PROTOCOLS = (b"http/1.1",)

# Marker set on an OpenSSL.SSL.Connection by the verify callback.
_VERIFIED_ATTR = "_kubeapi_client_verified"


def serving_names(advertise_address: str, service_ip: str, extra: Iterable[str] = ()) -> list[str]:
    """SANs of the self-signed cert, in upstream's spirit: loopback, the advertise address,
    the first service IP and the in-cluster names of the kubernetes Service."""
    names = ["localhost", "127.0.0.1", advertise_address, service_ip, *SERVICE_DNS_NAMES, *extra]
    out: list[str] = []
    for n in names:
        if n and n not in out:
            out.append(n)
    return out


def generate_self_signed(names: list[str], *, days: int = 365) -> tuple[bytes, bytes]:
    """A CA-less self-signed serving certificate for ``names`` → (cert PEM, key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"localhost@{int(now.timestamp())}")])
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=True, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return cert_pem, key_pem


def _loads(cert_path: str, key_path: str) -> bool:
    """True when both files parse (and the key belongs to the cert)."""
    try:
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except (OSError, ValueError, TypeError):
        return False
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(cert.public_key().public_bytes(serialization.Encoding.PEM, pub)
                == key.public_key().public_bytes(serialization.Encoding.PEM, pub))


def _write_atomic(path: str, data: bytes, mode: int) -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def ensure_self_signed(cert_dir: str, names: list[str]) -> tuple[str, str]:
    """Reuse ``cert_dir/apiserver.{crt,key}`` when they parse, else write new ones.
    Runs once at start, before the reactor serves anything."""
    cert_path = os.path.join(cert_dir, CERT_NAME)
    key_path = os.path.join(cert_dir, KEY_NAME)
    if _loads(cert_path, key_path):
        return cert_path, key_path
    os.makedirs(cert_dir, mode=0o755, exist_ok=True)
    cert_pem, key_pem = generate_self_signed(names)
    _write_atomic(key_path, key_pem, 0o600)
    _write_atomic(cert_path, cert_pem, 0o644)
    log.info("Generated self-signed cert ({cert}, {key})", cert=cert_path, key=key_path)
    return cert_path, key_path


def usable_cert_dir(requested: str, *, explicit: bool, fallback: str = "certs") -> str:
    """``requested`` when we can write there; otherwise, if the user did not choose it (the
    root-only upstream default), ``fallback`` with a log line saying so.  Raises OSError
    when an explicitly chosen directory is not writable."""
    try:
        os.makedirs(requested, exist_ok=True)
        if os.access(requested, os.W_OK | os.X_OK):
            return requested
        raise PermissionError(f"{requested} is not writable")
    except OSError:
        if explicit:
            raise
    path = os.path.abspath(fallback)
    os.makedirs(path, exist_ok=True)
    log.warn("--cert-dir {requested} is not writable; using {path} instead", requested=requested, path=path)
    return path


def cert_names(cert_path: str) -> list[str]:
    """The SANs of a PEM certificate, as strings (for logs and tests)."""
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(v) for v in san.get_values_for_type(x509.DNSName)] + \
           [str(v) for v in san.get_values_for_type(x509.IPAddress)]


@implementer(IOpenSSLContextFactory)
class ServerTLSContextFactory:
    """The secure listener's context: TLS >= 1.2, ALPN http/1.1, optional client certs."""

    def __init__(self, cert_file: str, key_file: str, client_ca_file: str | None = None,
                 alpn: Iterable[bytes] = ALPN_PROTOCOLS) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.client_ca_file = client_ca_file
        self.alpn = list(alpn)
        self._context = self._build()

    def _build(self) -> SSL.Context:
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE)
        ctx.use_certificate_chain_file(self.cert_file)
        ctx.use_privatekey_file(self.key_file)
        ctx.check_privatekey()
        ctx.set_session_id(b"kubeapi")
        protos = self.alpn

        def select(conn: SSL.Connection, offered: list[bytes]) -> Any:
            for p in protos:
                if p in offered:
                    return p
            return SSL.NO_OVERLAPPING_PROTOCOLS

        ctx.set_alpn_select_callback(select)
        if self.client_ca_file:
            ctx.load_verify_locations(self.client_ca_file)
            ctx.set_client_ca_list(_ca_names(self.client_ca_file))
            ctx.set_verify(SSL.VERIFY_PEER, _record_verification)
        return ctx

    def getContext(self) -> SSL.Context:
        return self._context


def _ca_names(path: str) -> list[crypto.X509Name]:
    with open(path, "rb") as f:
        data = f.read()
    names = []
    for cert in x509.load_pem_x509_certificates(data):
        names.append(crypto.X509.from_cryptography(cert).get_subject())
    return names


def _record_verification(conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int) -> bool:
    """Never fail the handshake; remember whether every link of the chain verified."""
    previous = getattr(conn, _VERIFIED_ATTR, True)
    setattr(conn, _VERIFIED_ATTR, bool(previous and ok))
    return True


def _tls_connection(transport: Any) -> SSL.Connection | None:
    """The OpenSSL connection under a request's transport (TLSMemoryBIOProtocol), if any."""
    seen = 0
    t = transport
    while t is not None and seen < 5:
        handle = getattr(t, "getHandle", None)
        if handle is not None:
            try:
                h = handle()
            except Exception:
                h = None
            if isinstance(h, SSL.Connection):
                return h
        t = getattr(t, "transport", None)
        seen += 1
    return None


def peer_certificate(transport: Any) -> x509.Certificate | None:
    """The client's leaf certificate as presented (verified or not)."""
    conn = _tls_connection(transport)
    if conn is None:
        return None
    cert = conn.get_peer_certificate()
    return cert.to_cryptography() if cert is not None else None


def verified_client_certificate(transport: Any) -> x509.Certificate | None:
    """The client's leaf certificate when it chains to --client-ca-file, else None.
    ``transport`` is ``request.transport`` (or ``request.channel.transport``)."""
    conn = _tls_connection(transport)
    if conn is None:
        return None
    cert = conn.get_peer_certificate()
    if cert is None or not getattr(conn, _VERIFIED_ATTR, False):
        return None
    leaf = cert.to_cryptography()
    now = datetime.datetime.now(datetime.UTC)
    if not (leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc):
        return None
    return leaf


def client_identity(cert: x509.Certificate) -> tuple[str, tuple[str, ...]]:
    """(user name, groups) from a client certificate: CN and O, as upstream maps them."""
    cn = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return (cn[0] if cn else ""), orgs

