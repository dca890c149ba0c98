"""The aggregation layer in one object the APIServer holds: which requests go to an
extension server (``route``), and the background parts that keep APIService availability,
discovery and OpenAPI current.  Built by ``install`` at start, after storage is open."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Coroutine
from typing import Any

from twisted.internet import defer

from kubeapi.aggregator import resolver
from kubeapi.aggregator.apiservices import APIServiceRegistry, is_available, is_remote
from kubeapi.aggregator.availability import AvailabilityController
from kubeapi.aggregator.crdregistration import CRDRegistration
from kubeapi.aggregator.discovery import DiscoveryMerger
from kubeapi.aggregator.flags import ClientIdentity
from kubeapi.aggregator.openapi import OpenAPIMerger
from kubeapi.aggregator.proxy import forward, proxy_error
from kubeapi.aggregator.transport import TransportError, Transports
from kubeapi.server.context import RequestContext

log = logging.getLogger(__name__)
DISCOVERY_TIMEOUT = 5.0

Obj = dict[str, Any]


class Aggregator:
    """See the module docstring."""

    def __init__(self, server: Any, reactor: Any, *, routing: bool = False, reject_redirects: bool = True,
                 identity: ClientIdentity | None = None) -> None:
        self.server = server
        self.reactor = reactor
        self.routing = routing
        self.reject_redirects = reject_redirects
        self.identity = identity
        rdef = server.catalog.get("apiregistration.k8s.io", "v1", "apiservices")
        self.registry = APIServiceRegistry(server.storage, rdef.key_prefix(server.prefix), reactor)
        self.transports = Transports(reactor, lambda: self.identity.pair() if self.identity is not None else None)
        self.availability = AvailabilityController(server, self.registry, self.transports, routing, reactor)
        self.discovery = DiscoveryMerger(self)
        self.openapi = OpenAPIMerger(self)
        self.crd_registration = CRDRegistration(server, reactor)
        self.registry.subscribe(self._changed)

    async def start(self) -> None:
        await self.registry.start()
        await self.availability.start()
        self.discovery.start()
        self.openapi.start()
        await self.crd_registration.start()

    def stop(self) -> None:
        self.crd_registration.stop()
        self.openapi.stop()
        self.discovery.stop()
        self.availability.stop()
        self.registry.stop()
        self.transports.close()

    def _changed(self, name: str, obj: Obj | None) -> None:
        if obj is None or not is_remote(obj):
            self.discovery.forget(name)
            self.openapi.forget(name)
            return
        self.discovery.refresh(name)
        self.openapi.refresh(name)

    def listed_paths(self) -> set[str]:
        """What "/" lists for the extension groups: /apis/<g> and /apis/<g>/<v>."""
        out: set[str] = set()
        for svc in self.registry.remote_services():
            s = svc.get("spec") or {}
            out.update((f"/apis/{s.get('group')}", f"/apis/{s.get('group')}/{s.get('version')}"))
        return out

    # -- requests -------------------------------------------------------------------------

    def route(self, ctx: RequestContext) -> Awaitable[bytes] | None:
        """The proxying of a request under a service-backed APIService's /apis/<g>/<v>, else None."""
        if not ctx.path.lstrip("/").startswith("apis/"):
            return None  # /api/v1 and the other core paths: no split on every request
        parts = ctx.path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "apis":
            return None
        svc = self.registry.remote(parts[1], parts[2])
        if svc is None:
            return None
        return self._proxy(ctx, svc)

    async def _proxy(self, ctx: RequestContext, svc: Obj) -> bytes:
        if not is_available(svc):
            return proxy_error(ctx, 503, "service unavailable")
        ref = resolver.ServiceRef.of(svc)
        try:
            agent = self.transports.agent(svc, ref.server_name)
        except TransportError as e:
            return proxy_error(ctx, 500, str(e))
        try:
            host, port = await resolver.resolve(self.server, ref, self.routing)
        except resolver.ResolveError as e:
            log.warning("error resolving %s/%s: %s", ref.namespace, ref.name, e)
            return proxy_error(ctx, 503, "service unavailable")
        if ctx.info.is_resource_request or len(ctx.path.strip("/").split("/")) != 3:
            return await forward(ctx, agent, host, port, self.reject_redirects)
        return await bounded(ctx, forward(ctx, agent, host, port, self.reject_redirects), self.reactor)


async def bounded(ctx: RequestContext, work: Coroutine[Any, Any, bytes], clock: Any,
                  seconds: float = DISCOVERY_TIMEOUT) -> bytes:
    """Discovery (/apis/<g>/<v>) must be quick: upstream gives the extension 5 seconds, then
    answers Go's context error."""
    d = defer.ensureDeferred(work)
    d.addTimeout(seconds, clock)
    try:
        return await d
    except defer.TimeoutError:
        if getattr(ctx.request, "startedWriting", False):
            return b""
        return proxy_error(ctx, 503, "context deadline exceeded")


async def install(server: Any, options: Any, reactor: Any) -> Aggregator:
    """Build the aggregator from the flags, hang it on the server and start it."""
    identity = None
    if options["proxy-client-cert-file"]:
        identity = ClientIdentity(options["proxy-client-cert-file"], options["proxy-client-key-file"])
    agg = Aggregator(server, reactor, routing=options["enable-aggregator-routing"],
                     reject_redirects=options["aggregator-reject-forwarding-redirect"], identity=identity)
    await agg.start()
    server.aggregator = agg
    return agg
