"""Outgoing HTTPS to extension servers: one Agent per APIService TLS setting.

Trust is the APIService's ``caBundle`` (checked against ``<service>.<namespace>.svc``, as
upstream does) or nothing with ``insecureSkipTLSVerify``; the client certificate is the
--proxy-client-cert-file/--proxy-client-key-file pair.  Each agent has its own connection
pool (Twisted pools by host and port only, so a shared pool would reuse a connection verified
against an old caBundle), and none follows redirects (a plain Agent does not).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from twisted.web.client import Agent, HTTPConnectionPool

from kubeapi.kubeconfig import Target, TLSPolicy

Obj = dict[str, Any]
CONNECT_TIMEOUT = 30.0


class TransportError(Exception):
    """The APIService's TLS settings cannot be used (a caBundle that is not PEM)."""


def ca_bundle(apiservice: Obj) -> bytes | None:
    raw = (apiservice.get("spec") or {}).get("caBundle")
    if not raw:
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise TransportError("spec.caBundle is not valid base64") from None


class Transports:
    """Agents keyed by (caBundle, insecure, server name); built lazily, reused by every request."""

    def __init__(self, reactor: Any, client_pair: Callable[[], tuple[bytes, bytes] | None]) -> None:
        self.reactor = reactor
        self._client_pair = client_pair
        self._agents: dict[tuple[bytes | None, bool, str, bytes | None], tuple[Agent, HTTPConnectionPool]] = {}

    def agent(self, apiservice: Obj, server_name: str) -> Agent:
        insecure = bool((apiservice.get("spec") or {}).get("insecureSkipTLSVerify"))
        ca = None if insecure else ca_bundle(apiservice)
        pair = self._client_pair()
        key = (ca, insecure, server_name, pair[0] if pair else None)
        found = self._agents.get(key)
        if found is None:
            cert, pkey = pair if pair else (None, None)
            try:
                policy = TLSPolicy(Target("", ca_pem=ca, cert_pem=cert, key_pem=pkey, insecure=insecure,
                                          server_name=server_name))
            except Exception as e:  # a caBundle that does not parse
                raise TransportError(f"unable to load root certificates: {e}") from None
            pool = HTTPConnectionPool(self.reactor, persistent=True)
            pool.maxPersistentPerHost = 4
            if len(self._agents) >= 64:
                self.close()
            found = self._agents[key] = (Agent(self.reactor, contextFactory=policy, pool=pool,
                                               connectTimeout=CONNECT_TIMEOUT), pool)
        return found[0]

    def probe_agent(self) -> Agent:
        """What the availability check dials with: the proxy identity, no server verification
        (upstream's discovery check is insecure too)."""
        return self.agent({"spec": {"insecureSkipTLSVerify": True}}, "")

    def close(self) -> None:
        """Drop every agent and its idle connections (at stop, or when too many piled up)."""
        agents, self._agents = self._agents, {}
        for _, pool in agents.values():
            pool.closeCachedConnections()
