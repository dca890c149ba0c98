"""The Webhook authorizer (``--authorization-mode=Webhook``): each decision is a
SubjectAccessReview POSTed (with treq) to the service named by the kubeconfig in
``--authorization-webhook-config-file``; answers are cached for
``--authorization-webhook-cache-authorized-ttl`` (allowed) and ``-unauthorized-ttl`` (others).

``status.allowed`` → ALLOW, ``status.denied`` → DENY (the chain stops), else NO_OPINION.
A webhook that cannot be reached raises, which the chain turns into a 500 unless a later
authorizer allows the request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import treq
from twisted.web.client import Agent

from kubeapi import kubeconfig
from kubeapi.auth.authorizer import AUTHORIZER_FACTORIES, Attributes, Decision

Obj = dict[str, Any]
TIMEOUT = 30.0


class WebhookClient:
    """POSTs a review object to the kubeconfig's server and returns the decoded reply."""

    def __init__(self, kubeconfig_path: str, reactor: Any) -> None:
        target = kubeconfig.load(kubeconfig_path)
        self.url = target.server
        self.token = target.token
        self.agent = Agent(reactor, contextFactory=target.policy())
        self.reactor = reactor

    async def post(self, body: Obj) -> Obj:
        headers: dict[bytes | str, list[bytes | str]] = {"Content-Type": ["application/json"],
                                                         "Accept": ["application/json"]}
        if self.token:
            headers["Authorization"] = [f"Bearer {self.token}"]
        try:
            resp = await treq.post(self.url, data=orjson.dumps(body), headers=headers,
                                   agent=self.agent,  # type: ignore[arg-type]
                                   timeout=TIMEOUT, reactor=self.reactor)
        except Exception as e:
            reasons = getattr(e, "reasons", None)
            why = "; ".join(r.getErrorMessage() for r in reasons) if reasons else (str(e) or type(e).__name__)
            raise RuntimeError(f"Post \"{self.url}\": {why}") from None
        content = await resp.content()
        if resp.code < 200 or resp.code >= 300:
            raise RuntimeError(f"webhook returned {resp.code}: {content[:200].decode('utf-8', 'replace')}")
        reply = orjson.loads(content)
        if not isinstance(reply, dict):
            raise RuntimeError("webhook reply is not an object")
        return reply


def review_spec(a: Attributes) -> Obj:
    spec: Obj = {"user": a.user.name}
    if a.user.groups:
        spec["groups"] = list(a.user.groups)
    if a.user.uid:
        spec["uid"] = a.user.uid
    if a.user.extra:
        spec["extra"] = {k: list(v) for k, v in a.user.extra.items()}
    if a.is_resource_request:
        ra = {"namespace": a.namespace, "verb": a.verb, "group": a.api_group, "version": a.api_version,
              "resource": a.resource, "subresource": a.subresource, "name": a.name}
        spec["resourceAttributes"] = {k: v for k, v in ra.items() if v}
    else:
        spec["nonResourceAttributes"] = {"path": a.path, "verb": a.verb}
    return spec


class WebhookAuthorizer:
    def __init__(self, client: Any, version: str = "v1", authorized_ttl: float = 300.0,
                 unauthorized_ttl: float = 30.0, now: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.api_version = f"authorization.k8s.io/{version}"
        self.authorized_ttl = authorized_ttl
        self.unauthorized_ttl = unauthorized_ttl
        self.now = now
        self._cache: dict[bytes, tuple[float, Decision, str]] = {}

    async def authorize(self, a: Attributes) -> tuple[Decision, str]:
        spec = review_spec(a)
        key = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
        hit = self._cache.get(key)
        now = self.now()
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        reply = await self.client.post({"apiVersion": self.api_version, "kind": "SubjectAccessReview",
                                        "metadata": {"creationTimestamp": None}, "spec": spec, "status": {}})
        status = reply.get("status") or {}
        reason = str(status.get("reason") or "")
        if status.get("allowed"):
            decision, ttl = Decision.ALLOW, self.authorized_ttl
        elif status.get("denied"):
            decision, ttl = Decision.DENY, self.unauthorized_ttl
        else:
            decision, ttl = Decision.NO_OPINION, self.unauthorized_ttl
        if ttl > 0:
            if len(self._cache) > 10000:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[key] = (now + ttl, decision, reason)
        return decision, reason

    def rules_unsupported(self, user: Any) -> str:
        return "webhook authorizer does not support user rule resolution"


def _webhook_factory(server: Any) -> WebhookAuthorizer:
    o = server.authorization_options
    path = o.get("webhook-config-file")
    if not path:
        raise ValueError("authorization-mode Webhook's authorization config file not passed")
    client = WebhookClient(path, server.clock)
    return WebhookAuthorizer(client, o.get("webhook-version", "v1"), o.get("webhook-cache-authorized-ttl", 300.0),
                             o.get("webhook-cache-unauthorized-ttl", 30.0))


AUTHORIZER_FACTORIES["Webhook"] = _webhook_factory
