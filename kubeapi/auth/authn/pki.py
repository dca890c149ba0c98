"""The first start's PKI, written to --cert-dir without openssl (as k3s does).

What is created when the flags do not name it, and reused on every later start:

    ca.crt / ca.key                          cluster CA (signs serving and client certificates)
    apiserver.crt / apiserver.key            serving certificate: advertise address, 127.0.0.1,
                                             localhost, kubernetes[.default[.svc[.cluster.local]]],
                                             the first service IP
    sa.key / sa.pub                          service-account token signing key pair (RSA 2048)
    admin.crt / admin.key                    CN=kubernetes-admin, O=system:masters
    kube-scheduler.{crt,key,kubeconfig}      CN=system:kube-scheduler
    kube-controller-manager.{crt,key,kubeconfig}  CN=system:kube-controller-manager
    admin.kubeconfig                         also written to --write-kubeconfig (default
                                             ``kubeconfig`` beside --data-dir)

Private keys and kubeconfigs are 0600, the directory 0700.  Leaf certificates are renewed
when they expire within 30 days, or (serving) when a needed name is missing.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.logger import Logger

log = Logger()

CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)

SERVICE_DNS_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                     "kubernetes.default.svc.cluster.local")

ADMIN: tuple[str, str, tuple[str, ...]] = ("admin", "kubernetes-admin", ("system:masters",))
COMPONENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("kube-scheduler", "system:kube-scheduler", ()),
    ("kube-controller-manager", "system:kube-controller-manager", ()),
)


def serving_names(advertise_address: str, service_ip: str, extra: Iterable[str] = ()) -> list[str]:
    """The serving certificate's SANs, as upstream's: loopback, the advertise address, the
    first service IP and the in-cluster names of the kubernetes Service."""
    names = ["localhost", "127.0.0.1", advertise_address, service_ip, *SERVICE_DNS_NAMES, *extra]
    return list(dict.fromkeys(n for n in names if n))


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


@dataclass
class PKI:
    """Paths of what the server uses; empty strings for what it was not asked to make."""

    cert_dir: str
    ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    sa_key_file: str = ""  # public
    sa_signing_key_file: str = ""
    admin_kubeconfig: str = ""
    kubeconfigs: dict[str, str] = field(default_factory=dict)  # component -> path


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def write_private(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write atomically with ``mode`` from the first byte (never briefly world-readable)."""
    directory = os.path.dirname(os.path.abspath(path))
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


def make_private_dir(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    try:
        if os.stat(path).st_uid == os.getuid():
            os.chmod(path, 0o700)
    except OSError:
        pass


def _key_pem(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
                     + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_usage(*, cert_sign: bool = False, encipher: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=encipher,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
                         crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def make_ca(cn: str = "kubeapi-ca") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    name = _name(f"{cn}@{int(now.timestamp())}")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue(ca: tuple[x509.Certificate, Any], cn: str, orgs: tuple[str, ...] = (), *,
          server_names: list[str] | None = None, days: int = LEAF_DAYS,
          not_before: datetime.datetime | None = None,
          not_after: datetime.datetime | None = None) -> tuple[x509.Certificate, Any]:
    """A leaf signed by ``ca``: a serving certificate when ``server_names`` is given, else
    a client certificate (user = CN, groups = O)."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    eku = ExtendedKeyUsageOID.SERVER_AUTH if server_names is not None else ExtendedKeyUsageOID.CLIENT_AUTH
    b = (x509.CertificateBuilder().subject_name(_name(cn, orgs)).issuer_name(ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before or now - datetime.timedelta(minutes=5))
         .not_valid_after(not_after or now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(_key_usage(encipher=True), critical=True)
         .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
                        critical=False))
    if server_names:
        sans: list[x509.GeneralName] = []
        for n in server_names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(ca_key, hashes.SHA256()), key


def _load_pair(cert_path: str, key_path: str) -> tuple[x509.Certificate, Any] | None:
    cert_pem, key_pem = _read(cert_path), _read(key_path)
    if cert_pem is None or key_pem is None:
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return None
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if (cert.public_key().public_bytes(serialization.Encoding.DER, pub)
            != key.public_key().public_bytes(serialization.Encoding.DER, pub)):
        return None
    return cert, key


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
        return True
    except Exception:
        return False


def _fresh(cert: x509.Certificate) -> bool:
    now = _now()
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - RENEW_BEFORE > now


def _sans(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in san.get_values_for_type(x509.DNSName)} | \
           {str(v) for v in san.get_values_for_type(x509.IPAddress)}


def ensure_ca(cert_dir: str) -> tuple[x509.Certificate, Any]:
    path_crt, path_key = os.path.join(cert_dir, "ca.crt"), os.path.join(cert_dir, "ca.key")
    pair = _load_pair(path_crt, path_key)
    if pair is not None and pair[0].not_valid_after_utc > _now():
        return pair
    cert, key = make_ca()
    write_private(path_key, _key_pem(key))
    write_private(path_crt, _cert_pem(cert), 0o644)
    log.info("Generated cluster CA {path}", path=path_crt)
    return cert, key


def ensure_leaf(cert_dir: str, base: str, ca: tuple[x509.Certificate, Any], cn: str,
                orgs: tuple[str, ...] = (), server_names: list[str] | None = None) -> tuple[str, str]:
    """``base.crt``/``base.key`` in cert_dir, reused while signed by ``ca``, fresh, and
    (serving) covering every name; else issued anew."""
    crt, key = os.path.join(cert_dir, base + ".crt"), os.path.join(cert_dir, base + ".key")
    pair = _load_pair(crt, key)
    if pair is not None and _signed_by(pair[0], ca[0]) and _fresh(pair[0]):
        if server_names is None or set(server_names) <= _sans(pair[0]):
            return crt, key
    cert, k = issue(ca, cn, orgs, server_names=server_names)
    write_private(key, _key_pem(k))
    write_private(crt, _cert_pem(cert), 0o644)
    return crt, key


def ensure_sa_keys(cert_dir: str) -> tuple[str, str]:
    """(public key file, private signing key file)."""
    priv, pub = os.path.join(cert_dir, "sa.key"), os.path.join(cert_dir, "sa.pub")
    data = _read(priv)
    key: Any = None
    if data is not None:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            key = None
    if key is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_private(priv, _key_pem(key))
        log.info("Generated service-account signing key {path}", path=priv)
    pub_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    if _read(pub) != pub_pem:
        write_private(pub, pub_pem, 0o644)
    return pub, priv


def kubeconfig(server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes, user: str,
               cluster: str = "kubeapi") -> bytes:
    """A self-contained kubeconfig (certificates inline) for one client identity."""
    import base64

    def enc(b: bytes) -> str:
        return base64.b64encode(b).decode("ascii")

    context = f"{user}@{cluster}"
    cluster_entry: dict[str, str] = {"server": server}
    if ca_pem:
        cluster_entry["certificate-authority-data"] = enc(ca_pem)
    doc = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": cluster, "cluster": cluster_entry}],
        "users": [{"name": user, "user": {"client-certificate-data": enc(cert_pem),
                                          "client-key-data": enc(key_pem)}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context,
    }
    return yaml.safe_dump(doc, sort_keys=False).encode("utf-8")


def _write_kubeconfig(path: str, server: str, ca_pem: bytes, crt: str, key: str, user: str) -> None:
    data = kubeconfig(server, ca_pem, _read(crt) or b"", _read(key) or b"", user)
    if _read(path) != data:
        write_private(path, data)


def server_url(bind_address: str, port: int) -> str:
    host = bind_address
    if host in ("0.0.0.0", "::") or host.startswith("127."):
        host = "127.0.0.1"
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def serving_ca_pem(tls_cert_file: str) -> bytes:
    """What clients should trust for a given --tls-cert-file: the chain's last certificate
    when it is self-signed (a CA or the certificate itself), else nothing (system roots)."""
    data = _read(tls_cert_file)
    try:
        chain = x509.load_pem_x509_certificates(data or b"")
    except ValueError:
        return b""
    if chain and chain[-1].issuer == chain[-1].subject:
        return _cert_pem(chain[-1])
    return b""


def bootstrap(cert_dir: str, *, serving_names: list[str] | None, make_clients: bool,
              make_sa_keys: bool, server: str, admin_kubeconfig: str, tls_cert_file: str = "") -> PKI:
    """Create (or reuse) the pieces the flags left to us; see the module docstring.
    ``serving_names`` None: a --tls-cert-file was given.  Runs once before listening."""
    make_private_dir(cert_dir)
    pki = PKI(cert_dir=cert_dir)
    if serving_names is None and not make_clients and not make_sa_keys:
        return pki
    ca = ensure_ca(cert_dir) if (serving_names is not None or make_clients) else None
    if ca is not None:
        pki.ca_file = os.path.join(cert_dir, "ca.crt")
    if serving_names is not None and ca is not None:
        pki.tls_cert_file, pki.tls_key_file = ensure_leaf(cert_dir, "apiserver", ca, "kube-apiserver",
                                                          server_names=serving_names)
    if make_sa_keys:
        pki.sa_key_file, pki.sa_signing_key_file = ensure_sa_keys(cert_dir)
    if make_clients and ca is not None:
        trust = (_read(pki.ca_file) or b"") if serving_names is not None else serving_ca_pem(tls_cert_file)
        base, cn, orgs = ADMIN
        crt, key = ensure_leaf(cert_dir, base, ca, cn, orgs)
        _write_kubeconfig(os.path.join(cert_dir, "admin.kubeconfig"), server, trust, crt, key, cn)
        if admin_kubeconfig:
            parent = os.path.dirname(os.path.abspath(admin_kubeconfig))
            os.makedirs(parent, exist_ok=True)
            _write_kubeconfig(admin_kubeconfig, server, trust, crt, key, cn)
            pki.admin_kubeconfig = admin_kubeconfig
        for base, cn, orgs in COMPONENTS:
            crt, key = ensure_leaf(cert_dir, base, ca, cn, orgs)
            path = os.path.join(cert_dir, base + ".kubeconfig")
            _write_kubeconfig(path, server, trust, crt, key, cn)
            pki.kubeconfigs[base] = path
    return pki


def same_ca(cert_dir: str, client_ca_file: str) -> bool:
    """True when --client-ca-file is our own cluster CA (so we can still sign clients)."""
    ours, given = _read(os.path.join(cert_dir, "ca.crt")), _read(client_ca_file)
    if ours is None or given is None or _read(os.path.join(cert_dir, "ca.key")) is None:
        return False
    try:
        return bool(x509.load_pem_x509_certificate(ours) in x509.load_pem_x509_certificates(given))
    except ValueError:
        return False


__all__ = ["PKI", "bootstrap", "issue", "make_ca", "kubeconfig", "server_url"]
