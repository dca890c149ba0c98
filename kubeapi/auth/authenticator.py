"""Authentication: who sent the request — upstream's union, first that answers wins.

Order as kube-apiserver builds it: request header (front proxy), x509 client certificate,
then bearer tokens through the token authenticators (token file, service accounts,
bootstrap tokens, webhook).  Each authenticator says "this is user U", "not mine", or
"these are bad credentials".  Any bad credential with no success is a 401 — never a fall
back to anonymous; only a request that carries no credentials at all becomes
``system:anonymous`` (when --anonymous-auth).  A bearer token that no token authenticator
accepts is bad; with no token authenticators configured, tokens are not looked at.
Every authenticated user is also in ``system:authenticated``.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubeapi.auth.user import ANONYMOUS, UserInfo
from kubeapi.errors import unauthorized

log = logging.getLogger(__name__)

AUTHENTICATED = "system:authenticated"


class TokenError(Exception):
    """The token is one of ours but not valid (expired, revoked, its object is gone)."""


class TokenAuthenticator(Protocol):
    async def authenticate_token(self, token: str) -> UserInfo | None:
        """The user for this token, None if it is not one of ours; raise TokenError when it
        is ours and invalid."""
        ...


class CertificateSource(Protocol):
    def certs(self) -> list[x509.Certificate]: ...


def load_ca_bundle(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def verify_client_cert(cert: x509.Certificate, roots: Sequence[x509.Certificate],
                       intermediates: Sequence[x509.Certificate] = ()) -> bool:
    """True when ``cert`` chains (directly or through intermediates) to a root, every link
    is in its validity window, and the leaf may be used for client auth."""
    return chain_error(cert, roots, intermediates) is None


def chain_error(cert: x509.Certificate, roots: Sequence[x509.Certificate],
                intermediates: Sequence[x509.Certificate] = ()) -> str | None:
    """None when the chain verifies, else why not (in Go's x509 words)."""
    now = _now()
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            return "x509: certificate specifies an incompatible key usage"
    except x509.ExtensionNotFound:
        pass
    current = cert
    pool = list(intermediates)
    for _depth in range(8):
        if not (current.not_valid_before_utc <= now <= current.not_valid_after_utc):
            return "x509: certificate has expired or is not yet valid"
        for root in roots:
            if root.subject == current.issuer and _issued_by(current, root):
                if root.not_valid_before_utc <= now <= root.not_valid_after_utc:
                    return None
                return "x509: certificate has expired or is not yet valid"
        if any(current == r for r in roots):
            return None
        parent = next((c for c in pool if c.subject == current.issuer and _issued_by(current, c)), None)
        if parent is None:
            return "x509: certificate signed by unknown authority"
        pool.remove(parent)
        current = parent
    return "x509: too many intermediates"


_VERIFIED: dict[tuple[bytes, tuple[int, ...]], tuple[float, str | None]] = {}
_CACHE_SECONDS = 60.0


def cached_chain_error(cert: x509.Certificate, roots: Sequence[x509.Certificate],
                       intermediates: Sequence[x509.Certificate] = ()) -> str | None:
    """chain_error, remembered for a minute per (certificate, CA bundle): a keep-alive client
    presents the same certificate on every request.  A reloaded bundle is a new list, so a
    new key; a result is never kept past the leaf's expiry."""
    import time

    key = (cert.signature + b"".join(c.signature for c in intermediates), tuple(id(r) for r in roots))
    now = time.time()
    hit = _VERIFIED.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    err = chain_error(cert, roots, intermediates)
    if len(_VERIFIED) > 2048:
        _VERIFIED.clear()
    _VERIFIED[key] = (min(now + _CACHE_SECONDS, cert.not_valid_after_utc.timestamp()), err)
    return err


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:
        return False


def common_name(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else ""


def user_from_cert(cert: x509.Certificate) -> UserInfo | None:
    """CN is the user name, each O a group (upstream's CommonNameUserConversion)."""
    cn = common_name(cert)
    if not cn:
        return None
    groups = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return UserInfo(cn, groups=groups)


_grouped: dict[int, tuple[UserInfo, UserInfo]] = {}  # id(user) -> (user, user with the group)
GROUPED_CACHE_SIZE = 1024


def with_authenticated_group(user: UserInfo) -> UserInfo:
    if AUTHENTICATED in user.groups or user.name == ANONYMOUS.name:
        return user
    # Token authenticators hand back the same UserInfo for the same token; its copy with the
    # group is made once (the entry holds ``user``, so its id cannot be reused meanwhile).
    known = _grouped.get(id(user))
    if known is not None and known[0] is user:
        return known[1]
    grouped = replace(user, groups=tuple(user.groups) + (AUTHENTICATED,))
    if len(_grouped) >= GROUPED_CACHE_SIZE:
        _grouped.clear()
    _grouped[id(user)] = (user, grouped)
    return grouped


class _Fixed:
    def __init__(self, certs: list[x509.Certificate]) -> None:
        self._certs = certs

    def certs(self) -> list[x509.Certificate]:
        return self._certs


def _source(ca: Any) -> CertificateSource | None:
    if ca is None:
        return None
    if isinstance(ca, list):
        return _Fixed(ca) if ca else None
    return ca  # type: ignore[no-any-return]


class RequestAuthenticatorPart(Protocol):
    """A request-level authenticator (the request header one): user, None, or raise TokenError."""

    def authenticate(self, chain: Sequence[x509.Certificate], request: Any) -> UserInfo | None: ...


@dataclass
class RequestAuthenticator:
    """Everything authentication needs, configured once per server.  ``client_ca`` is a
    list of certificates or a reloading CABundle."""

    client_ca: Any = field(default_factory=list)
    tokens: list[TokenAuthenticator] = field(default_factory=list)
    anonymous: bool = True
    request_header: RequestAuthenticatorPart | None = None

    async def authenticate_request(self, request: Any) -> UserInfo:
        chain = peer_certificates(request)
        errors: list[str] = []
        if self.request_header is not None and chain:
            try:
                user = self.request_header.authenticate(chain, request)
            except TokenError as e:
                errors.append(str(e))
                user = None
            if user is not None:
                return with_authenticated_group(user)
        ca = _source(self.client_ca)
        if chain and ca is not None:
            err = cached_chain_error(chain[0], ca.certs(), chain[1:])
            if err is None:
                user = user_from_cert(chain[0])
                if user is not None:
                    return with_authenticated_group(user)
            else:
                errors.append(f"verifying certificate {chain[0].subject.rfc4514_string()} failed: {err}")
        token = bearer_token(_header(request, "authorization"))
        # With no token authenticator configured nobody examines the token (upstream builds no
        # bearer-token authenticator then).
        if token is not None and self.tokens:
            user, token_errors = await self.authenticate_token(token)
            if user is not None:
                return user
            errors.append("invalid bearer token")
            errors.extend(token_errors)
        if errors:
            log.info("unable to authenticate the request: %s", "; ".join(errors))
            raise unauthorized()
        if self.anonymous:
            return ANONYMOUS
        raise unauthorized()

    async def authenticate_token(self, token: str, audiences: Sequence[str] | None = None,
                                 ) -> tuple[UserInfo | None, list[str]]:
        """The token authenticators' union (also what TokenReview asks): (user, errors)."""
        errors: list[str] = []
        for auth in self.tokens:
            try:
                if audiences is not None and getattr(auth, "audience_aware", False):
                    user = await auth.authenticate_token(token, audiences=audiences)  # type: ignore[call-arg]
                else:
                    user = await auth.authenticate_token(token)
            except TokenError as e:
                errors.append(str(e))
                continue
            except Exception:
                log.exception("token authenticator %r failed", auth)
                errors.append("token authenticator failed")
                continue
            if user is not None:
                return with_authenticated_group(user), []
        return None, errors


def _header(request: Any, name: str) -> str | None:
    raw = request.getHeader(name)
    return raw.decode("latin-1") if isinstance(raw, bytes) else raw


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value or None


def peer_certificates(request: Any) -> list[x509.Certificate]:
    """The TLS peer's certificate chain (leaf first), from HTTP/1.1 or HTTP/2 channels;
    read once per connection (our TLS contexts refuse renegotiation, so it cannot change)."""
    channel = getattr(request, "channel", None)
    known = getattr(channel, "_kubeapi_peer_chain", None)
    if known is not None:
        return list(known)
    chain = _read_peer_certificates(request)
    if channel is not None and getattr(channel, "transport", None) is not None:
        try:
            channel._kubeapi_peer_chain = tuple(chain)
        except AttributeError:  # a channel that takes no new attributes: read it each time
            pass
    return chain


def _read_peer_certificates(request: Any) -> list[x509.Certificate]:
    transports = []
    channel = getattr(request, "channel", None)
    for t in (getattr(channel, "transport", None), getattr(getattr(channel, "_conn", None), "transport", None),
              getattr(request, "transport", None)):
        if t is not None:
            transports.append(t)
    for t in transports:
        conn = getattr(t, "_tlsConnection", None)
        if conn is None:
            get = getattr(t, "getPeerCertificate", None)
            if get is None:
                continue
            try:
                leaf = get()
            except Exception:
                continue
            if leaf is None:
                continue
            return [leaf.to_cryptography()]
        try:
            chain = conn.get_peer_cert_chain() or []
            leaf = conn.get_peer_certificate()
        except Exception:
            continue
        if leaf is None:
            continue
        out = [leaf.to_cryptography()]
        out += [c.to_cryptography() for c in chain if c.to_cryptography() != out[0]]
        return out
    return []
