"""--authentication-token-webhook-config-file: ask a remote service about bearer tokens.

The file is a kubeconfig (the cluster is the webhook, the user our client credentials);
a TokenReview is POSTed with treq and the answer, positive or negative, is cached for
--authentication-token-webhook-cache-ttl.  An unreachable webhook is an error (401), not
cached."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from kubeapi import kubeconfig
from kubeapi.auth.authenticator import TokenError
from kubeapi.auth.user import UserInfo

log = logging.getLogger(__name__)


class WebhookConfig:
    """The webhook's kubeconfig: its URL, bearer token and TLS policy."""

    def __init__(self, path: str) -> None:
        target = kubeconfig.load(path)
        self.url = target.server
        self.token = target.token
        self.policy = target.policy()


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
