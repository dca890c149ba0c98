"""The webhook backend: EventLists POSTed (JSON) to the server a kubeconfig file names, with treq.

Upstream reads the kubeconfig's current context (else its only cluster/user); the cluster's
certificate authority (file or data) is trusted for TLS, and the user's client certificate
or bearer token is presented.  Failed sends are retried with exponential backoff starting
at ``--audit-webhook-initial-backoff``, a few times, then counted as errors.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import orjson
from treq.client import HTTPClient
from twisted.internet import defer, task
from twisted.web.client import Agent

from kubeapi import kubeconfig
from kubeapi.audit.event import Event

log = logging.getLogger(__name__)
RETRIES = 3


class WebhookConfigError(ValueError):
    pass


def load_target(path: str) -> kubeconfig.Target:
    try:
        return kubeconfig.load(path)
    except kubeconfig.KubeconfigError as e:
        raise WebhookConfigError(f"invalid audit webhook config file {path!r}: {e}") from None


class WebhookBackend:
    name = "webhook"

    def __init__(self, target: kubeconfig.Target, reactor: Any, initial_backoff: float = 10.0,
                 timeout: float = 30.0) -> None:
        self.target = target
        self.reactor = reactor
        self.initial_backoff = initial_backoff
        self.timeout = timeout
        self.inflight: set[defer.Deferred[None]] = set()
        self.stopped = False
        self.client = HTTPClient(cast(Any, Agent(reactor, contextFactory=target.policy())))

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
