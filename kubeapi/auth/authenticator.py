"""Authentication: who sent the request.

Order as upstream's union: TLS client certificate (verified against the client CA),
then bearer tokens through the pluggable token authenticators, then anonymous if
enabled.  A presented token that no configured authenticator accepts is a 401 even when
anonymous access is on (upstream's fail-on-error union); with no token authenticators at
all, tokens are not looked at.
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
from kubeapi.errors import StatusError, unauthorized

log = logging.getLogger(__name__)

AUTHENTICATED = "system:authenticated"


class TokenAuthenticator(Protocol):
    async def authenticate_token(self, token: str) -> UserInfo | None:
        """The user for this token, or None if it is not one of ours."""
        ...


def load_ca_bundle(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def verify_client_cert(cert: x509.Certificate, roots: Sequence[x509.Certificate],
                       intermediates: Sequence[x509.Certificate] = ()) -> bool:
    """True when ``cert`` chains (directly or through intermediates) to a root, every link
    is in its validity window, and the leaf may be used for client auth."""
    now = _now()
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            return False
    except x509.ExtensionNotFound:
        pass
    current = cert
    pool = list(intermediates)
    for _depth in range(8):
        if not (current.not_valid_before_utc <= now <= current.not_valid_after_utc):
            return False
        for root in roots:
            if root.subject == current.issuer and _issued_by(current, root):
                return root.not_valid_before_utc <= now <= root.not_valid_after_utc
        parent = next((c for c in pool if c.subject == current.issuer and _issued_by(current, c)), None)
        if parent is None:
            return False
        pool.remove(parent)
        current = parent
    return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:
        return False


def user_from_cert(cert: x509.Certificate) -> UserInfo | None:
    """CN is the user name, each O a group (upstream's CommonNameUserConversion)."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cns:
        return None
    groups = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return UserInfo(str(cns[0].value), groups=groups)


def with_authenticated_group(user: UserInfo) -> UserInfo:
    if AUTHENTICATED in user.groups or user.name == ANONYMOUS.name:
        return user
    return replace(user, groups=tuple(user.groups) + (AUTHENTICATED,))


@dataclass
class RequestAuthenticator:
    """Everything authentication needs, configured once per server."""

    client_ca: list[x509.Certificate] = field(default_factory=list)
    tokens: list[TokenAuthenticator] = field(default_factory=list)
    anonymous: bool = True

    async def authenticate(self, peer_chain: Sequence[x509.Certificate],
                           authorization_header: str | None,
                           verified_leaf: x509.Certificate | None = None) -> UserInfo:
        """``verified_leaf``: a client certificate the TLS layer already verified against the
        client CA (kubeapi.server.certs); otherwise ``peer_chain`` is checked here."""
        if verified_leaf is not None:
            user = user_from_cert(verified_leaf)
            if user is not None:
                return with_authenticated_group(user)
        elif peer_chain and self.client_ca:
            leaf, rest = peer_chain[0], peer_chain[1:]
            if verify_client_cert(leaf, self.client_ca, rest):
                user = user_from_cert(leaf)
                if user is not None:
                    return with_authenticated_group(user)
            else:
                log.info("client certificate %s did not verify against the client CA", leaf.subject)
        token = bearer_token(authorization_header)
        # With no token authenticator configured nobody examines the token, so the request
        # falls through to anonymous (upstream builds no bearer-token authenticator then).
        if token is not None and self.tokens:
            for auth in self.tokens:
                try:
                    user = await auth.authenticate_token(token)
                except StatusError:
                    raise
                except Exception:
                    log.exception("token authenticator %r failed", auth)
                    continue
                if user is not None:
                    return with_authenticated_group(user)
            raise unauthorized()
        if self.anonymous:
            return ANONYMOUS
        raise unauthorized()


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value or None


def peer_certificates(request: Any) -> list[x509.Certificate]:
    """The TLS peer's certificate chain (leaf first), from HTTP/1.1 or HTTP/2 channels."""
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
