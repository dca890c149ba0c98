"""APIServer: everything a request needs, in one object the root resource (server/app.py) holds."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import IResource

from kubeapi.admission.interface import AdmissionPlugin
from kubeapi.api.types import Allocators, Catalog, ResourceDef
from kubeapi.audit.recorder import AuditRecorder, NoopRecorder
from kubeapi.auth.authenticator import RequestAuthenticator, TokenAuthenticator, load_ca_bundle
from kubeapi.auth.authorizer import Authorizer, build_authorizer
from kubeapi.errors import not_found
from kubeapi.flowcontrol.controller import FlowControl
from kubeapi.registry.store import ResourceStore
from kubeapi.server.filters.inflight import InFlightLimiter
from kubeapi.server.health import Check, base_checks
from kubeapi.server.metrics import Metrics
from kubeapi.storage.interface import Storage

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[bool]]
# (server, ctx, rdef) -> body; for subresources the generic store does not serve (log, proxy, ...).
SubresourceHandler = Callable[[Any, Any, ResourceDef], Awaitable[bytes]]
StoreFactory = Callable[[ResourceDef], Any]


class _HookContext:
    def __init__(self, storage: Storage, allocators: Allocators) -> None:
        self.storage = storage
        self.allocators = allocators


class APIServer:
    def __init__(
        self,
        catalog: Catalog,
        storage: Storage,
        allocators: Allocators,
        *,
        prefix: str = "/registry",
        admission: Sequence[AdmissionPlugin] = (),
        advertise_address: str = "127.0.0.1",
        secure_port: int = 6443,
        authorization_mode: Sequence[str] = ("AlwaysAllow",),
        anonymous_auth: bool = True,
        max_request_body_bytes: int = 3 * 1024 * 1024,
        request_timeout: float = 60.0,
        max_requests_inflight: int = 400,
        max_mutating_requests_inflight: int = 200,
        client_ca_file: str | None = None,
        token_authenticators: Sequence[TokenAuthenticator] = (),
        authenticator: RequestAuthenticator | None = None,
        min_request_timeout: float = 1800.0,
        audit: AuditRecorder | None = None,
        store_factory: StoreFactory | None = None,
        clock: IReactorTime | None = None,
        storage_media_type: str = "application/json",
        authorization_options: dict[str, Any] | None = None,
        priority_and_fairness: bool = False,
    ) -> None:
        # Attributes other components read: catalog, storage, allocators (HookContext),
        # health_checks (name -> async check) and post_start_hooks (name -> done?).
        self.catalog = catalog
        self.storage = storage
        self.allocators = allocators
        self.health_checks: dict[str, HealthCheck] = {}
        self.readyz_checks: dict[str, HealthCheck] = {}
        self.post_start_hooks: dict[str, bool] = {}
        self.prefix = prefix
        self.storage_media_type = storage_media_type  # how the default stores encode writes
        self.admission = list(admission)
        self.advertise_address = advertise_address
        self.secure_port = secure_port
        self.max_request_body_bytes = max_request_body_bytes
        self.request_timeout = request_timeout
        self.min_request_timeout = min_request_timeout
        self.shutting_down = False
        self.watch_streams: set[Any] = set()  # running WatchStreams, ended at shutdown
        self.requests_in_flight = 0  # non-watch requests being served (shutdown waits for them)
        self.hook_context = _HookContext(storage, allocators)
        self._stores: dict[tuple[str, str, str], Any] = {}
        self._store_factory = store_factory or self._default_store
        self._subresource_handlers: dict[tuple[str, str], SubresourceHandler] = {}
        self._create_handlers: dict[tuple[str, str], SubresourceHandler] = {}
        from kubeapi.proxy.kubelet import KubeletConfig
        from kubeapi.server import podhandlers, proxyhandlers

        podhandlers.install(self)
        proxyhandlers.install(self)
        # How kubelets are reached (--kubelet-* flags; kubeapi.service sets the configured one).
        self.kubelet = KubeletConfig()
        self._openapi: Any = None
        self._openapi_stamp: tuple[int, ...] = ()
        if clock is None:
            from twisted.internet import reactor

            clock = reactor  # type: ignore[assignment]
        self.clock: IReactorTime = clock  # type: ignore[assignment]
        ca = []
        if client_ca_file:
            with open(client_ca_file, "rb") as f:  # startup only, never in a request path
                ca = load_ca_bundle(f.read())
        self.authenticator = authenticator or RequestAuthenticator(
            client_ca=ca, tokens=list(token_authenticators), anonymous=anonymous_auth)
        # Authorizers that keep state (RBAC, Node, Webhook) register start/stop here; the
        # service runs the starts before the secure port serves and the stops at shutdown.
        self.lifecycle: list[tuple[str, Callable[[], Awaitable[None]], Callable[[], None]]] = []
        self.authorization_options: dict[str, Any] = dict(authorization_options or {})
        self.rbac: Any = None  # the RBACAuthorizer when RBAC is a mode (reviews, escalation)
        # Set by kubeapi.auth.authn.setup: audiences of our tokens, the TokenRequest signer.
        self.api_audiences: list[str] = []
        self.token_issuer: Any = None
        # Non-resource paths served besides the built-in ones (/.well-known/..., /openid/...).
        self.path_handlers: dict[str, Callable[[Any, Any], Awaitable[bytes]]] = {}
        self.aggregator: Any = None  # kubeapi.aggregator.Aggregator once started (extension servers)
        from kubeapi.auth.authn.reviews import self_subject_review, token_review
        from kubeapi.auth.authn.serviceaccount import token_request

        self.add_create_handler("authentication.k8s.io", "tokenreviews", token_review)
        self.add_create_handler("authentication.k8s.io", "selfsubjectreviews", self_subject_review)
        self.add_subresource_handler("serviceaccounts", "token", token_request)
        self.authorizer: Authorizer = build_authorizer(authorization_mode, self)
        for plugin in self.admission:  # policies' CEL may ask the authorizer (``authorizer.check``)
            if hasattr(plugin, "use_authorizer"):
                plugin.use_authorizer(self.authorizer)
        from kubeapi.auth import reviews

        reviews.install(self)
        self.inflight = InFlightLimiter(max_requests_inflight, max_mutating_requests_inflight)
        self.audit: AuditRecorder = audit or NoopRecorder()
        self.metrics = Metrics()
        for plugin in self.admission:
            if hasattr(plugin, "use_metrics"):
                plugin.use_metrics(self.metrics)
        if callable(getattr(storage, "stats", None)):
            self.metrics.watch_cache_stats = self._watch_cache_stats
        self.flowcontrol: FlowControl | None = None
        if priority_and_fairness:
            from kubeapi.registry.codec import decode_stored

            self.flowcontrol = FlowControl(max_requests_inflight + max_mutating_requests_inflight,
                                           storage=storage, prefix=prefix, decode=decode_stored,
                                           metrics=self.metrics, clock=self.clock,
                                           request_timeout=request_timeout)

    # ------------------------------------------------------------------ stores

    def _watch_cache_stats(self) -> list[tuple[str, str, Any]]:
        stats = self.storage.stats()  # type: ignore[attr-defined]
        out: dict[tuple[str, str], tuple[str, str, Any]] = {}
        for rdef in self.catalog.all():
            got = stats.get(rdef.key_prefix(self.prefix))
            if got is not None:
                out[(rdef.group, rdef.plural)] = (rdef.group, rdef.plural, got)
        return list(out.values())

    def _default_store(self, rdef: ResourceDef) -> ResourceStore:
        from kubeapi.server.storagemetrics import TimedStorage, resource_label

        storage = TimedStorage(self.storage, self.metrics, rdef.group, resource_label(rdef))
        make = getattr(rdef, "make_store", None)  # custom kinds bring their own store
        if make is not None:
            return make(self)  # type: ignore[no-any-return]
        return ResourceStore(rdef, storage, self.hook_context, prefix=self.prefix,
                             admission=self.admission, admission_observer=self.metrics.observe_admission,
                             media_type=self.storage_media_type)

    def store(self, group: str, version: str, plural: str) -> ResourceStore:
        """The generic store serving that resource (built lazily from the catalog)."""
        rdef = self.catalog.get(group, version, plural)
        if rdef is None:
            raise not_found(plural, group, "")
        key = (group, version, plural)
        st = self._stores.get(key)
        if st is None or getattr(st, "rdef", rdef) is not rdef:
            st = self._store_factory(rdef)
            self._stores[key] = st
        return st  # type: ignore[no-any-return]

    def store_for(self, rdef: ResourceDef) -> ResourceStore:
        """`store` for a ResourceDef just looked up in the catalog: its store at once when
        one is built for that very ResourceDef."""
        st = self._stores.get((rdef.group, rdef.version, rdef.plural))
        if st is not None and getattr(st, "rdef", rdef) is rdef:
            return st  # type: ignore[no-any-return]
        return self.store(rdef.group, rdef.version, rdef.plural)

    def forget_store(self, group: str, version: str, plural: str) -> None:
        """Drop a cached store (a CRD changed or went away)."""
        self._stores.pop((group, version, plural), None)

    def add_subresource_handler(self, plural: str, subresource: str, handler: SubresourceHandler) -> None:
        """Serve ``<plural>/<subresource>`` (any group) with a dedicated handler."""
        self._subresource_handlers[(plural, subresource)] = handler

    def add_lifecycle(self, name: str, start: Callable[[], Awaitable[None]], stop: Callable[[], None]) -> None:
        self.lifecycle.append((name, start, stop))

    async def start_lifecycle(self) -> None:
        for _name, start, _stop in self.lifecycle:
            await start()

    def stop_lifecycle(self) -> None:
        for name, _start, stop in reversed(self.lifecycle):
            try:
                stop()
            except Exception:
                log.exception("stopping %s", name)

    def add_create_handler(self, group: str, plural: str, handler: SubresourceHandler) -> None:
        """Serve POST on ``<group>/<plural>`` with a handler instead of the generic store
        (create-only virtual resources: the access and rules reviews)."""
        self._create_handlers[(group, plural)] = handler

    def create_handler(self, rdef: ResourceDef) -> SubresourceHandler | None:
        return self._create_handlers.get((rdef.group, rdef.plural))

    def has_subresource_handler(self, rdef: ResourceDef, subresource: str) -> bool:
        return (rdef.plural, subresource) in self._subresource_handlers

    def subresource_handler(self, rdef: ResourceDef, subresource: str) -> SubresourceHandler:
        return self._subresource_handlers[(rdef.plural, subresource)]

    # ------------------------------------------------------------------ health

    def add_health_check(self, name: str, check: HealthCheck) -> None:
        """Listed by /healthz, /livez and /readyz as [+]name ok / [-]name failed."""
        self.health_checks[name] = check

    def add_readyz_check(self, name: str, check: HealthCheck) -> None:
        """Listed by /readyz only (e.g. poststarthook/bootstrap done)."""
        self.readyz_checks[name] = check

    def begin_shutdown(self) -> None:
        """From now on /readyz reports [-]shutdown failed (load balancers drain us)."""
        self.shutting_down = True

    def end_watches(self) -> int:
        """End every open watch stream cleanly (clients re-watch elsewhere); call when the
        listeners stop.  Returns how many were open."""
        from kubeapi.server.watchstream import end_all

        return end_all(self.watch_streams)

    def checks_for(self, endpoint: str) -> list[tuple[str, Check]]:
        checks = base_checks() + list(self.health_checks.items())
        if endpoint == "readyz":
            checks += list(self.readyz_checks.items())

            async def shutdown() -> bool:
                return not self.shutting_down

            checks.append(("shutdown", shutdown))
        return checks

    # ------------------------------------------------------------------ documents

    def server_address(self) -> str:
        return f"{self.advertise_address}:{self.secure_port}"

    def root_paths(self) -> list[str]:
        paths = {"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/metrics", "/version",
                 "/openapi/v2", "/openapi/v3", "/openapi/v3/"}
        paths.update(self.path_handlers)
        for group, versions in self.catalog.groups().items():
            if group:
                paths.add(f"/apis/{group}")
                paths.update(f"/apis/{group}/{v}" for v in versions)
        if self.aggregator is not None:
            paths.update(self.aggregator.listed_paths())
        for name in list(self.health_checks) + ["ping", "log"]:
            paths.add(f"/healthz/{name}")
            paths.add(f"/livez/{name}")
            paths.add(f"/readyz/{name}")
        return sorted(paths)

    def openapi(self) -> Any:
        """The OpenAPI documents (kubeapi.openapi.OpenAPIDocs), rebuilt when the catalog changes."""
        from kubeapi.openapi import OpenAPIDocs

        stamp = tuple(id(r) for r in self.catalog.all())
        if self._openapi is None:
            self._openapi = OpenAPIDocs(self.catalog)
        elif stamp != self._openapi_stamp:
            self._openapi.invalidate()
        self._openapi_stamp = stamp
        return self._openapi

    # ------------------------------------------------------------------ web

    def resource(self, *, secure: bool) -> IResource:
        """The twisted.web resource for one listener.  ``secure=False`` is the insecure port:
        every request there is authenticated as INSECURE_ADMIN.  ``secure=True`` authenticates
        from the TLS peer certificate / bearer token, else anonymous."""
        from kubeapi.server.app import build_resource

        return build_resource(self, secure)

    def extra(self) -> dict[str, Any]:
        """State worth showing in diagnostics: what is cached and configured."""
        return {
            "stores": sorted("/".join(k) for k in self._stores),
            "health_checks": sorted(self.health_checks),
            "readyz_checks": sorted(self.readyz_checks),
            "inflight": {"readOnly": self.inflight.readonly, "mutating": self.inflight.mutating},
            "shutting_down": self.shutting_down,
        }
