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
from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.internet.error import CannotListenError
from twisted.internet.task import deferLater
from twisted.logger import Logger, LogLevel
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.web.resource import Resource

from kubeapi import sdnotify
from kubeapi.options import DEFAULT_CERT_DIR, Options
from kubeapi.server import gctune
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


def _endpoint_for(reactor: Any, address: str, port: int) -> Any:
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
        from kubeapi.workers import worker_index

        self.worker = worker_index() if options["workers"] > 1 else 0
        self.workers: Any = None  # worker 0's WorkerPool under --workers N
        self.shutting_down = False
        self.exit_code = 0  # 1 once a start failed (twistd then exits 1)
        self.started: Deferred[None] = Deferred()  # fires once serving with storage open
        self.ports: dict[str, Any] = {}  # "secure" / "insecure" -> IListeningPort
        self.controllers: list[Service] = []
        from kubeapi.api import builtin_catalog

        self.catalog = builtin_catalog()
        from kubeapi.apiextensions import install_kind

        install_kind(self.catalog)  # before the storage (the watch cache caches its prefix)
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
            # Requests are logged by the pipeline (klog's "HTTP" line, from --v=3), not by twisted.
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
            storage: Any = WatchCache(self._encrypting(EtcdStorage(client)), prefixes, reactor=self.reactor)
            return storage, [PeriodicCompactor(client, o["etcd-compaction-interval"])]
        from kubeapi.storage.embedded.store import SQLiteStorage

        data_dir = o["data-dir"]
        try:
            from kubeapi.auth.authn.pki import make_private_dir

            make_private_dir(data_dir)
        except OSError as e:
            raise SystemExit(f"kubeapi: --data-dir {data_dir}: {e.strerror}") from None
        interval = o["etcd-compaction-interval"]
        storage = SQLiteStorage(os.path.join(data_dir, "kubeapi.db"),
                                compaction_interval=interval if interval > 0 else 0, reactor=self.reactor)
        return self._encrypting(storage), []

    def _encrypting(self, backend: Any) -> Any:
        """The backend behind --encryption-provider-config's transformers, when given."""
        path = self.options["encryption-provider-config"]
        if not path:
            return backend
        from kubeapi.storage.encryption import ConfigError, EncryptingStorage, load_config

        try:
            config = load_config(path)
        except ConfigError as e:
            raise SystemExit(f"kubeapi: --encryption-provider-config: {e}") from None
        prefix = self.options["etcd-prefix"]
        return EncryptingStorage(backend, config, [(r.key_prefix(prefix), r.group, r.plural)
                                                   for r in self.catalog.all()])

    def _make_tls(self) -> Any:
        """The first-start PKI (kubeapi.auth.authn.pki) and the serving TLS (kubeapi.server.tls)."""
        from kubeapi.auth.authn import pki, setup

        o = self.options
        try:
            cert_dir = pki.usable_cert_dir(o["cert-dir"], explicit=o["cert-dir"] != DEFAULT_CERT_DIR)
        except OSError as e:
            raise SystemExit(f"kubeapi: --cert-dir {o['cert-dir']}: {e}") from None
        names = pki.serving_names(o["advertise-address"], self.allocators.first_service_ip())
        self.pki = setup.prepare_pki(o, cert_dir, names)
        return setup.build_tls(o, self.pki)

    def _make_apiserver(self) -> Any:
        from kubeapi.server.apiserver import APIServer

        o = self.options
        catalog = self.catalog
        plugins = build_admission(o.admission_plugins(), self.storage, o["etcd-prefix"],
                                  o["storage-media-type"], o["admission-control-config-file"], catalog)
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
            min_request_timeout=float(o["min-request-timeout"]),
            storage_media_type=o["storage-media-type"],
            authorization_options={
                "webhook-config-file": o["authorization-webhook-config-file"],
                "webhook-version": o["authorization-webhook-version"],
                "webhook-cache-authorized-ttl": o["authorization-webhook-cache-authorized-ttl"],
                "webhook-cache-unauthorized-ttl": o["authorization-webhook-cache-unauthorized-ttl"],
            },
            priority_and_fairness=o["enable-priority-and-fairness"],
        )
        for plugin in plugins:  # plugins that ask the authorizer (certificate approval/signing)
            bind = getattr(plugin, "bind_server", None)
            if bind is not None:
                bind(server)
        server.add_health_check("etcd", self.storage.healthy)
        from kubeapi.proxy.kubelet import from_options as kubelet_config

        try:
            server.kubelet = kubelet_config(o)
        except Exception as e:  # unreadable or mismatched files: one line, no start
            raise SystemExit(f"kubeapi: --kubelet-client-certificate/--kubelet-client-key/"
                             f"--kubelet-certificate-authority: cannot load: {e}") from None
        from kubeapi.auth.authn import setup

        self.reloadable = [self.tls, *setup.install(server, o, self.pki, self.reactor)]
        from kubeapi.audit.config import build_auditor

        if self.worker > 0 and o["audit-log-path"] not in ("", "-"):
            from kubeapi.workers import own_file  # one writer (and rotator) per file

            o["audit-log-path"] = own_file(o["audit-log-path"], self.worker)
        try:
            auditor = build_auditor(o, server.metrics.registry, self.reactor)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        if auditor is not None:
            server.audit = auditor
            self.auditor = auditor
        return server

    # -- lifecycle -------------------------------------------------------------------------------

    def privilegedStartService(self) -> None:
        """Bind the ports (they may be privileged); nothing but 503 is served yet.  Under
        --workers only worker 0 binds this early: the others bind once they are ready."""
        super().privilegedStartService()
        if self.worker == 0:
            self._bind()

    def _bind(self) -> None:
        o = self.options
        from kubeapi.server.tlssniff import SniffingFactory

        # TLS as listenSSL does it, behind a look at the first bytes (plain HTTP gets Go's 400).
        self.ports["secure"] = self._listen(o["bind-address"], o["secure-port"],
                                            SniffingFactory(self.tls, self.sites["secure"]), "--secure-port")
        if o["insecure-port"]:
            self.ports["insecure"] = self._listen(o["insecure-bind-address"], o["insecure-port"],
                                                  self.sites["insecure"], "--insecure-port")

    def _listen(self, address: str, port: int, factory: Any, what: str) -> Any:
        if self.options["workers"] == 1:
            return _listen_now(_endpoint_for(self.reactor, address, port), factory, what)
        from kubeapi.workers import listen_reuseport

        try:  # every worker binds the port itself; the kernel spreads connections over them
            return listen_reuseport(self.reactor, address, port, factory)
        except OSError as e:
            raise SystemExit(f"kubeapi: cannot listen on {address}:{port} ({what}): {e.strerror}") from None

    def startService(self) -> None:
        if not self.ports and self.worker == 0:
            self.privilegedStartService()
        super().startService()
        if self.worker > 0:  # a worker ends with worker 0, however worker 0 ended
            from kubeapi.workers import ParentWatch

            self._parent_watch = ParentWatch(self.reactor, self._fatal_stop)
            self._parent_watch.start()
        d = Deferred.fromCoroutine(self._start())

        d.addErrback(self._start_failed)

    def _start_failed(self, f: Failure) -> None:
        """One actionable line (the traceback only from --v=4), then stop with exit status 1."""
        from kubeapi.logs import startup_failure_line

        log.failure("{line}", f, LogLevel.error, line=startup_failure_line(f.value or RuntimeError("unknown error")), log_v=0)
        self.exit_code = 1
        if getattr(self.options, "parent", None) is not None:  # under twistd: make it the exit status
            from kubeapi.logs import exit_with_status_at_exit

            exit_with_status_at_exit(1)
        self.reactor.callLater(0, self._fatal_stop)

    def _fatal_stop(self) -> None:
        if self.reactor.running:
            self.reactor.stop()

    def setServiceParent(self, parent: Any) -> None:
        """twistd hands us its Application first: give it our log observer (klog/json, --v)."""
        super().setServiceParent(parent)
        set_component = getattr(parent, "setComponent", None)
        twistd = getattr(self.options, "parent", None)
        if set_component is not None and twistd is not None:
            from twisted.logger import ILogObserver

            from kubeapi.logs import bridge_stdlib_logging, observer_for

            bridge_stdlib_logging(self.options["v"])
            set_component(ILogObserver, observer_for(twistd, self.options["v"], self.options["logging-format"]))

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
        if self.apiserver.flowcontrol is not None:  # stored FlowSchemas/PLCs, watched
            await self.apiserver.flowcontrol.start()
        from kubeapi.aggregator.aggregator import install as install_aggregator

        self.aggregator = await install_aggregator(self.apiserver, o, self.reactor)  # APIServices routed
        if self.aggregator.identity is not None:  # the proxy client certificate is reloaded too
            self.reloadable.append(self.aggregator.identity)
        from kubeapi.server.storagemetrics import start_object_counter

        self._object_counter = start_object_counter(self.apiserver, self.reactor)
        if self.worker > 0:  # the kernel sends a bound worker connections at once: bind when ready
            self._bind()
        self.sites["secure"].resource = self.apiserver.resource(secure=True)
        if "insecure" in self.ports:
            self.sites["insecure"].resource = self.apiserver.resource(secure=False)
        host = self.ports["secure"].getHost()
        log.info("Serving securely on {addr}", addr=_addr(o["bind-address"], host.port))
        if "insecure" in self.ports:
            host = self.ports["insecure"].getHost()
            log.info("Serving insecurely on {addr}", addr=_addr(o["insecure-bind-address"], host.port))
        if self.pki.admin_kubeconfig:
            log.info("Wrote admin kubeconfig to {path} (KUBECONFIG={path} kubectl get ns); component "
                     "kubeconfigs in {dir}", path=self.pki.admin_kubeconfig, dir=os.path.abspath(self.pki.cert_dir))
        self._log_how_to_connect()
        self._start_controllers()
        from kubeapi.server.memtrim import Trimmer, keep_large_blocks

        keep_large_blocks()
        self._trimmer = Trimmer(lambda: len(self.apiserver.watch_streams) + self.apiserver.requests_in_flight,
                                self.reactor)
        self._trimmer.start()
        gctune.settle()
        self._start_workers()
        self.started.callback(None)
        if self.worker == 0:
            sdnotify.notify("READY=1")  # systemd Type=notify: serving with storage open

    def _start_workers(self) -> None:
        """Worker 0, with --workers N: the other workers, once the first start's writes
        (certificates, bootstrap policy and objects) are done."""
        o = self.options
        if self.worker > 0 or o["workers"] == 1:
            return
        from kubeapi.workers import WorkerPool

        ports = {"secure-port": self.ports["secure"].getHost().port,
                 "insecure-port": self.ports["insecure"].getHost().port if "insecure" in self.ports else 0}
        self.workers = WorkerPool(self.reactor, list(getattr(o, "argv", [])), o["workers"], ports,
                                  stop_timeout=o["shutdown-delay-duration"] + o["request-timeout"])
        self.workers.startService()

    def _log_how_to_connect(self) -> None:
        """Like k3s: the URLs to use (the admin kubeconfig is logged beside them)."""
        o = self.options
        bind = o["bind-address"]
        host = o["advertise-address"] if bind in ("0.0.0.0", "::") else bind
        urls = [f"https://{_addr(host, self.ports['secure'].getHost().port)}"]
        if "insecure" in self.ports:
            urls.append(f"http://{_addr(o['insecure-bind-address'], self.ports['insecure'].getHost().port)}")
        log.info("kubeapi is serving; API URLs: {urls}", urls=" ".join(urls))

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
            endpoint_reconciler=reconciler, leases=leases,
            keep_lease_on_stop=self.worker > 0)  # worker 0 removes the lease all workers share
        self.apiserver.add_readyz_check(READYZ_CHECK, bootstrap.ready)
        from kubeapi.apiextensions import install

        self.controllers = [bootstrap]  # type: ignore[list-item]
        if o["enable-namespace-controller"]:
            self.controllers.append(
                NamespaceController(self.apiserver.store, self.apiserver.catalog, reactor=self.reactor))
        self.controllers.append(install(self.apiserver, reactor=self.reactor))  # type: ignore[arg-type]
        if "ServiceAccount" in o.admission_plugins():  # each namespace's `default` ServiceAccount
            from kubeapi.controllers.serviceaccounts import ServiceAccountsController

            self.controllers.append(ServiceAccountsController(self.apiserver.store, reactor=self.reactor))
        for c in self.controllers:
            c.startService()
        from kubeapi.auth.authn import setup

        self.reloader = setup.start_reloader(self.reloadable, self.reactor)
        self.configmap_publisher = setup.ConfigMapPublisher(self.apiserver, o, self.reactor)
        self.configmap_publisher.start()

    def stopService(self) -> Deferred[None]:
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        """As kube-apiserver on SIGTERM: /readyz fails at once; serve on for
        --shutdown-delay-duration; stop accepting; end watches; let in-flight requests
        finish (up to --request-timeout); then controllers and storage stop."""
        self.shutting_down = True
        self.apiserver.begin_shutdown()
        workers_stopped = self.workers.stopService() if self.workers is not None else None
        if getattr(self, "_parent_watch", None) is not None:
            self._parent_watch.stop()
        if getattr(self, "_trimmer", None) is not None:
            self._trimmer.stop()
        sdnotify.notify("STOPPING=1")
        log.info("kubeapi: shutting down")
        delay = self.options["shutdown-delay-duration"]
        if delay > 0 and self.reactor.running:
            await deferLater(self.reactor, delay, lambda: None)
        for name in list(self.ports):
            port = self.ports.pop(name)
            try:
                await _maybe_deferred(port.stopListening)
            except Exception:
                log.failure("closing {name} listener", name=name)
        self.apiserver.end_watches()
        deadline = self.reactor.seconds() + self.options["request-timeout"]
        while self.apiserver.requests_in_flight > 0 and self.reactor.running \
                and self.reactor.seconds() < deadline:
            await deferLater(self.reactor, 0.05, lambda: None)
        if workers_stopped is not None:  # before our controllers drop the shared master lease
            await workers_stopped
        for c in reversed(self.controllers):
            try:
                await _maybe_deferred(c.stopService)
            except Exception:
                log.failure("stopping {name}", name=getattr(c, "name", c))
        self.controllers = []
        if getattr(self, "auditor", None) is not None:  # after the in-flight requests' events
            self.auditor.stop()
        self.apiserver.stop_lifecycle()
        if getattr(self, "aggregator", None) is not None:
            self.aggregator.stop()
        for stoppable in (getattr(self, "reloader", None), getattr(self, "configmap_publisher", None)):
            if stoppable is not None and getattr(stoppable, "running", True):
                stoppable.stop()
        if self.apiserver.flowcontrol is not None:
            self.apiserver.flowcontrol.stop()
        counter = getattr(self, "_object_counter", None)
        if counter is not None and counter.running:
            counter.stop()
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
                    config_file: str | None = None, catalog: Any = None) -> list[Any]:
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

    plugins, skipped = build(names, PluginContext(storage, prefix, media_type, conf, clock=reactor, catalog=catalog))
    log.info("Loaded {n} admission plugin(s): {names}", n=len(plugins), names=", ".join(p.name for p in plugins))
    if skipped:
        log.info("Admission plugins not implemented here (skipped): {names}", names=", ".join(skipped))
    return plugins


def makeService(options: Options) -> MultiService:
    """The twistd entry point (see twisted/plugins/kubeapi_plugin.py)."""
    return KubeAPIService(options)
