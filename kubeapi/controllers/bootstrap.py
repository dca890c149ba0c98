"""The bootstrap controller: the objects every cluster has from its first second.

On start, and then every ``interval`` seconds, it makes sure the system namespaces exist and
that the ``kubernetes`` Service in ``default`` (with its Endpoints and EndpointSlice) points
at this server's ``--advertise-address:--secure-port``.  Every step is get → create-or-update
and tolerates losing a race to another kubeapi doing the same, so it is idempotent.
Until the first full pass succeeds, ``/readyz`` reports ``poststarthook/bootstrap-controller``
as failing.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from kubeapi.errors import StatusError
from kubeapi.registry.options import WriteOptions
from kubeapi.registry.store import ResourceStore

log = Logger()

Obj = dict[str, Any]
StoreLookup = Callable[[str, str, str], ResourceStore]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SERVICE_NAME = "kubernetes"
SERVICE_NAMESPACE = "default"
SERVICE_PORT = 443
PORT_NAME = "https"
READYZ_CHECK = "poststarthook/bootstrap-controller"
MAX_ATTEMPTS = 5


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


def kubernetes_endpoints(address: str, secure_port: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": SERVICE_NAME, "namespace": SERVICE_NAMESPACE,
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": address}],
                     "ports": [{"name": PORT_NAME, "port": secure_port, "protocol": "TCP"}]}],
    }


def kubernetes_endpoint_slice(address: str, secure_port: int) -> Obj:
    family = "IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4"
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": SERVICE_NAME, "namespace": SERVICE_NAMESPACE,
                     "labels": {"kubernetes.io/service-name": SERVICE_NAME}},
        "addressType": family,
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
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
    """Creates and keeps the cluster's built-in objects; see the module docstring."""

    name = "bootstrap-controller"

    def __init__(self, stores: StoreLookup, *, advertise_address: str, secure_port: int,
                 service_ip: str, interval: float = 10.0, reactor: Any = None) -> None:
        self.stores = stores
        self.advertise_address = advertise_address
        self.secure_port = secure_port
        self.service_ip = service_ip
        self.interval = interval
        self.done = False
        self._loop: LoopingCall | None = None
        self._loop_done: Deferred[Any] | None = None
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.reactor = reactor

    # -- lifecycle -------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._loop = LoopingCall(self._tick)
        self._loop.clock = self.reactor
        self._loop_done = self._loop.start(self.interval, now=True)
        self._loop_done.addErrback(lambda f: log.failure("bootstrap loop died", f))

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        return None

    async def ready(self) -> bool:
        """The readyz check ``poststarthook/bootstrap-controller``."""
        return self.done

    def _tick(self) -> Deferred[None]:
        d = Deferred.fromCoroutine(self.reconcile())
        d.addErrback(lambda f: log.warn("bootstrap: {err}", err=f.getErrorMessage()))
        return d

    # -- the work ----------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """One full pass; raises if something could not be made right (tried again next tick)."""
        for ns in SYSTEM_NAMESPACES:
            await self._ensure_namespace(ns)
        await self._ensure(("", "v1", "services"), kubernetes_service(self.service_ip, self.secure_port),
                           ("spec.ports",))
        await self._ensure(("", "v1", "endpoints"),
                           kubernetes_endpoints(self.advertise_address, self.secure_port), ("subsets",))
        await self._ensure(("discovery.k8s.io", "v1", "endpointslices"),
                           kubernetes_endpoint_slice(self.advertise_address, self.secure_port),
                           ("addressType", "endpoints", "ports"))
        await self._ensure_priority_classes()
        if not self.done:
            log.info("bootstrap: system namespaces and the kubernetes service are in place")
        self.done = True

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

    async def _ensure(self, gvr: tuple[str, str, str], desired: Obj, fields: tuple[str, ...]) -> None:
        store = self.stores(*gvr)
        ns, name = desired["metadata"]["namespace"], desired["metadata"]["name"]
        for _ in range(MAX_ATTEMPTS):
            try:
                current = await store.get(ns, name)
            except StatusError as e:
                if e.code != 404:
                    raise
                try:
                    await store.create(ns, copy.deepcopy(desired), WriteOptions())
                    return
                except StatusError as e2:
                    # 409 AlreadyExists, or 422 when a racing server took the ClusterIP first.
                    if e2.code not in (409, 422):
                        raise
                    continue
            if not _ours_differ(current, desired, fields):
                return
            try:
                await store.update(ns, name, _merge(current, desired, fields), WriteOptions())
                return
            except StatusError as e:
                if e.code not in (409, 404):
                    raise
        raise RuntimeError(f"could not reconcile {gvr[2]} {ns}/{name}")
