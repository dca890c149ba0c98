"""Prometheus metrics under upstream's names, in a registry owned by one APIServer
(so several servers in one test process do not collide)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from kubeapi.server.histogram import ReactorCounter, ReactorGauge, ReactorHistogram
from kubeapi.server.requestinfo import RequestInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component")
disable_created_metrics()  # upstream exposes no *_created series
_LONG_LABELS = ("verb", "group", "version", "resource", "subresource", "scope", "component")
_SIZE_BUCKETS = tuple(1000.0 * 10**i for i in range(7))  # 1 kB .. 1 GB, as upstream
_ADMISSION_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1.0, 2.5)  # upstream's, for step and controller
_WEBHOOK_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 10, 25)
_POLICY_BUCKETS = (0.0000005, 0.001, 0.01, 0.1, 1.0)
_APF_WAIT_BUCKETS = (0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30)
_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10,
            15, 20, 30, 45, 60)


def metrics_verb(method: str, info: RequestInfo, patch_type: str = "") -> str:
    """Upstream's cleanVerb: LIST/WATCH for collection GETs, APPLY for server-side apply."""
    if info.verb == "list":
        return "LIST"
    if info.verb == "watch":
        return "WATCH"
    if method == "PATCH" and patch_type == "application/apply-patch+yaml":
        return "APPLY"
    if info.verb == "connect" or (info.subresource in ("exec", "attach", "portforward") and method == "POST"):
        return "CONNECT"
    return method.upper()


def metrics_scope(info: RequestInfo) -> str:
    if not info.is_resource_request:
        return ""
    if info.namespace and info.resource != "namespaces":
        return "resource" if info.name else "namespace"
    return "resource" if info.name else "cluster"


class _WatchCacheCollector:
    """apiserver_watch_cache_* read from the cache's own counters at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        source = self.metrics.watch_cache_stats
        if source is None:
            return
        labels = ("group", "resource")
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            "events_received": CounterMetricFamily(
                "apiserver_watch_cache_events_received",
                "Counter of events received in watch cache broken by resource type.", labels=labels),
            "initializations": CounterMetricFamily(
                "apiserver_watch_cache_initializations",
                "Counter of watch cache initializations broken by resource type.", labels=labels),
            "events_dispatched": CounterMetricFamily(
                "apiserver_watch_cache_events_dispatched",
                "Counter of events dispatched in watch cache broken by resource type.", labels=labels),
            "resource_version": GaugeMetricFamily(
                "apiserver_watch_cache_resource_version",
                "Current resource version of watch cache broken by resource type.", labels=labels),
            "capacity": GaugeMetricFamily(
                "apiserver_watch_cache_capacity", "Total capacity of watch cache broken by resource type.",
                labels=labels),
        }
        for group, resource, stats in source():
            for field, family in families.items():
                family.add_metric((group, resource), getattr(stats, field))
        yield from families.values()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # process_cpu_seconds_total, process_resident_memory_bytes, process_start_time_seconds...
        # as upstream's component-base registers them (and, under --workers, per worker).
        ProcessCollector(registry=self.registry)
        self._request_children: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}
        self._admission_children: dict[tuple[str, str, str, bool], Any] = {}
        self.requests = ReactorCounter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, dry run value, group, version, "
            "resource, scope, component, and HTTP response code.",
            _LABELS + ("code",), registry=self.registry)
        self.duration = ReactorHistogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, version, "
            "resource, subresource, scope and component.",
            _LABELS, buckets=_BUCKETS, registry=self.registry)
        self.inflight = ReactorGauge(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per request "
            "kind in last second.", ("request_kind",), registry=self.registry)
        # The two children every request touches, looked up once.
        self.inflight_by_kind = {kind: self.inflight.labels(kind) for kind in ("readOnly", "mutating")}
        self.watchers = Gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, version, "
            "resource, scope and component.",
            ("verb", "group", "version", "resource", "subresource", "scope", "component"),
            registry=self.registry)
        self.response_sizes = ReactorHistogram(
            "apiserver_response_sizes",
            "Response size distribution in bytes for each group, version, verb, resource, subresource, "
            "scope and component.", _LONG_LABELS, buckets=_SIZE_BUCKETS, registry=self.registry)
        self.watch_events = ReactorCounter(  # counted once per watcher per event: a plain number
            "apiserver_watch_events_total", "Number of events sent in watch clients",
            ("group", "version", "resource"), registry=self.registry)
        self.storage_objects = Gauge(
            "apiserver_storage_objects", "Number of stored objects at the time of last check split by kind.",
            ("resource",), registry=self.registry)
        self.etcd_duration = ReactorHistogram(
            "etcd_request_duration_seconds",
            "Etcd request latency in seconds for each operation and object type.",
            ("operation", "group", "resource"), buckets=_BUCKETS, registry=self.registry)
        self._flowcontrol()
        self._admission()
        self._admission_extensions()
        # (group, resource, CacheStats) per cached resource; set by the APIServer when its
        # storage is a watch cache.
        self.watch_cache_stats: Callable[[], Iterable[tuple[str, str, Any]]] | None = None
        self.registry.register(_WatchCacheCollector(self))

    def _admission(self) -> None:
        """apiserver_admission_*: each admission step and each plugin's time, rejected or not."""
        self.admission_step = ReactorHistogram(
            "apiserver_admission_step_admission_duration_seconds",
            "Admission sub-step latency histogram in seconds, broken out for each operation and API "
            "resource and step type (validate or admit).",
            ("type", "operation", "rejected"), buckets=_ADMISSION_BUCKETS, registry=self.registry)
        self.admission_controller = ReactorHistogram(
            "apiserver_admission_controller_admission_duration_seconds",
            "Admission controller latency histogram in seconds, identified by name and broken out for "
            "each operation and API resource and type (validate or admit).",
            ("name", "type", "operation", "rejected"), buckets=_ADMISSION_BUCKETS, registry=self.registry)

    def _admission_extensions(self) -> None:
        """apiserver_admission_webhook_* and apiserver_validating_admission_policy_*."""
        self.webhook_duration = Histogram(
            "apiserver_admission_webhook_admission_duration_seconds",
            "Admission webhook latency histogram in seconds, identified by name and broken out for each "
            "operation and API resource and type (validate or admit).",
            ("name", "type", "operation", "rejected"), buckets=_WEBHOOK_BUCKETS, registry=self.registry)
        self.webhook_requests = Counter(
            "apiserver_admission_webhook_request_total",
            "Admission webhook request total, identified by name and broken out for each admission type "
            "(validating or mutating) and operation.",
            ("name", "type", "operation", "code", "rejected"), registry=self.registry)
        self.webhook_rejections = Counter(
            "apiserver_admission_webhook_rejection_count",
            "Admission webhook rejection count, identified by name and broken out for each admission type "
            "(validating or admit) and operation.",
            ("name", "type", "operation", "error_type", "rejection_code"), registry=self.registry)
        self.webhook_fail_opens = Counter(
            "apiserver_admission_webhook_fail_open_count",
            "Admission webhook fail open count, identified by name and broken out for each admission type "
            "(validating or admit).", ("name", "type"), registry=self.registry)
        self.policy_checks = Counter(
            "apiserver_validating_admission_policy_check_total",
            "Validation admission policy check total, labeled by policy and further identified by binding "
            "and enforcement action taken.",
            ("policy", "policy_binding", "error_type", "enforcement_action"), registry=self.registry)
        self.policy_duration = Histogram(
            "apiserver_validating_admission_policy_check_duration_seconds",
            "Validation admission latency for individual validation expressions in seconds, labeled by "
            "policy and further including binding and enforcement action taken.",
            ("policy", "policy_binding", "error_type", "enforcement_action"), buckets=_POLICY_BUCKETS,
            registry=self.registry)

    def observe_webhook(self, name: str, kind: str, operation: str, rejected: bool, seconds: float,
                        code: int) -> None:
        flag = "true" if rejected else "false"
        self.webhook_duration.labels(name, kind, operation, flag).observe(seconds)
        self.webhook_requests.labels(name, kind, operation, str(code), flag).inc()

    def webhook_rejected(self, name: str, kind: str, operation: str, error_type: str, code: int) -> None:
        self.webhook_rejections.labels(name, kind, operation, error_type, str(code)).inc()

    def webhook_fail_open(self, name: str, kind: str) -> None:
        self.webhook_fail_opens.labels(name, kind).inc()

    def observe_policy(self, policy: str, binding: str, error_type: str, action: str, seconds: float) -> None:
        self.policy_checks.labels(policy, binding, error_type, action).inc()
        self.policy_duration.labels(policy, binding, error_type, action).observe(seconds)

    def observe_admission(self, plugin: str, phase: str, operation: str, rejected: bool, seconds: float) -> None:
        """The AdmissionChain's observer: a plugin's time, or the whole step's when plugin is ""."""
        key = (plugin, phase, operation, rejected)
        child = self._admission_children.get(key)
        if child is None:
            flag = "true" if rejected else "false"
            child = (self.admission_controller.labels(plugin, phase, operation, flag) if plugin
                     else self.admission_step.labels(phase, operation, flag))
            self._admission_children[key] = child  # bounded: plugin names and operations are fixed sets
        child.observe(seconds)

    def _flowcontrol(self) -> None:
        """apiserver_flowcontrol_*: what API Priority and Fairness does, per level and schema."""
        pl_fs = ("priority_level", "flow_schema")
        self.rejected = Counter("apiserver_flowcontrol_rejected_requests_total",
                                "Number of requests rejected by API Priority and Fairness subsystem",
                                pl_fs + ("reason",), registry=self.registry)
        self.dispatched = ReactorCounter("apiserver_flowcontrol_dispatched_requests_total",
                                  "Number of requests executed by API Priority and Fairness subsystem",
                                  pl_fs, registry=self.registry)
        self.inqueue = Gauge("apiserver_flowcontrol_current_inqueue_requests",
                             "Number of requests currently pending in queues of the API Priority and "
                             "Fairness subsystem", pl_fs, registry=self.registry)
        self.executing = Gauge("apiserver_flowcontrol_current_executing_requests",
                               "Number of requests in initial (for a WATCH) or any (for a non-WATCH) "
                               "execution stage in the API Priority and Fairness subsystem",
                               pl_fs, registry=self.registry)
        self.wait = Histogram("apiserver_flowcontrol_request_wait_duration_seconds",
                              "Length of time a request spent waiting in its queue", pl_fs + ("execute",),
                              buckets=_APF_WAIT_BUCKETS, registry=self.registry)
        self.execution = Histogram("apiserver_flowcontrol_request_execution_seconds",
                                   "Duration of initial stage (for a WATCH) or any (for a non-WATCH) stage "
                                   "of request execution in the API Priority and Fairness subsystem",
                                   pl_fs + ("type",), buckets=_APF_WAIT_BUCKETS, registry=self.registry)
        for name, text in (("nominal", "Nominal number of execution seats configured for each priority level"),
                           ("lower", "Configured lower bound on number of execution seats available to each "
                                     "priority level"),
                           ("upper", "Configured upper bound on number of execution seats available to each "
                                     "priority level"),
                           ("current", "current derived number of execution seats available to each "
                                       "priority level")):
            setattr(self, f"{name}_limit_seats", Gauge(f"apiserver_flowcontrol_{name}_limit_seats", text,
                                                       ("priority_level",), registry=self.registry))

    def observe(self, method: str, info: RequestInfo, code: int, seconds: float, size: int,
                dry_run: bool = False, patch_type: str = "") -> None:
        """One finished request: its count, its duration and its response size."""
        key = (method, info.verb, info.is_resource_request, info.api_group, info.api_version, info.resource,
               info.subresource, bool(info.namespace), bool(info.name), dry_run, patch_type, code)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children_for(method, info, code, dry_run, patch_type)
            if len(self._request_children) > 10_000:  # label values come from clients: stay bounded
                self._request_children.clear()
            self._request_children[key] = children
        total, duration, sizes = children
        total.inc()
        if duration is not None:
            duration.observe(seconds)
            sizes.observe(size)

    def _request_children_for(self, method: str, info: RequestInfo, code: int, dry_run: bool,
                              patch_type: str) -> tuple[Any, Any, Any]:
        verb = metrics_verb(method, info, patch_type)
        scope = metrics_scope(info)
        labels = (verb, "All" if dry_run else "", info.api_group, info.api_version,
                  info.resource, info.subresource, scope, "apiserver")
        total = self.requests.labels(*labels, str(code))
        if verb in ("WATCH", "CONNECT"):  # long-running: counted, not timed or sized
            return total, None, None
        return total, self.duration.labels(*labels), self.response_sizes.labels(
            verb, info.api_group, info.api_version, info.resource, info.subresource, scope, "apiserver")

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
