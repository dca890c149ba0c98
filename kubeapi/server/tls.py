"""The secure listener's TLS, with kube-apiserver's flags and policy.

``--tls-min-version`` (VersionTLS12 default, VersionTLS13), ``--tls-cipher-suites`` with Go's
suite names (default: Go's secure defaults — ECDHE key exchange with AEAD ciphers only, so no
TLS < 1.2, no static-RSA, no CBC), SNI certificates (``--tls-sni-cert-key``), ALPN http/1.1,
and client certificates requested (never required) with the client CA names advertised.
The client chain is verified by the authenticators, not by the handshake: a bad client
certificate is a 401, as upstream answers, rather than a failed handshake.

Certificates, keys and CA bundles are re-read when their files change (``check_reload``,
called periodically by the service): new connections get the new context at once.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto
from twisted.internet.interfaces import IOpenSSLContextFactory, IOpenSSLServerConnectionCreator
from twisted.logger import Logger
from zope.interface import implementer

log = Logger()

ALPN_PROTOCOLS = (b"http/1.1",)

# Go's crypto/tls names -> OpenSSL names.  TLS 1.3 suites are not configurable in Go either:
# the names are accepted and TLS 1.3 always uses its AEAD suites.
GO_CIPHER_SUITES: dict[str, str] = {
    "TLS_RSA_WITH_RC4_128_SHA": "RC4-SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": "ECDHE-ECDSA-RC4-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": "ECDHE-RSA-RC4-SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": "ECDHE-RSA-DES-CBC3-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": "",
    "TLS_AES_256_GCM_SHA384": "",
    "TLS_CHACHA20_POLY1305_SHA256": "",
}

DEFAULT_CIPHER_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
)

TLS_VERSIONS = {"VersionTLS12": SSL.TLS1_2_VERSION, "VersionTLS13": SSL.TLS1_3_VERSION}


def parse_cipher_suites(names: Iterable[str]) -> list[str]:
    """Go suite names, checked; a ValueError names the first unknown one."""
    out = []
    for n in names:
        n = n.strip()
        if not n:
            continue
        if n not in GO_CIPHER_SUITES:
            raise ValueError(f"Cipher suite {n} not supported or doesn't exist")
        out.append(n)
    return out


def parse_min_version(name: str) -> int:
    if name not in TLS_VERSIONS:
        raise ValueError(f"unknown tls version {name!r} (supported: {', '.join(TLS_VERSIONS)})")
    return TLS_VERSIONS[name]


@dataclass(frozen=True)
class SNICert:
    cert_file: str
    key_file: str
    names: tuple[str, ...] = ()  # empty: the certificate's own DNS names / CN


def parse_sni(value: str) -> SNICert:
    """``cert,key[:name1,name2]`` as --tls-sni-cert-key takes it."""
    files, _, names = value.partition(":")
    parts = [p.strip() for p in files.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"expected comma separated certificate and key file paths in {value!r}")
    return SNICert(parts[0], parts[1], tuple(n.strip() for n in names.split(",") if n.strip()))


def _cert_names(path: str) -> tuple[str, ...]:
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        names += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    if not names:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return tuple(n.lower() for n in names)


def _ca_names(paths: Sequence[str]) -> list[crypto.X509Name]:
    out = []
    for p in paths:
        with open(p, "rb") as f:
            for cert in x509.load_pem_x509_certificates(f.read()):
                out.append(crypto.X509.from_cryptography(cert).get_subject())
    return out


def _accept_any(conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int) -> bool:
    return True  # the authenticators verify the chain against the CA of their own


@implementer(IOpenSSLServerConnectionCreator, IOpenSSLContextFactory)
class ServingTLS:
    """Connection creator for the secure port; see the module docstring."""

    def __init__(self, cert_file: str, key_file: str, *, client_ca_files: Sequence[str] = (),
                 min_version: str = "VersionTLS12", cipher_suites: Sequence[str] = (),
                 sni: Sequence[SNICert] = (), alpn: Iterable[bytes] = ALPN_PROTOCOLS) -> None:
        self.cert_file, self.key_file = cert_file, key_file
        self.client_ca_files = [p for p in client_ca_files if p]
        self.min_version = parse_min_version(min_version)
        suites = parse_cipher_suites(cipher_suites) or list(DEFAULT_CIPHER_SUITES)
        self.cipher_list = ":".join(GO_CIPHER_SUITES[s] for s in suites if GO_CIPHER_SUITES[s])
        self.sni = list(sni)
        self.alpn = list(alpn)
        self._stamp = self._stat()
        self._context, self._sni_contexts = self._build_all()

    # -- building -------------------------------------------------------------------------

    def _files(self) -> list[str]:
        files = [self.cert_file, self.key_file, *self.client_ca_files]
        for s in self.sni:
            files += [s.cert_file, s.key_file]
        return files

    def _stat(self) -> tuple[tuple[float, int], ...]:
        out = []
        for p in self._files():
            try:
                st = os.stat(p)
                out.append((st.st_mtime, st.st_size))
            except OSError:
                out.append((0.0, -1))
        return tuple(out)

    def _build(self, cert_file: str, key_file: str, ca_names: list[crypto.X509Name]) -> SSL.Context:
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(self.min_version)
        ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE | SSL.OP_NO_RENEGOTIATION)
        if self.cipher_list:
            ctx.set_cipher_list(self.cipher_list.encode("ascii"))
        elif self.min_version < SSL.TLS1_3_VERSION:
            raise ValueError("--tls-cipher-suites leaves no TLS 1.2 suite; use --tls-min-version=VersionTLS13")
        ctx.use_certificate_chain_file(cert_file)
        ctx.use_privatekey_file(key_file)
        ctx.check_privatekey()
        ctx.set_session_id(b"kubeapi")
        protos = self.alpn

        def select(conn: SSL.Connection, offered: list[bytes]) -> Any:
            for p in protos:
                if p in offered:
                    return p
            return SSL.NO_OVERLAPPING_PROTOCOLS

        ctx.set_alpn_select_callback(select)
        if ca_names:
            ctx.set_client_ca_list(ca_names)
            ctx.set_verify(SSL.VERIFY_PEER, _accept_any)
        return ctx

    def _build_all(self) -> tuple[SSL.Context, list[tuple[tuple[str, ...], SSL.Context]]]:
        ca_names = _ca_names(self.client_ca_files)
        main = self._build(self.cert_file, self.key_file, ca_names)
        sni = [(s.names or _cert_names(s.cert_file), self._build(s.cert_file, s.key_file, ca_names))
               for s in self.sni]
        if sni:
            main.set_tlsext_servername_callback(self._pick)
        return main, sni

    def _pick(self, conn: SSL.Connection) -> None:
        raw = conn.get_servername()
        if not raw:
            return
        name = raw.decode("ascii", "replace").lower().rstrip(".")
        for names, ctx in self._sni_contexts:  # exact names first, then wildcards
            if name in names:
                conn.set_context(ctx)
                return
        for names, ctx in self._sni_contexts:
            if any(n.startswith("*.") and fnmatch.fnmatch(name, n) and name.count(".") == n.count(".")
                   for n in names):
                conn.set_context(ctx)
                return

    # -- reloading ------------------------------------------------------------------------

    def check_reload(self) -> bool:
        """Rebuild when a file changed; keep serving the old context if the new files do
        not load (e.g. the key is written after the certificate).  True when reloaded."""
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        try:
            ctx, sni = self._build_all()
        except Exception as e:
            log.warn("TLS files changed but do not load yet ({err}); keeping the previous ones", err=e)
            return False
        self._context, self._sni_contexts, self._stamp = ctx, sni, stamp
        log.info("Reloaded serving certificate {cert} and client CA bundles", cert=self.cert_file)
        return True

    # -- twisted --------------------------------------------------------------------------

    def serverConnectionForTLS(self, protocol: Any) -> SSL.Connection:
        return SSL.Connection(self._context, None)

    def getContext(self) -> SSL.Context:
        return self._context
