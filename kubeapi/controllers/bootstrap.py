"""The bootstrap controller: the objects every cluster has from its first second.

On start, and then every ``interval`` seconds, it makes sure the system namespaces exist and
that the ``kubernetes`` Service in ``default`` (with its Endpoints and EndpointSlice) exists.
With the ``lease`` endpoint reconciler (upstream's default) each pass first renews this
server's master lease (kubeapi/controllers/leases.py), then sets the endpoints to the sorted
IPs of every live lease, so several servers on one store all appear; on stop the lease is
removed and the endpoints reconciled at once.  ``none`` leaves the Endpoints/EndpointSlice
alone.  Every step is get → create-or-update, writes only when something differs, and
tolerates losing a race to another kubeapi doing the same, so it is idempotent.
Until the first full pass succeeds, ``/readyz`` reports ``poststarthook/bootstrap-controller``
as failing.
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from kubeapi.controllers.builtin_objects import ensure_builtin_objects
from kubeapi.controllers.leases import MasterLeases
from kubeapi.errors import StatusError
from kubeapi.registry.options import WriteOptions
from kubeapi.registry.store import ResourceStore

log = Logger()

Obj = dict[str, Any]
StoreLookup = Callable[[str, str, str], ResourceStore]

LEGACY_TOKEN_TRACKING = "kube-apiserver-legacy-service-account-token-tracking"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SERVICE_NAME = "kubernetes"
SERVICE_NAMESPACE = "default"
SERVICE_PORT = 443
PORT_NAME = "https"
READYZ_CHECK = "poststarthook/bootstrap-controller"
MAX_ATTEMPTS = 5
STOP_TIMEOUT = 5.0  # bound on removing our lease at shutdown
RECONCILER_LEASE = "lease"
RECONCILER_NONE = "none"
ENDPOINT_RECONCILER_TYPES = (RECONCILER_LEASE, RECONCILER_NONE)


# Upstream's poststarthook/scheduling/bootstrap-system-priority-classes.
SYSTEM_PRIORITY_CLASSES = (
    ("system-node-critical", 2000001000,
     "Used for system critical pods that must not be moved from their current node."),
    ("system-cluster-critical", 2000000000,
     "Used for system critical pods that must run in the cluster, but can be moved to another node "
     "if necessary."),
)


def kubernetes_service(cluster_ip: str, secure_port: int) -> Obj:
    family = "IPv6" if ipaddress.ip_address(cluster_ip).version == 6 else "IPv4"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE_NAME, "namespace": SERVICE_NAMESPACE,
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "protocol": "TCP", "targetPort": secure_port}],
            "sessionAffinity": "None",
            "ipFamilies": [family],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
    }


def _family(address: str) -> str:
    return "IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4"


def _addresses(addresses: str | list[str]) -> list[str]:
    return [addresses] if isinstance(addresses, str) else list(addresses)


def kubernetes_endpoints(addresses: str | list[str], secure_port: int) -> Obj:
    """The Endpoints: one subset listing every apiserver address (in the order given)."""
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": SERVICE_NAME, "namespace": SERVICE_NAMESPACE,
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": a} for a in _addresses(addresses)],
                     "ports": [{"name": PORT_NAME, "port": secure_port, "protocol": "TCP"}]}],
    }


def kubernetes_endpoint_slice(addresses: str | list[str], secure_port: int, family: str | None = None) -> Obj:
    """The EndpointSlice: one endpoint per address of ``family`` (default: the first's)."""
    addrs = _addresses(addresses)
    family = family or _family(addrs[0])
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": SERVICE_NAME, "namespace": SERVICE_NAMESPACE,
                     "labels": {"kubernetes.io/service-name": SERVICE_NAME}},
        "addressType": family,
        "endpoints": [{"addresses": [a], "conditions": {"ready": True}}
                      for a in addrs if _family(a) == family],
        "ports": [{"name": PORT_NAME, "port": secure_port, "protocol": "TCP"}],
    }


def _ours_differ(current: Obj, desired: Obj, fields: tuple[str, ...]) -> bool:
    """True when a field we own (top-level or ``spec.x``) or one of our labels differs."""
    labels = current.get("metadata", {}).get("labels") or {}
    for k, v in (desired["metadata"].get("labels") or {}).items():
        if labels.get(k) != v:
            return True
    for f in fields:
        head, _, tail = f.partition(".")
        cur, want = current.get(head), desired.get(head)
        if tail:
            cur = (cur or {}).get(tail)
            want = (want or {}).get(tail)
        if cur != want:
            return True
    return False


def _merge(current: Obj, desired: Obj, fields: tuple[str, ...]) -> Obj:
    out = copy.deepcopy(current)
    meta = out.setdefault("metadata", {})
    labels = dict(meta.get("labels") or {})
    labels.update(desired["metadata"].get("labels") or {})
    meta["labels"] = labels
    for f in fields:
        head, _, tail = f.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = copy.deepcopy(desired[head][tail])
        else:
            out[head] = copy.deepcopy(desired[head])
    return out


class BootstrapController(Service):
    """Creates and keeps the cluster's built-in objects; see the module docstring.

    ``leases`` is the shared lease store for the ``lease`` reconciler; without it the
    endpoints list only this server (a lone server, or tests)."""

    name = "bootstrap-controller"

    def __init__(self, stores: StoreLookup, *, advertise_address: str, secure_port: int,
                 service_ip: str, interval: float = 10.0, reactor: Any = None,
                 endpoint_reconciler: str = RECONCILER_LEASE, leases: MasterLeases | None = None,
                 keep_lease_on_stop: bool = False) -> None:
        if endpoint_reconciler not in ENDPOINT_RECONCILER_TYPES:
            raise ValueError(f"unknown endpoint reconciler {endpoint_reconciler!r}")
        self.stores = stores
        self.advertise_address = advertise_address
        self.secure_port = secure_port
        self.service_ip = service_ip
        self.interval = interval
        self.endpoint_reconciler = endpoint_reconciler
        self.leases = leases
        self.keep_lease_on_stop = keep_lease_on_stop  # another process shares the lease (--workers)
        self.done = False
        self._stopping = False
        self._loop: LoopingCall | None = None
        self._loop_done: Deferred[Any] | None = None
        self._inflight: Deferred[None] | None = None
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor

    # -- lifecycle -------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._stopping = False
        self._loop = LoopingCall(self._tick)
        self._loop.clock = self.reactor
        self._loop_done = self._loop.start(self.interval, now=True)
        self._loop_done.addErrback(lambda f: log.failure("bootstrap loop died", f))

    def stopService(self) -> Deferred[None] | None:
        """Stop the loop; with leases, also drop ours and take our address out at once."""
        super().stopService()
        self._stopping = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self.endpoint_reconciler != RECONCILER_LEASE or self.leases is None or self.keep_lease_on_stop:
            return None
        d = Deferred.fromCoroutine(self._release())
        d.addTimeout(STOP_TIMEOUT, self.reactor)
        d.addErrback(lambda f: log.warn("bootstrap: could not remove master lease: {err}",
                                        err=f.getErrorMessage()))
        return d

    async def _release(self) -> None:
        inflight = self._inflight
        if inflight is not None and not inflight.called:
            # Let a running pass finish first, so it cannot renew the lease we remove.
            finished: Deferred[None] = Deferred()

            def passed_on(result: Any) -> Any:
                finished.callback(None)
                return result

            inflight.addBoth(passed_on)
            await finished
        assert self.leases is not None
        await self.leases.remove(self.advertise_address)
        await self._reconcile_endpoints()
        log.info("bootstrap: removed master lease for {ip}", ip=self.advertise_address)

    async def ready(self) -> bool:
        """The readyz check ``poststarthook/bootstrap-controller``."""
        return self.done

    def _tick(self) -> Deferred[None]:
        d = Deferred.fromCoroutine(self.reconcile())
        d.addErrback(lambda f: log.warn("bootstrap: {err}", err=f.getErrorMessage()))
        self._inflight = d
        return d

    # -- the work ----------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """One full pass; raises if something could not be made right (tried again next tick)."""
        for ns in SYSTEM_NAMESPACES:
            await self._ensure_namespace(ns)
        await self._ensure(("", "v1", "services"), kubernetes_service(self.service_ip, self.secure_port),
                           ("spec.ports",))
        if self.endpoint_reconciler == RECONCILER_LEASE and not self._stopping:
            if self.leases is not None:
                # Renew first, whatever happens below, so other servers keep listing us.
                await self.leases.update(self.advertise_address)
            await self._reconcile_endpoints()
        await self._ensure_priority_classes()
        await self._ensure_legacy_token_tracking()
        if not self.done:
            await ensure_builtin_objects(self.stores)  # local APIServices, flowcontrol bootstrap
        if not self.done:
            log.info("bootstrap: system namespaces and the kubernetes service are in place")
        self.done = True

    async def _endpoint_ips(self) -> list[str] | None:
        """The addresses the endpoints should list now; None = refuse to write (no lease)."""
        if self.leases is None:
            return [self.advertise_address]
        ips = await self.leases.list()
        if not ips:
            # As upstream: an empty list means trouble (or we were the last one); never erase.
            if not self._stopping:
                log.warn("bootstrap: no master leases in storage; leaving the kubernetes endpoints alone")
            return None
        return ips

    async def _reconcile_endpoints(self) -> None:
        """Endpoints and EndpointSlice = the live leases' IPs; each is read before the leases
        are listed, so a write made from a stale list loses its compare-and-swap."""
        port = self.secure_port
        family = _family(self.advertise_address)

        async def endpoints() -> Obj | None:
            ips = await self._endpoint_ips()
            return None if ips is None else kubernetes_endpoints(ips, port)

        async def endpoint_slice() -> Obj | None:
            ips = await self._endpoint_ips()
            return None if ips is None else kubernetes_endpoint_slice(ips, port, family)

        await self._ensure(("", "v1", "endpoints"), endpoints, ("subsets",),
                           name=(SERVICE_NAMESPACE, SERVICE_NAME))
        await self._ensure(("discovery.k8s.io", "v1", "endpointslices"), endpoint_slice,
                           ("addressType", "endpoints", "ports"), name=(SERVICE_NAMESPACE, SERVICE_NAME))

    async def _ensure_priority_classes(self) -> None:
        """Create the two system PriorityClasses when the catalog serves them; never change
        them afterwards (their value is immutable)."""
        try:
            store = self.stores("scheduling.k8s.io", "v1", "priorityclasses")
        except (StatusError, KeyError):
            return
        for name, value, description in SYSTEM_PRIORITY_CLASSES:
            try:
                await store.get("", name)
                continue
            except StatusError as e:
                if e.code != 404:
                    raise
            try:
                await store.create("", {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                        "metadata": {"name": name}, "value": value,
                                        "description": description, "preemptionPolicy": "PreemptLowerPriority"},
                                   WriteOptions())
            except StatusError as e:
                if e.code != 409:
                    raise

    async def _ensure_legacy_token_tracking(self) -> None:
        """kube-system/kube-apiserver-legacy-service-account-token-tracking records since when
        the server tracks use of legacy service-account tokens; kube-controller-manager's
        legacy token cleaner reads it.  Made once (``since`` = today, UTC), mended if unparsable."""
        store = self.stores("", "v1", "configmaps")
        today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
        try:
            current = await store.get("kube-system", LEGACY_TOKEN_TRACKING)
        except StatusError as e:
            if e.code != 404:
                raise
            try:
                await store.create("kube-system", {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"namespace": "kube-system", "name": LEGACY_TOKEN_TRACKING},
                    "data": {"since": today}}, WriteOptions())
            except StatusError as e2:
                if e2.code != 409:
                    raise
            return
        try:
            datetime.datetime.strptime((current.get("data") or {}).get("since", ""), "%Y-%m-%d")
        except ValueError:
            current["data"] = dict(current.get("data") or {}, since=today)
            try:
                await store.update("kube-system", LEGACY_TOKEN_TRACKING, current, WriteOptions())
            except StatusError as e:
                if e.code not in (409, 404):
                    raise

    async def _ensure_namespace(self, name: str) -> None:
        store = self.stores("", "v1", "namespaces")
        for _ in range(MAX_ATTEMPTS):
            try:
                await store.get("", name)
                return
            except StatusError as e:
                if e.code != 404:
                    raise
            try:
                await store.create("", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                                   WriteOptions())
                return
            except StatusError as e:
                if e.code != 409:  # 409: another server made it first
                    raise
        raise RuntimeError(f"could not ensure namespace {name}")

    async def _ensure(self, gvr: tuple[str, str, str], desired: Obj | Callable[[], Awaitable[Obj | None]],
                      fields: tuple[str, ...], *, name: tuple[str, str] | None = None) -> None:
        """Create or update the object so ``fields`` match; ``desired`` may be a coroutine
        function, evaluated after each read (None = leave the object alone)."""
        store = self.stores(*gvr)
        if name is None:
            assert isinstance(desired, dict)
            name = (desired["metadata"]["namespace"], desired["metadata"]["name"])
        ns, obj_name = name
        for _ in range(MAX_ATTEMPTS):
            current: Obj | None
            try:
                current = await store.get(ns, obj_name)
            except StatusError as e:
                if e.code != 404:
                    raise
                current = None
            want = desired if isinstance(desired, dict) else await desired()
            if want is None:
                return
            if current is None:
                try:
                    await store.create(ns, copy.deepcopy(want), WriteOptions())
                    return
                except StatusError as e2:
                    # 409 AlreadyExists, or 422 when a racing server took the ClusterIP first.
                    if e2.code not in (409, 422):
                        raise
                    continue
            if not _ours_differ(current, want, fields):
                return
            try:
                await store.update(ns, obj_name, _merge(current, want, fields), WriteOptions())
                return
            except StatusError as e:
                if e.code not in (409, 404):
                    raise
        raise RuntimeError(f"could not reconcile {gvr[2]} {ns}/{obj_name}")
