"""The policy-driven AuditRecorder: builds one Event per request and hands each stage's
snapshot to the configured backends (log file, webhook).

Request and response bodies are only referenced on the RequestContext by the handlers; they
are decoded or stripped here, and only when the request's level asks for them.
"""

from __future__ import annotations

import logging
import queue
from dataclasses import dataclass
from typing import Any, cast

import orjson
import yaml
from prometheus_client import CollectorRegistry, Counter
from twisted.internet import defer

from kubeapi.audit import event as evmod
from kubeapi.audit.batch import BatchBuffer, Truncator
from kubeapi.audit.log import RotatingFile, StdoutSink, WriterThread
from kubeapi.audit.policy import METADATA, NONE, REQUEST, REQUEST_RESPONSE, Decision, Policy, level_at_least
from kubeapi.audit.recorder import PANIC, REQUEST_RECEIVED, RESPONSE_COMPLETE, RESPONSE_STARTED
from kubeapi.audit.webhook import WebhookBackend
from kubeapi.auth.authenticator import peer_certificates
from kubeapi.errors import StatusError, internal_error
from kubeapi.server import negotiation

log = logging.getLogger(__name__)
BLOCKING, BLOCKING_STRICT, BATCH = "blocking", "blocking-strict", "batch"


class AuditMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.events = Counter("apiserver_audit_event_total",
                              "Counter of audit events generated and sent to the audit backend.",
                              registry=r)
        self.errors = Counter("apiserver_audit_error_total",
                              "Counter of audit events that failed to be audited properly. Plugin "
                              "identifies the plugin affected by the error.", ("plugin",), registry=r)
        self.levels = Counter("apiserver_audit_level_total",
                              "Counter of policy levels for audit events (1 per request).", ("level",),
                              registry=r)
        self.rejected = Counter("apiserver_audit_requests_rejected_total",
                                "Counter of apiserver requests rejected due to an error in audit "
                                "logging backend.", registry=r)


class LogBackend:
    """Events to the writer thread: ``blocking`` modes hand back the write's Deferred."""

    name = "log"

    def __init__(self, writer: WriterThread, fmt: str, mode: str, metrics: AuditMetrics,
                 truncator: Truncator | None = None) -> None:
        self.writer, self.fmt, self.mode, self.metrics = writer, fmt, mode, metrics
        self.truncator = truncator
        writer.on_error = lambda n, err: self._error(n, err)

    def _error(self, n: int, err: Any) -> None:
        log.warning("writing %d audit events failed: %s", n, err)
        self.metrics.errors.labels(self.name).inc(n)

    def process(self, ev: evmod.Event) -> defer.Deferred[None] | None:
        if self.truncator is not None:
            small, _ = self.truncator.event(ev)
            if small is None:
                self.metrics.errors.labels("truncate").inc()
                return None
            ev = small
        line = evmod.legacy_line(ev) if self.fmt == "legacy" else evmod.encode_json(ev)
        # One writer, in order: waiting for a request's later event also covers its
        # RequestReceived, so plain blocking waits once per request; strict waits each time.
        wait = self.mode == BLOCKING_STRICT or (self.mode == BLOCKING and ev.get("stage") != REQUEST_RECEIVED)
        try:
            return self.writer.submit(line, wait)
        except queue.Full:
            self.metrics.errors.labels(self.name).inc()
            if self.mode == BLOCKING_STRICT:
                return defer.fail(OSError("the audit log queue is full"))
            return None

    def stop(self) -> None:
        self.writer.stop()


class WebhookSink:
    name = "webhook"

    def __init__(self, backend: WebhookBackend, mode: str, metrics: AuditMetrics, clock: Any,
                 batch: dict[str, Any], truncator: Truncator | None = None) -> None:
        self.backend, self.mode, self.metrics, self.truncator = backend, mode, metrics, truncator
        self.buffer = BatchBuffer(self._send, clock, on_drop=self._dropped, **batch) if mode == BATCH else None

    def _dropped(self, n: int) -> None:
        self.metrics.errors.labels(self.name).inc(n)

    def _send(self, events: list[evmod.Event]) -> defer.Deferred[None]:
        batches = [events]
        if self.truncator is not None:
            batches, dropped = self.truncator.split(events)
            if dropped:
                self.metrics.errors.labels("truncate").inc(dropped)
        ds = []
        for b in batches:
            d = self.backend.send_deferred(b)

            def failed(f: Any, n: int = len(b)) -> None:
                if f.check(defer.CancelledError):
                    return  # abandoned at shutdown, counted there
                log.warning("audit webhook: %s", f.getErrorMessage())
                self.metrics.errors.labels(self.name).inc(n)
                if self.mode == BLOCKING_STRICT:
                    f.raiseException()  # the caller (RequestReceived) fails the request
            ds.append(d.addErrback(failed))
        return defer.gatherResults(ds).addCallback(lambda _: None)

    def process(self, ev: evmod.Event) -> defer.Deferred[None] | None:
        if self.buffer is not None:
            self.buffer.add([ev])
            return None
        return self._send([ev])

    def stop(self) -> None:
        if self.buffer is not None:
            left = self.buffer.shutdown()
            if left:
                log.warning("audit webhook: %d buffered events dropped at shutdown", left)
                self.metrics.errors.labels(self.name).inc(left)
        self.backend.stop()


@dataclass
class _State:
    event: evmod.Event
    decision: Decision
    user: Any
    done: bool = False
    body: Any = None  # the decoded request body, once decoded
    decoded: bool = False
    pending: Any = None  # the Panic event's write, waited for at completion


def _auth_methods(ctx: Any) -> str:
    """What a refused request tried, as upstream words it in the event's status message."""
    parts = (ctx.header("authorization") or "").strip().split(" ")
    methods = []
    if len(parts) > 1 and parts[0].lower() == "basic":
        methods.append("basic")
    if len(parts) > 1 and parts[0].lower() == "bearer":
        methods.append("bearer")
    if ctx.param("access_token").strip():
        methods.append("access_token")
    if ctx.secure and peer_certificates(ctx.request):
        methods.append("x509")
    if methods:
        return "Authentication failed, attempted: " + ", ".join(methods)
    return "Authentication failed, no credentials provided"


def _decode_request(ctx: Any) -> Any:
    """The request body as an object: JSON, YAML or protobuf bodies through the server's own
    decoder; a patch as the patch document itself.  None when it cannot be read."""
    data = ctx.request_body
    if not data:
        return None
    ctype = ctx.header("content-type")
    media = negotiation.media_type_of(ctype)
    try:
        if ctx.method == "PATCH":
            return yaml.safe_load(data) if media.endswith("yaml") else orjson.loads(data)
        return negotiation.decode_body(ctype, data, len(data) + 1)
    except Exception:  # an unreadable body is not logged; the handler answers for it
        return None


class Auditor:
    """``AuditRecorder`` with a policy and backends; every method runs on the reactor."""

    def __init__(self, policy: Policy, backends: list[Any], metrics: AuditMetrics) -> None:
        self.policy, self.backends, self.metrics = policy, backends, metrics

    def _emit(self, st: _State, stage: str, strict: bool = False) -> defer.Deferred[None] | None:
        if stage in st.decision.omit_stages:
            return None
        ev = dict(st.event)
        ev["stage"] = stage
        ev["stageTimestamp"] = evmod.micro_time()
        self.metrics.events.inc()
        waits = []
        for b in self.backends:
            try:
                d = b.process(ev)
            except Exception:
                log.exception("audit backend %s failed", b.name)
                self.metrics.errors.labels(b.name).inc()
                continue
            if d is not None:
                if not (strict and getattr(b, "mode", "") == BLOCKING_STRICT):
                    d.addErrback(lambda f: None)  # counted by the backend; the request goes on
                waits.append(d)
        if not waits:
            return None
        out = defer.gatherResults(waits, consumeErrors=True).addCallback(lambda _: None)
        if strict:
            def reject(f: Any) -> None:
                self.metrics.rejected.inc()
                raise internal_error("failed to store audit event")
            out.addErrback(reject)
        return out

    def _fill(self, st: _State, ctx: Any, code: int, final: bool) -> None:
        ev = st.event
        if ctx.user is not None and st.user is not None and ctx.user is not st.user:
            ev["impersonatedUser"] = evmod.user_info(ctx.user)
        if ctx.authz is not None or getattr(ctx, "audit_annotations", None):
            ann = dict(ev.get("annotations") or {})
            if ctx.authz is not None:
                ann["authorization.k8s.io/decision"] = ctx.authz[0]
                ann["authorization.k8s.io/reason"] = ctx.authz[1]
            ann.update(getattr(ctx, "audit_annotations", None) or {})
            ev["annotations"] = ann
        level = st.decision.level
        verb = ev["verb"]
        wants_body = level_at_least(level, REQUEST) or verb in ("create", "update")
        if wants_body and ctx.request_body and not st.decoded:
            st.decoded = True
            st.body = obj = _decode_request(ctx)
            if verb in ("create", "update") and "objectRef" in ev:
                ev["objectRef"] = evmod.fill_ref_from_object(ev["objectRef"], obj)
            if obj is not None and level_at_least(level, REQUEST):
                ev["requestObject"] = (evmod.strip_managed_fields(obj) if st.decision.omit_managed_fields
                                       else obj)
        ev["responseStatus"] = evmod.response_status(code or 200, ctx.response_object if final else None)
        if final and level == REQUEST_RESPONSE and ctx.response_object is not None:
            obj = ctx.response_object
            ev["responseObject"] = (evmod.strip_managed_fields(obj) if st.decision.omit_managed_fields
                                    else obj)

    def _started(self, ctx: Any) -> None:
        st = ctx.audit
        if isinstance(st, _State) and not st.done:
            self._fill(st, ctx, ctx.code, final=False)
            self._emit(st, RESPONSE_STARTED)

    def record(self, stage: str, ctx: Any, code: int | None = None) -> defer.Deferred[None] | None:
        if stage == REQUEST_RECEIVED:
            u = ctx.user
            dec = self.policy.evaluate(u.name if u else "", u.groups if u else (),
                                       evmod.verb_of(ctx), ctx.info, ctx.path)
            self.metrics.levels.labels(dec.level).inc()
            if dec.level == NONE:
                ctx.audit = False
                return None
            st = _State(evmod.new_event(ctx, dec.level, evmod.micro_time()), dec, u)
            ctx.audit = st
            if ctx.long_running:
                ctx.on_response_started = lambda: self._started(ctx)
            return self._emit(st, REQUEST_RECEIVED, strict=True)
        st = ctx.audit
        if st is False:
            return None
        if st is None:
            return self._unauthenticated(ctx, code or ctx.code) if stage == RESPONSE_COMPLETE else None
        if st.done:
            if stage == RESPONSE_COMPLETE:  # after a Panic: its write is what the reply waits for
                d, st.pending = st.pending, None
                return cast("defer.Deferred[None] | None", d)
            return None
        if stage == PANIC:
            st.done = True
            self._fill(st, ctx, 500, final=False)
            st.event["responseStatus"] = {"metadata": {}, "status": "Failure",
                                          "message": "APIServer panic'd", "reason": "InternalError",
                                          "code": 500}
            st.pending = self._emit(st, PANIC)
            return None
        if stage == RESPONSE_COMPLETE:
            st.done = True
            self._fill(st, ctx, code or ctx.code, final=True)
            return self._emit(st, RESPONSE_COMPLETE)
        return None

    def _unauthenticated(self, ctx: Any, code: int) -> defer.Deferred[None] | None:
        """A request refused by authentication: audited as upstream does, with no user."""
        dec = self.policy.evaluate("", (), evmod.verb_of(ctx), ctx.info, ctx.path)
        if dec.level == NONE:
            return None
        saved, ctx.user = ctx.user, None
        try:
            st = _State(evmod.new_event(ctx, dec.level, evmod.micro_time()), dec, None)
        finally:
            ctx.user = saved
        st.event["responseStatus"] = {"metadata": {}, "message": _auth_methods(ctx), "code": code}
        return self._emit(st, RESPONSE_STARTED)

    def stop(self) -> None:
        for b in self.backends:
            try:
                b.stop()
            except Exception:
                log.exception("stopping audit backend %s", b.name)


def make_log_backend(path: str, reactor: Any, metrics: AuditMetrics, *, fmt: str = "json",
                     mode: str = BLOCKING, maxsize: int = 0, maxbackup: int = 0, maxage: int = 0,
                     compress: bool = False, batch: dict[str, Any] | None = None,
                     truncator: Truncator | None = None) -> LogBackend:
    sink: Any = StdoutSink() if path == "-" else RotatingFile(path, maxsize, maxbackup, maxage, compress)
    b = batch or {}
    if mode == BATCH:
        writer = WriterThread(sink, reactor, capacity=b.get("buffer_size", 10000),
                              max_lines=b.get("max_batch_size", 1), max_wait=b.get("max_wait", 0.0),
                              qps=b.get("qps", 0.0) if b.get("throttle") else 0.0,
                              burst=b.get("burst", 0),
                              max_bytes=truncator.max_batch_size if truncator else 0)
    else:
        writer = WriterThread(sink, reactor, capacity=b.get("buffer_size", 10000))
    return LogBackend(writer, fmt, mode, metrics, truncator)


__all__ = ["Auditor", "AuditMetrics", "LogBackend", "WebhookSink", "make_log_backend",
           "METADATA", "REQUEST", "REQUEST_RESPONSE", "StatusError"]
