"""Prometheus metrics under upstream's names, in a registry owned by one APIServer
(so several servers in one test process do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from kubeapi.server.requestinfo import RequestInfo

_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component")
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


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, dry run value, group, version, "
            "resource, scope, component, and HTTP response code.",
            _LABELS + ("code",), registry=self.registry)
        self.duration = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, version, "
            "resource, subresource, scope and component.",
            _LABELS, buckets=_BUCKETS, registry=self.registry)
        self.inflight = Gauge(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per request "
            "kind in last second.", ("request_kind",), registry=self.registry)
        self.watchers = Gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, version, "
            "resource, scope and component.",
            ("verb", "group", "version", "resource", "subresource", "scope", "component"),
            registry=self.registry)

    def observe(self, method: str, info: RequestInfo, code: int, seconds: float, dry_run: bool = False,
                patch_type: str = "") -> None:
        verb = metrics_verb(method, info, patch_type)
        labels = (verb, "All" if dry_run else "", info.api_group, info.api_version,
                  info.resource, info.subresource, metrics_scope(info), "apiserver")
        self.requests.labels(*labels, str(code)).inc()
        if verb not in ("WATCH", "CONNECT"):
            self.duration.labels(*labels).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
