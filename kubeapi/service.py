"""`twistd kubeapi`: turn the parsed flags into one running service.

Order of start: (before the reactor runs) cert and TLS context, storage object, catalog,
admission, APIServer, then the listeners bind — a port in use fails twistd at once with
one line.  Until storage is open the listeners answer 503.  Then (reactor running) storage
opens, the real resources are swapped in, and the built-in controllers start.
Stop is the reverse: ``/readyz`` reports ``shutdown`` failing, controllers stop (the
bootstrap controller removes this server's master lease, taking its address out of the
``kubernetes`` endpoints), the listeners close, storage closes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import orjson
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource

from kubeapi.options import DEFAULT_CERT_DIR, Options
from kubeapi.server import certs
from kubeapi.server.site import make_site
from kubeapi.storage.interface import Storage

__all__ = ["KubeAPIService", "Options", "makeService"]

log = Logger()


class StartingResource(Resource):
    """What the listeners serve until storage is open: 503, as an apiserver not yet ready."""

    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setResponseCode(503)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"retry-after", b"1")
        return orjson.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "the server is starting, please try again",
                             "reason": "ServiceUnavailable", "code": 503})


def _endpoint_for(reactor: Any, address: str, port: int, tls: Any = None) -> Any:
    if tls is not None:
        return SSL4ServerEndpoint(reactor, port, tls, interface=address)
    if ":" in address:
        return TCP6ServerEndpoint(reactor, port, interface=address)
    return TCP4ServerEndpoint(reactor, port, interface=address)


def _listen_now(endpoint: Any, factory: Any, what: str) -> Any:
    """Bind synchronously (endpoints do, for TCP/SSL) so failures stop twistd with one line."""
    result: list[Any] = []
    endpoint.listen(factory).addBoth(result.append)
    if not result:
        raise SystemExit(f"kubeapi: {what}: listen did not complete")
    if isinstance(result[0], Failure):
        err = result[0].value
        if isinstance(err, CannotListenError):
            raise SystemExit(f"kubeapi: cannot listen on {err.interface or '*'}:{err.port} ({what}): "
                             f"{err.socketError}")
        raise SystemExit(f"kubeapi: cannot listen ({what}): {err}")
    return result[0]


class KubeAPIService(MultiService):
    """Everything one `twistd kubeapi` runs; see the module docstring."""

    def __init__(self, options: Options, *, reactor: Any = None) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor
        self.options = options
        self.shutting_down = False
        self.started: Deferred[None] = Deferred()  # fires once serving with storage open
        self.ports: dict[str, Any] = {}  # "secure" / "insecure" -> IListeningPort
        self.controllers: list[Service] = []
        from kubeapi.api import builtin_catalog

        self.catalog = builtin_catalog()
        self.storage, self._storage_services = self._make_storage()
        from kubeapi.registry.allocator import ServiceAllocators

        self.allocators = ServiceAllocators(
            self.storage, service_cidr=options["service-cluster-ip-range"].split(",")[0],
            node_ports=options.node_port_range(), prefix=options["etcd-prefix"])
        self.tls = self._make_tls()
        try:
            self.apiserver = self._make_apiserver()
        except ValueError as e:  # an authorizer that cannot be built (bad webhook kubeconfig, ...)
            raise SystemExit(f"kubeapi: --authorization-mode: {e}") from None
        self.sites = {
            "secure": make_site(StartingResource()),
            "insecure": make_site(StartingResource()),
        }
        for site in self.sites.values():
            site.displayTracebacks = False
            site.noisy = False
            if options["v"] < 3:  # like kube-apiserver, log each request only from --v=3
                site.log = _no_access_log  # type: ignore[method-assign]

    # -- construction --------------------------------------------------------------------------

    def _make_storage(self) -> tuple[Storage, list[Service]]:
        o = self.options
        if o["etcd-servers"]:
            from kubeapi.storage.etcd.backend import EtcdStorage
            from kubeapi.storage.etcd.client import EtcdClient
            from kubeapi.storage.etcd.compactor import PeriodicCompactor

            client = EtcdClient(list(o["etcd-servers"]), ca_file=o["etcd-cafile"], cert_file=o["etcd-certfile"],
                                key_file=o["etcd-keyfile"], reactor=self.reactor)
            from kubeapi.storage.cache import WatchCache

            # As upstream's cacher: one etcd watch per resource, fanned out to every client watch.
            prefixes = sorted({r.key_prefix(o["etcd-prefix"]) for r in self.catalog.all()})
            storage: Any = WatchCache(EtcdStorage(client), prefixes, reactor=self.reactor)
            return storage, [PeriodicCompactor(client, o["etcd-compaction-interval"])]
        from kubeapi.storage.embedded.store import SQLiteStorage

        data_dir = o["data-dir"]
        try:
            os.makedirs(data_dir, exist_ok=True)
        except OSError as e:
            raise SystemExit(f"kubeapi: --data-dir {data_dir}: {e.strerror}") from None
        interval = o["etcd-compaction-interval"]
        storage = SQLiteStorage(os.path.join(data_dir, "kubeapi.db"),
                                compaction_interval=interval if interval > 0 else 0, reactor=self.reactor)
        return storage, []

    def _make_tls(self) -> certs.ServerTLSContextFactory:
        o = self.options
        cert_file, key_file = o["tls-cert-file"], o["tls-private-key-file"]
        if not cert_file:
            try:
                cert_dir = certs.usable_cert_dir(o["cert-dir"], explicit=o["cert-dir"] != DEFAULT_CERT_DIR)
            except OSError as e:
                raise SystemExit(f"kubeapi: --cert-dir {o['cert-dir']}: {e}") from None
            names = certs.serving_names(o["advertise-address"], self.allocators.first_service_ip())
            cert_file, key_file = certs.ensure_self_signed(cert_dir, names)
        try:
            return certs.ServerTLSContextFactory(cert_file, key_file, o["client-ca-file"])
        except Exception as e:
            raise SystemExit(f"kubeapi: cannot use serving certificate {cert_file}: {e}") from None

    def _make_apiserver(self) -> Any:
        from kubeapi.server.apiserver import APIServer

        o = self.options
        catalog = self.catalog
        plugins = build_admission(o.admission_plugins(), self.storage, o["etcd-prefix"],
                                  o["storage-media-type"], o["admission-control-config-file"])
        server = APIServer(
            catalog, self.storage, self.allocators,
            prefix=o["etcd-prefix"],
            admission=plugins,
            advertise_address=o["advertise-address"],
            secure_port=o["secure-port"],
            authorization_mode=tuple(o["authorization-mode"]),
            anonymous_auth=o["anonymous-auth"],
            request_timeout=o["request-timeout"],
            max_requests_inflight=o["max-requests-inflight"],
            max_mutating_requests_inflight=o["max-mutating-requests-inflight"],
            client_ca_file=o["client-ca-file"],
            min_request_timeout=float(o["min-request-timeout"]),
            storage_media_type=o["storage-media-type"],
            authorization_options={
                "webhook-config-file": o["authorization-webhook-config-file"],
                "webhook-version": o["authorization-webhook-version"],
                "webhook-cache-authorized-ttl": o["authorization-webhook-cache-authorized-ttl"],
                "webhook-cache-unauthorized-ttl": o["authorization-webhook-cache-unauthorized-ttl"],
            },
        )
        for plugin in plugins:  # plugins that ask the authorizer (certificate approval/signing)
            bind = getattr(plugin, "bind_server", None)
            if bind is not None:
                bind(server)
        server.add_health_check("etcd", self.storage.healthy)
        return server

    # -- lifecycle -------------------------------------------------------------------------------

    def privilegedStartService(self) -> None:
        """Bind the ports (they may be privileged); nothing but 503 is served yet."""
        super().privilegedStartService()
        o = self.options
        ep = _endpoint_for(self.reactor, o["bind-address"], o["secure-port"], self.tls)
        self.ports["secure"] = _listen_now(ep, self.sites["secure"], "--secure-port")
        if o["insecure-port"]:
            ep = _endpoint_for(self.reactor, o["insecure-bind-address"], o["insecure-port"])
            self.ports["insecure"] = _listen_now(ep, self.sites["insecure"], "--insecure-port")

    def startService(self) -> None:
        if not self.ports:
            self.privilegedStartService()
        super().startService()
        d = Deferred.fromCoroutine(self._start())

        def failed(f: Failure) -> None:
            log.failure("kubeapi failed to start", f)
            self.reactor.callLater(0, self._fatal_stop)

        d.addErrback(failed)

    def _fatal_stop(self) -> None:
        if self.reactor.running:
            self.reactor.stop()

    async def _start(self) -> None:
        o = self.options
        for step in ("open", "start"):  # SQLiteStorage.open(); WatchCache.start() fills the caches
            method = getattr(self.storage, step, None)
            if callable(method):
                await method()
        for svc in self._storage_services:
            svc.startService()
        # Authorizer state (RBAC bootstrap policy and index, the node graph) before serving.
        await self.apiserver.start_lifecycle()
        self.sites["secure"].resource = self.apiserver.resource(secure=True)
        if "insecure" in self.ports:
            self.sites["insecure"].resource = self.apiserver.resource(secure=False)
        host = self.ports["secure"].getHost()
        log.info("Serving securely on {addr}", addr=_addr(o["bind-address"], host.port))
        if "insecure" in self.ports:
            host = self.ports["insecure"].getHost()
            log.info("Serving insecurely on {addr}", addr=_addr(o["insecure-bind-address"], host.port))
        self._start_controllers()
        self.started.callback(None)

    def _start_controllers(self) -> None:
        from kubeapi.controllers.bootstrap import READYZ_CHECK, BootstrapController
        from kubeapi.controllers.leases import MasterLeases
        from kubeapi.controllers.namespace import NamespaceController

        o = self.options
        # Stopping the bootstrap controller (in _stop, before storage closes) removes our lease.
        reconciler = o["endpoint-reconciler-type"]
        leases = MasterLeases(self.storage, self.reactor.seconds, prefix=o["etcd-prefix"])
        bootstrap = BootstrapController(
            self.apiserver.store, advertise_address=o["advertise-address"], secure_port=o["secure-port"],
            service_ip=self.allocators.first_service_ip(), reactor=self.reactor,
            endpoint_reconciler=reconciler, leases=leases)
        self.apiserver.add_readyz_check(READYZ_CHECK, bootstrap.ready)
        namespaces = NamespaceController(self.apiserver.store, self.apiserver.catalog, reactor=self.reactor)
        self.controllers = [bootstrap, namespaces]
        if "ServiceAccount" in o.admission_plugins():
            from kubeapi.controllers.serviceaccounts import ServiceAccountsController

            self.controllers.append(ServiceAccountsController(self.apiserver.store, reactor=self.reactor))
        for c in self.controllers:
            c.startService()

    def stopService(self) -> Deferred[None]:
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        self.shutting_down = True
        self.apiserver.begin_shutdown()
        log.info("kubeapi: shutting down")
        self.apiserver.end_watches()
        for c in reversed(self.controllers):
            try:
                await _maybe_deferred(c.stopService)
            except Exception:
                log.failure("stopping {name}", name=getattr(c, "name", c))
        self.controllers = []
        self.apiserver.stop_lifecycle()
        for name in list(self.ports):
            port = self.ports.pop(name)
            try:
                await _maybe_deferred(port.stopListening)
            except Exception:
                log.failure("closing {name} listener", name=name)
        await _maybe_deferred(super().stopService)
        for svc in self._storage_services:
            if svc.running:
                await _maybe_deferred(svc.stopService)
        try:
            await self.storage.close()
        except Exception:
            log.failure("closing storage")


async def _maybe_deferred(fn: Callable[[], Any]) -> Any:
    result = fn()
    if isinstance(result, Deferred):
        return await result
    return result


def _no_access_log(request: Any) -> None:
    return None


def _addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def build_admission(names: list[str], storage: Storage, prefix: str, media_type: str = "application/json",
                    config_file: str | None = None) -> list[Any]:
    """The enabled plugins we implement, in upstream's order; the others are skipped."""
    from kubeapi.admission import config as admission_config
    from kubeapi.admission.plugins import PluginContext, build
    from kubeapi.options import ADMISSION_PLUGINS

    conf: dict[str, Any] = {}
    if config_file:
        try:
            conf = admission_config.load(config_file, ADMISSION_PLUGINS)
        except admission_config.AdmissionConfigError as e:
            raise SystemExit(f"kubeapi: --admission-control-config-file: {e}") from None
    from twisted.internet import reactor

    plugins, skipped = build(names, PluginContext(storage, prefix, media_type, conf, clock=reactor))
    log.info("Loaded {n} admission plugin(s): {names}", n=len(plugins), names=", ".join(p.name for p in plugins))
    if skipped:
        log.info("Admission plugins not implemented here (skipped): {names}", names=", ".join(skipped))
    return plugins


def makeService(options: Options) -> MultiService:
    """The twistd entry point (see twisted/plugins/kubeapi_plugin.py)."""
    return KubeAPIService(options)
