"""The webhook backend: EventLists POSTed (JSON) to the server a kubeconfig file names, with treq.

Upstream reads the kubeconfig's current context (else its only cluster/user); the cluster's
certificate authority (file or data) is trusted for TLS, and the user's client certificate
or bearer token is presented.  Failed sends are retried with exponential backoff starting
at ``--audit-webhook-initial-backoff``, a few times, then counted as errors.
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from typing import Any, cast

import orjson
import yaml
from OpenSSL import crypto
from treq.client import HTTPClient
from twisted.internet import defer, ssl, task
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from kubeapi.audit.event import Event

log = logging.getLogger(__name__)
RETRIES = 3


class WebhookConfigError(ValueError):
    pass


@dataclass
class WebhookTarget:
    server: str
    ca_pem: bytes | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    token: str = ""
    insecure: bool = False


def _read(entry: dict[str, Any], key: str, base: str) -> bytes | None:
    data = entry.get(f"{key}-data")
    if data:
        return base64.b64decode(data)
    path = entry.get(key)
    if path:
        full = path if os.path.isabs(path) else os.path.join(base, path)
        with open(full, "rb") as f:
            return f.read()
    return None


def _named(items: Any, name: str | None, what: str) -> dict[str, Any]:
    items = items or []
    for it in items:
        if isinstance(it, dict) and (name is None or it.get("name") == name):
            return dict(it.get(what) or {})
    if name is None and not items:
        return {}
    raise WebhookConfigError(f"no {what} {name!r} in the webhook kubeconfig")


def load_target(path: str) -> WebhookTarget:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise WebhookConfigError(f"invalid audit webhook config file {path!r}: {e}") from None
    base = os.path.dirname(os.path.abspath(path))
    ctxname = doc.get("current-context")
    context = _named(doc.get("contexts"), ctxname, "context") if ctxname else {}
    cluster = _named(doc.get("clusters"), context.get("cluster"), "cluster")
    user = _named(doc.get("users"), context.get("user"), "user") if doc.get("users") else {}
    server = cluster.get("server")
    if not server:
        raise WebhookConfigError(f"invalid audit webhook config file {path!r}: no cluster server")
    try:
        return WebhookTarget(server, _read(cluster, "certificate-authority", base),
                             _read(user, "client-certificate", base), _read(user, "client-key", base),
                             str(user.get("token") or ""), bool(cluster.get("insecure-skip-tls-verify")))
    except OSError as e:
        raise WebhookConfigError(f"invalid audit webhook config file {path!r}: {e}") from None


@implementer(IPolicyForHTTPS)
class _TrustPolicy:
    """TLS to the webhook with its kubeconfig's CA (and our client certificate, if any)."""

    def __init__(self, target: WebhookTarget) -> None:
        self.target = target

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        t = self.target
        trust: Any = ssl.Certificate.loadPEM(t.ca_pem) if t.ca_pem else None
        client = None
        if t.cert_pem and t.key_pem:
            client = ssl.PrivateCertificate.fromCertificateAndKeyPair(
                ssl.Certificate.loadPEM(t.cert_pem), ssl.KeyPair.load(t.key_pem, crypto.FILETYPE_PEM))
        if t.insecure:
            return ssl.CertificateOptions(verify=False, privateKey=client.privateKey.original
                                          if client else None,
                                          certificate=client.original if client else None)
        if trust is None:
            return BrowserLikePolicyForHTTPS().creatorForNetloc(hostname, port)
        return ssl.optionsForClientTLS(hostname.decode("ascii"), trustRoot=trust, clientCertificate=client)


class WebhookBackend:
    name = "webhook"

    def __init__(self, target: WebhookTarget, reactor: Any, initial_backoff: float = 10.0,
                 timeout: float = 30.0) -> None:
        self.target = target
        self.reactor = reactor
        self.initial_backoff = initial_backoff
        self.timeout = timeout
        self.inflight: set[defer.Deferred[None]] = set()
        self.stopped = False
        self.client = HTTPClient(cast(Any, Agent(reactor, contextFactory=_TrustPolicy(target))))

    async def _post_once(self, body: bytes) -> None:
        headers: dict[bytes | str, list[bytes | str]] = {b"Content-Type": [b"application/json"]}
        if self.target.token:
            headers[b"Authorization"] = [b"Bearer " + self.target.token.encode()]
        resp = await self.client.post(self.target.server, data=body, headers=headers,
                                      timeout=self.timeout)
        await resp.content()
        if resp.code >= 300:
            raise OSError(f"the audit webhook answered {resp.code}")

    async def send(self, events: list[Event]) -> None:
        """POST one EventList, retrying with doubling backoff; raises after the last try."""
        body = orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                             "metadata": {}, "items": events})
        delay = self.initial_backoff
        for attempt in range(RETRIES):
            try:
                await self._post_once(body)
                return
            except defer.CancelledError:
                raise
            except Exception as e:
                if attempt == RETRIES - 1 or self.stopped:
                    raise OSError(f"sending {len(events)} audit events failed: {e}") from None
                await task.deferLater(self.reactor, delay, lambda: None)
                delay *= 2

    def send_deferred(self, events: list[Event]) -> defer.Deferred[None]:
        d = defer.ensureDeferred(self.send(events))
        self.inflight.add(d)
        def forget(result: Any) -> Any:
            self.inflight.discard(d)
            return result
        d.addBoth(forget)
        return d

    def stop(self) -> None:
        """Abandon sends in flight (and their retry timers); a final flush gets one try."""
        self.stopped = True
        for d in list(self.inflight):
            d.cancel()
