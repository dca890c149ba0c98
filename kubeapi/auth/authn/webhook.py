"""--authentication-token-webhook-config-file: ask a remote service about bearer tokens.

The file is a kubeconfig (the cluster is the webhook, the user our client credentials);
a TokenReview is POSTed with treq and the answer, positive or negative, is cached for
--authentication-token-webhook-cache-ttl.  An unreachable webhook is an error (401), not
cached."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
import yaml
from twisted.internet import ssl
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from kubeapi.auth.authenticator import TokenError
from kubeapi.auth.user import UserInfo

log = logging.getLogger(__name__)


def _bytes(entry: dict[str, Any], data_key: str, file_key: str, base: str) -> bytes | None:
    if entry.get(data_key):
        return base64.b64decode(entry[data_key])
    path = entry.get(file_key)
    if path:
        import os

        with open(path if os.path.isabs(path) else os.path.join(base, path), "rb") as f:
            return f.read()
    return None


@implementer(IPolicyForHTTPS)
class _Policy:
    def __init__(self, ca: bytes | None, cert: bytes | None, key: bytes | None, insecure: bool) -> None:
        self.trust = ssl.trustRootFromCertificates(
            [ssl.Certificate.loadPEM(c) for c in _split_pem(ca)]) if ca else None
        self.client = ssl.PrivateCertificate.loadPEM(cert + b"\n" + key) if cert and key else None
        self.insecure = insecure

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        if self.insecure:
            return ssl.CertificateOptions(verify=False, privateKey=self.client.privateKey.original if self.client
                                          else None, certificate=self.client.original if self.client else None)
        kwargs: dict[str, Any] = {}
        if self.trust is not None:
            kwargs["trustRoot"] = self.trust
        if self.client is not None:
            kwargs["clientCertificate"] = self.client
        return ssl.optionsForClientTLS(hostname.decode("ascii"), **kwargs)


def _split_pem(data: bytes) -> list[bytes]:
    out, marker = [], b"-----END CERTIFICATE-----"
    for part in data.split(marker):
        if b"-----BEGIN CERTIFICATE-----" in part:
            out.append(part.strip() + b"\n" + marker + b"\n")
    return out


class WebhookConfig:
    def __init__(self, path: str) -> None:
        import os

        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
        base = os.path.dirname(os.path.abspath(path))
        ctx_name = doc.get("current-context")
        contexts = {c["name"]: c.get("context") or {} for c in doc.get("contexts") or []}
        clusters = {c["name"]: c.get("cluster") or {} for c in doc.get("clusters") or []}
        users = {u["name"]: u.get("user") or {} for u in doc.get("users") or []}
        ctx = contexts.get(ctx_name) if ctx_name else next(iter(contexts.values()), {})
        cluster = clusters.get((ctx or {}).get("cluster", ""), next(iter(clusters.values()), {}))
        user = users.get((ctx or {}).get("user", ""), next(iter(users.values()), {}) if users else {})
        if not cluster.get("server"):
            raise ValueError(f"{path}: no cluster server (the webhook URL)")
        self.url = cluster["server"]
        self.token = user.get("token", "")
        self.policy = _Policy(_bytes(cluster, "certificate-authority-data", "certificate-authority", base),
                              _bytes(user, "client-certificate-data", "client-certificate", base),
                              _bytes(user, "client-key-data", "client-key", base),
                              bool(cluster.get("insecure-skip-tls-verify")))


class WebhookTokens:
    audience_aware = True

    def __init__(self, config: WebhookConfig, *, version: str = "v1beta1", cache_ttl: float = 120.0,
                 api_audiences: Sequence[str] = (), reactor: Any = None, clock: Any = time.monotonic) -> None:
        self.config = config
        self.version = version
        self.cache_ttl = cache_ttl
        self.api_audiences = list(api_audiences)
        self.clock = clock
        self._cache: dict[bytes, tuple[float, UserInfo | None]] = {}
        self._reactor = reactor
        self._agent: Any = None

    def _get_agent(self) -> Any:
        if self._agent is None:
            from twisted.web.client import Agent, HTTPConnectionPool

            reactor = self._reactor
            if reactor is None:
                from twisted.internet import reactor as default_reactor

                reactor = default_reactor
            pool = HTTPConnectionPool(reactor, persistent=True)
            if urlsplit(self.config.url).scheme == "https":
                self._agent = Agent(reactor, contextFactory=self.config.policy, pool=pool, connectTimeout=10)
            else:
                self._agent = Agent(reactor, pool=pool, connectTimeout=10)
        return self._agent

    async def authenticate_token(self, token: str, audiences: Sequence[str] | None = None) -> UserInfo | None:
        auds = list(audiences) if audiences else self.api_audiences
        key = hashlib.sha256(token.encode() + b"\0" + "\0".join(auds).encode()).digest()
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        user = await self._ask(token, auds)
        if len(self._cache) > 4096:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[key] = (now + self.cache_ttl, user)
        return user

    async def _ask(self, token: str, audiences: list[str]) -> UserInfo | None:
        import treq

        spec: dict[str, Any] = {"token": token}
        if audiences:
            spec["audiences"] = audiences
        review = {"apiVersion": f"authentication.k8s.io/{self.version}", "kind": "TokenReview", "spec": spec}
        headers: dict[bytes | str, list[bytes | str]] = {"Content-Type": ["application/json"], "Accept": ["application/json"]}
        if self.config.token:
            headers["Authorization"] = [f"Bearer {self.config.token}"]
        try:
            resp = await treq.post(self.config.url, data=orjson.dumps(review), headers=headers,
                                   agent=self._get_agent(), timeout=30)
            body = await resp.content()
        except Exception as e:
            raise TokenError(f"token webhook failed: {e}") from None
        if resp.code != 200 and resp.code != 201:
            raise TokenError(f"token webhook answered {resp.code}")
        try:
            status = (orjson.loads(body) or {}).get("status") or {}
        except orjson.JSONDecodeError:
            raise TokenError("token webhook answered a body that is not JSON") from None
        if not status.get("authenticated"):
            return None
        u = status.get("user") or {}
        extra = {k: tuple(v) for k, v in (u.get("extra") or {}).items()}
        return UserInfo(u.get("username", ""), uid=u.get("uid", ""), groups=tuple(u.get("groups") or ()),
                        extra=extra)
