"""Outgoing TLS to the servers we call back: webhooks (authn, authz, audit, admission,
conversion), named by a kubeconfig file or by a caBundle.

Upstream reads a webhook kubeconfig's current context, else its only cluster and user; the
cluster's certificate authority (file or ``-data``) is trusted, the user's client certificate
or bearer token is presented.  Relative file names are relative to the kubeconfig.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

import yaml
from twisted.internet import ssl
from twisted.web.client import BrowserLikePolicyForHTTPS
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

Obj = dict[str, Any]


class KubeconfigError(ValueError):
    """The file cannot be read or names no server; the message says which."""


@dataclass(frozen=True)
class Target:
    """Where to send and how: the cluster's server and trust, the user's credentials."""

    server: str
    ca_pem: bytes | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    token: str = ""
    insecure: bool = False
    server_name: str | None = None

    def policy(self) -> TLSPolicy:
        return TLSPolicy(self)


def _data(entry: Obj, key: str, base: str) -> bytes | None:
    """``key-data`` (base64) or the file ``key`` names."""
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    path = entry.get(key)
    if path:
        with open(path if os.path.isabs(path) else os.path.join(base, path), "rb") as f:
            return f.read()
    return None


def _pick(items: Any, name: str | None, what: str) -> Obj:
    """The entry called ``name`` (the first one when no context names it)."""
    entries = [it for it in items or [] if isinstance(it, dict)]
    for it in entries:
        if name is None or it.get("name") == name:
            return dict(it.get(what) or {})
    if name is None or not entries:
        return {}
    raise KubeconfigError(f"no {what} {name!r}")


def load(path: str) -> Target:
    """The target of the kubeconfig at ``path``; KubeconfigError says what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise KubeconfigError(f"cannot read {path}: {e}") from None
    if not isinstance(doc, dict):
        raise KubeconfigError(f"{path}: not a kubeconfig")
    base = os.path.dirname(os.path.abspath(path))
    ctx_name = doc.get("current-context") or None
    context = _pick(doc.get("contexts"), ctx_name, "context")
    cluster = _pick(doc.get("clusters"), context.get("cluster"), "cluster")
    user = _pick(doc.get("users"), context.get("user"), "user")
    if not cluster.get("server"):
        raise KubeconfigError(f"{path}: no cluster server (the webhook URL)")
    try:
        return Target(str(cluster["server"]), _data(cluster, "certificate-authority", base),
                      _data(user, "client-certificate", base), _data(user, "client-key", base),
                      str(user.get("token") or ""), bool(cluster.get("insecure-skip-tls-verify")),
                      cluster.get("tls-server-name") or None)
    except OSError as e:
        raise KubeconfigError(f"{path}: {e}") from None


def split_pem(data: bytes) -> list[bytes]:
    """The certificates of a PEM bundle."""
    out, end = [], b"-----END CERTIFICATE-----"
    for part in data.split(end):
        if b"-----BEGIN CERTIFICATE-----" in part:
            out.append(part.strip() + b"\n" + end + b"\n")
    return out


@implementer(IPolicyForHTTPS)
class TLSPolicy:
    """TLS with the target's CA bundle (else the platform's trust) and client certificate."""

    def __init__(self, target: Target) -> None:
        self.insecure = target.insecure
        self.server_name = target.server_name
        certs = split_pem(target.ca_pem) if target.ca_pem else []
        self.trust: Any = ssl.trustRootFromCertificates([ssl.Certificate.loadPEM(c) for c in certs]) \
            if certs else None
        self.client = ssl.PrivateCertificate.loadPEM(target.cert_pem + b"\n" + target.key_pem) \
            if target.cert_pem and target.key_pem else None

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        if self.insecure:
            return ssl.CertificateOptions(
                verify=False, privateKey=self.client.privateKey.original if self.client else None,
                certificate=self.client.original if self.client else None)
        name = self.server_name or hostname.decode("ascii")
        if self.trust is None and self.client is None:
            return BrowserLikePolicyForHTTPS().creatorForNetloc(name.encode("ascii"), port)
        kw: Obj = {}
        if self.trust is not None:
            kw["trustRoot"] = self.trust
        if self.client is not None:
            kw["clientCertificate"] = self.client
        return ssl.optionsForClientTLS(name, **kw)


def ca_bundle_policy(ca_pem: bytes | None, server_name: str | None = None) -> TLSPolicy:
    """TLS for a webhook ``clientConfig``: its caBundle (else the platform's trust)."""
    return TLSPolicy(Target("", ca_pem=ca_pem or None, server_name=server_name))
