"""GETs the aggregator makes on its own behalf (discovery and OpenAPI documents), through the
same resolution and TLS as proxied requests, as ``system:kube-aggregator`` in
``system:masters``; they never run inside a client's request."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

from kubeapi.aggregator import resolver
from kubeapi.aggregator.apiservices import is_available

Obj = dict[str, Any]
TIMEOUT = 5.0
MAX_BODY = 64 * 1024 * 1024


class FetchError(Exception):
    """The document could not be had; the message says why (logged, or kept as staleness)."""


async def fetch(aggregator: Any, apiservice: Obj, path: str, accept: str) -> tuple[int, Headers, bytes]:
    """(code, headers, body) of GET ``path`` on the APIService's extension server."""
    if not is_available(apiservice):
        raise FetchError("service unavailable")
    ref = resolver.ServiceRef.of(apiservice)
    try:
        host, port = await resolver.resolve(aggregator.server, ref, aggregator.routing)
    except resolver.ResolveError as e:
        raise FetchError(str(e)) from None
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    agent = aggregator.transports.agent(apiservice, ref.server_name)
    headers = Headers({b"Accept": [accept.encode()], b"X-Remote-User": [b"system:kube-aggregator"],
                       b"X-Remote-Group": [b"system:masters"]})
    d = agent.request(b"GET", f"https://{hostport}{path}".encode(), headers)
    d.addTimeout(TIMEOUT, aggregator.reactor)
    try:
        resp = await d
        body_d = readBody(resp)
        body_d.addTimeout(TIMEOUT, aggregator.reactor)
        body: bytes = await body_d
    except defer.TimeoutError:
        raise FetchError(f"GET {path}: request timed out") from None
    except Exception as e:
        raise FetchError(f"GET {path}: {e}") from None
    return resp.code, resp.headers, body
