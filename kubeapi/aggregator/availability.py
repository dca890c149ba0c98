"""The ``Available`` condition of every APIService, kept as upstream's availability
controllers keep it.

Local APIServices are ``True``/``Local``.  A service-backed one is checked in upstream's
order — the Service exists (``ServiceNotFound``), serves the port (``ServicePortError``),
has EndpointSlices (``EndpointsNotFound``) with a ready endpoint on the port's name
(``MissingEndpoints``) — then its ``/apis/<group>/<version>`` is fetched five times at once
as ``system:kube-aggregator`` (group ``system:masters``) with the proxy client certificate;
one 2xx answer is ``Passed``, else ``FailedDiscoveryCheck`` with the last error.  The
status is written only when it changed.  Checks run when an APIService, Service or
EndpointSlice changes and every 30 seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

from kubeapi.aggregator import resolver
from kubeapi.aggregator.apiservices import APIServiceRegistry, is_remote, name_of, spec
from kubeapi.aggregator.keyed import KeyedRunner
from kubeapi.aggregator.metrics import AvailabilityMetrics
from kubeapi.aggregator.proxy import dial_error_text
from kubeapi.auth.informer import Informer
from kubeapi.errors import StatusError
from kubeapi.registry import meta
from kubeapi.registry.options import WriteOptions

log = logging.getLogger(__name__)

Obj = dict[str, Any]
RESYNC_SECONDS = 30.0
ATTEMPTS = 5
PROBE_TIMEOUT = 5.0
LOCAL = ("True", "Local", "Local APIServices are always available")


def available_condition(svc: Obj) -> Obj | None:
    for c in (svc.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Available":
            return c  # type: ignore[no-any-return]
    return None


def with_condition(svc: Obj, status: str, reason: str, message: str) -> Obj | None:
    """A copy of the object's status with the condition set, or None when nothing changes
    (lastTransitionTime moves only when the status does, as upstream's helper)."""
    old = available_condition(svc)
    if old is not None and (old.get("status"), old.get("reason"), old.get("message")) == (status, reason, message):
        return None
    stamp = meta.now_rfc3339()
    if old is not None and old.get("status") == status and old.get("lastTransitionTime"):
        stamp = old["lastTransitionTime"]
    cond = {"type": "Available", "status": status, "lastTransitionTime": stamp, "reason": reason,
            "message": message}
    others = [c for c in (svc.get("status") or {}).get("conditions") or [] if c.get("type") != "Available"]
    return {**(svc.get("status") or {}), "conditions": [*others, cond]}


class AvailabilityController:
    """See the module docstring."""

    name = "apiservice-availability"

    def __init__(self, server: Any, registry: APIServiceRegistry, transports: Any, routing: bool,
                 reactor: Any, on_checked: Callable[[str], None] | None = None) -> None:
        self.server = server
        self.registry = registry
        self.transports = transports
        self.routing = routing
        self.reactor = reactor
        self.on_checked = on_checked
        registry_ = getattr(getattr(server, "metrics", None), "registry", None)
        self.metrics = AvailabilityMetrics(registry_) if registry_ is not None else None
        self._runs = KeyedRunner(self._check_named, "checking APIService")
        self._loop: LoopingCall | None = None
        self._informers: list[Informer] = []
        registry.subscribe(self._apiservice_changed)

    async def start(self) -> None:
        self._runs.stopped = False
        prefix = self.server.prefix
        for group, version, plural in (("", "v1", "services"), ("discovery.k8s.io", "v1", "endpointslices")):
            rdef = self.server.catalog.get(group, version, plural)
            informer = Informer(self.server.storage, rdef.key_prefix(prefix), self._backing_changed,
                                self._backing_changed, self.reactor)
            await informer.start()
            self._informers.append(informer)
        self._loop = LoopingCall(self.check_all)
        self._loop.clock = self.reactor
        self._loop.start(RESYNC_SECONDS, now=True).addErrback(
            lambda f: log.error("APIService availability resync died: %s", f.getErrorMessage()))

    def stop(self) -> None:
        self._runs.stopped = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        for informer in self._informers:
            informer.stop()
        self._informers.clear()

    # -- triggers -------------------------------------------------------------------------

    def check_all(self) -> None:
        for name in list(self.registry.by_name):
            self.enqueue(name)

    def _apiservice_changed(self, name: str, obj: Obj | None) -> None:
        if obj is not None:
            self.enqueue(name)
        elif self.metrics is not None:
            self.metrics.forget(name)

    def _backing_changed(self, key: str, obj: Obj) -> None:
        md = obj.get("metadata") or {}
        ns = md.get("namespace", "")
        is_slice = "/endpointslices/" in key  # the informer's prefix says which kind it is
        svc_name = (md.get("labels") or {}).get(resolver.SERVICE_NAME_LABEL, "") if is_slice else md.get("name", "")
        for svc in self.registry.remote_services():
            ref = resolver.ServiceRef.of(svc)
            if (ref.namespace, ref.name) == (ns, svc_name):
                self.enqueue(name_of(svc))

    def enqueue(self, name: str) -> None:
        self._runs.enqueue(name)

    async def _check_named(self, name: str) -> None:
        svc = self.registry.by_name.get(name)
        if svc is not None:
            await self.sync(svc)

    # -- the check ------------------------------------------------------------------------

    async def sync(self, svc: Obj) -> None:
        status, reason, message = LOCAL if not is_remote(svc) else await self.check(svc)
        new_status = with_condition(svc, status, reason, message)
        old = available_condition(svc)
        if self.metrics is not None:
            self.metrics.observe(name_of(svc), status)
        if new_status is not None:
            if old is not None and old.get("status") != status:
                log.info("changing APIService availability: %s %s (%s) %s", name_of(svc), status, reason, message)
            await self._write(svc, new_status)
        if self.on_checked is not None:
            self.on_checked(name_of(svc))

    async def _write(self, svc: Obj, status: Obj) -> None:
        store = self.server.store("apiregistration.k8s.io", "v1", "apiservices")
        obj = meta.deepcopy(svc)
        obj["status"] = status
        try:
            await store.update("", name_of(svc), obj, WriteOptions(), subresource="status")
        except StatusError as e:
            if e.code not in (404, 409):
                raise
            # A newer object (or its deletion) is in storage: its event reaches the registry,
            # which enqueues the name again. Retrying now would read the same stale copy and
            # conflict again, in a tight loop, until the informer caught up.

    async def check(self, svc: Obj) -> tuple[str, str, str]:
        """(status, reason, message) of a service-backed APIService."""
        ref = resolver.ServiceRef.of(svc)
        where = f'service/{ref.name} in "{ref.namespace}"'
        try:
            service = await resolver.get_service(self.server, ref)
        except StatusError as e:
            return "Unknown", "ServiceAccessError", f"{where} cannot be checked due to: {e.message}"
        if service is None:
            return "False", "ServiceNotFound", f"{where} is not present"
        if (service.get("spec") or {}).get("type", "ClusterIP") == "ClusterIP":
            port_name = resolver.port_name(service, ref.port)
            if port_name is None:
                return "False", "ServicePortError", f"{where} is not listening on port {ref.port}"
            try:
                slices = await resolver.endpoint_slices(self.server, ref)
            except StatusError as e:
                return "Unknown", "EndpointsAccessError", f"{where} cannot be checked due to: {e.message}"
            if not slices:
                return "False", "EndpointsNotFound", f"cannot find endpointslices for {where}"
            if not resolver.ready_addresses(slices, port_name):
                return ("False", "MissingEndpoints",
                        f'endpointslices for {where} have no addresses with port name "{port_name}"')
        error = await self._probe(svc, ref)
        if error is not None:
            return "False", "FailedDiscoveryCheck", error
        return "True", "Passed", "all checks passed"

    async def _probe(self, svc: Obj, ref: resolver.ServiceRef) -> str | None:
        """None when one of the discovery fetches answered 2xx, else the last error."""
        s = spec(svc)
        path = f"/api/{s.get('version')}" if name_of(svc) == "v1." else f"/apis/{s.get('group')}/{s.get('version')}"
        results = await defer.gatherResults(
            [defer.ensureDeferred(self._attempt(ref, path)) for _ in range(ATTEMPTS)], consumeErrors=True)
        for r in results:
            if r is None:
                return None
        return str(results[-1])

    async def _attempt(self, ref: resolver.ServiceRef, path: str) -> str | None:
        try:
            host, port = await resolver.resolve(self.server, ref, self.routing)
        except resolver.ResolveError as e:
            return str(e)
        url = f"https://{host}:{port}{path}" if ":" not in host else f"https://[{host}]:{port}{path}"
        headers = Headers({b"X-Remote-User": [b"system:kube-aggregator"], b"X-Remote-Group": [b"system:masters"]})
        agent = self.transports.probe_agent()
        d = agent.request(b"GET", url.encode(), headers)
        d.addTimeout(PROBE_TIMEOUT, self.reactor)
        try:
            resp = await d
            await readBody(resp)
        except defer.TimeoutError:
            return (f'failing or missing response from {url}: Get "{url}": context deadline exceeded '
                    f"(Client.Timeout exceeded while awaiting headers)")
        except Exception as e:
            return f'failing or missing response from {url}: Get "{url}": {dial_error_text(Failure(e), host, port)}'
        if not 200 <= resp.code < 300:
            return f"failing or missing response from {url}: bad status from {url}: {resp.code}"
        return None
