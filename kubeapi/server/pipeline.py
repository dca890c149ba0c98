"""The filter chain, one coroutine per request, in upstream's order:

request info → authentication → audit(RequestReceived) → impersonation → priority and fairness
(or, with it off, the in-flight limit)
→ authorization → [timeout] handler → audit(ResponseComplete) + metrics.

Every failure becomes a ``kind: Status`` reply; unexpected exceptions are logged and
answered with 500 InternalError, never a traceback page or a dropped connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.http_headers import _nameEncoder

from kubeapi import logs
from kubeapi.audit.recorder import PANIC, REQUEST_RECEIVED, RESPONSE_COMPLETE
from kubeapi.auth.authorizer import Attributes, Decision, forbidden_error
from kubeapi.auth.user import INSECURE_ADMIN
from kubeapi.errors import StatusError, internal_error, service_unavailable, timeout
from kubeapi.flowcontrol.classify import Request as FlowRequest
from kubeapi.flowcontrol.controller import Ticket, TooManyRequests
from kubeapi.server import eager, handlers, nonresource, responses
from kubeapi.server.context import RequestContext, header_value, make_context
from kubeapi.server.filters.impersonation import asks_to_impersonate, impersonate
from kubeapi.server.filters.timeout import effective_timeout, with_timeout
from kubeapi.storage.interface import StorageError, TimeoutError_, TooLargeError, UnavailableError

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer

log = logging.getLogger(__name__)
_http_log = Logger(namespace="kubeapi.httplog")


def handle(server: APIServer, request: Any, secure: bool) -> defer.Deferred[bytes]:
    """Entry point from the root resource (server/app.py); the Deferred fires with the body to write."""
    return defer.ensureDeferred(run(server, request, secure))


_ALLOWED = ("allow", "")


def _allowed_outright(server: APIServer, ctx: RequestContext) -> bool:
    """The authorizer allows this user everything (``system:masters``), so nothing need be
    asked of it."""
    outright = getattr(server.authorizer, "allows_outright", None)
    return outright is not None and ctx.user is not None and bool(outright(ctx.user))


async def authorize(server: APIServer, ctx: RequestContext) -> None:
    assert ctx.user is not None
    if _allowed_outright(server, ctx):
        ctx.authz = _ALLOWED
        return
    i = ctx.info
    attrs = Attributes(user=ctx.user, verb=i.verb, is_resource_request=i.is_resource_request,
                       path=ctx.path, namespace=i.namespace, api_group=i.api_group,
                       api_version=i.api_version, resource=i.resource, subresource=i.subresource,
                       name=i.name, field_selector=ctx.param("fieldSelector"))
    decision, reason = await server.authorizer.authorize(attrs)
    ctx.authz = ("allow" if decision is Decision.ALLOW else "forbid", reason or "")
    if decision is not Decision.ALLOW:
        raise forbidden_error(attrs, reason)


def _dispatch(server: APIServer, ctx: RequestContext) -> Coroutine[Any, Any, bytes]:
    """The coroutine that answers the request (not awaited here: one layer fewer)."""
    if server.aggregator is not None:  # /apis/<g>/<v>/... of a service-backed APIService
        proxied = server.aggregator.route(ctx)
        if proxied is not None:
            return proxied  # type: ignore[return-value]
    if ctx.info.is_resource_request:
        return handlers.handle(server, ctx)
    return nonresource.handle(server, ctx)


async def run(server: APIServer, request: Any, secure: bool) -> bytes:
    ctx = make_context(request, secure)
    given = ctx.header("audit-id")
    if given and len(given) <= 128:
        ctx.audit_id = given  # upstream keeps a caller-supplied Audit-ID
        responses.base_headers(ctx)
    else:
        responses.base_headers(ctx, generated_id=True)
    slot = ""
    ticket: Ticket | None = None
    executing = ""  # request_kind counted in apiserver_current_inflight_requests under APF
    body = b""
    try:
        try:
            # The filters are stepped inline where they need not wait (each a coroutine
            # less on every request); what they do is unchanged.
            if secure:
                ctx.user = await server.authenticator.authenticate_request(request)
            else:
                ctx.user = INSECURE_ADMIN
            received = server.audit.record(REQUEST_RECEIVED, ctx)
            if received is not None:
                await received  # blocking audit modes: RequestReceived is stored first
            if asks_to_impersonate(ctx):
                await impersonate(server, ctx)
            long_running = ctx.long_running
            if server.flowcontrol is not None:  # API Priority and Fairness
                admitted = server.flowcontrol.admit_now(apf_request(ctx), _header_setter(ctx), long_running)
                if isinstance(admitted, CoroutineType):
                    ticket = await admitted
                else:
                    ticket = admitted  # type: ignore[assignment]
                if not long_running:  # upstream's APF feeds the same gauge
                    executing = "mutating" if ctx.mutating else "readOnly"
                    server.metrics.inflight_by_kind[executing].inc()
            else:  # --enable-priority-and-fairness=false: the plain max-in-flight limits
                slot = server.inflight.acquire(ctx)
                if slot:
                    server.metrics.inflight_by_kind[slot].inc()
            if _allowed_outright(server, ctx):
                ctx.authz = _ALLOWED
            else:
                await authorize(server, ctx)
            if long_running:
                body = await _dispatch(server, ctx)
            else:
                seconds = effective_timeout(server.request_timeout, ctx.param("timeout"))
                server.requests_in_flight += 1
                try:
                    # Stepped at once, as with_timeout would: most GETs finish here, with no
                    # deadline and no Deferred.
                    clock: Any = server.clock
                    began = clock.seconds()
                    outcome = eager.start(_dispatch(server, ctx))
                    if isinstance(outcome, eager.Pending):
                        body = await with_timeout(outcome.deferred, seconds - (clock.seconds() - began), clock)
                    else:
                        body = outcome
                finally:
                    server.requests_in_flight -= 1
        finally:
            if ticket is not None:
                server.flowcontrol.finish(ticket)  # type: ignore[union-attr]
            if executing:
                server.metrics.inflight_by_kind[executing].dec()
            server.inflight.release(slot)
            if slot:
                server.metrics.inflight_by_kind[slot].dec()
    except TooManyRequests as e:
        # As upstream's APF filter: a plain-text 429 (not a Status), with Retry-After.
        ctx.request.setHeader(b"retry-after", str(e.retry_after).encode())
        body = responses.write_text(ctx, 429, str(e) + "\n")
    except StatusError as e:
        body = _safe_error(ctx, e)
    except defer.CancelledError:
        ctx.code = ctx.code or 499  # the client went away; nothing to write
        raise
    except StorageError as e:
        # A storage failure a layer below did not translate: still the client-visible code.
        log.warning("storage error serving %s %s: %s", ctx.method, ctx.path, e,
                    extra={"kv": {"audit-ID": ctx.audit_id}})
        body = _safe_error(ctx, storage_status(e))
    except Exception as e:
        log.exception("internal error serving %s %s", ctx.method, ctx.path,
                      extra={"kv": {"audit-ID": ctx.audit_id}})
        server.audit.record(PANIC, ctx, 500)
        body = _safe_error(ctx, internal_error(str(e) or type(e).__name__))
    finally:
        done = _complete(server, ctx, len(body))
        if done is not None:
            await done  # a blocking audit backend: the event is written before the reply
    return body


def apf_request(ctx: RequestContext) -> FlowRequest:
    """What FlowSchemas match on, from the request info and the (impersonated) user."""
    i = ctx.info
    user = ctx.user
    return FlowRequest(user=user.name if user else "", groups=tuple(user.groups) if user else (),
                       is_resource_request=i.is_resource_request, verb=i.verb, api_group=i.api_group,
                       resource=i.resource, subresource=i.subresource, namespace=i.namespace,
                       path="" if i.is_resource_request else ctx.path)  # matched for non-resource URLs only


_encoded_headers: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _header_setter(ctx: RequestContext) -> Callable[[str, str], None]:
    def set_header(name: str, value: str) -> None:
        # APF's two headers name a level and a schema: a handful of values, encoded once.
        raw = _encoded_headers.get((name, value))
        if raw is None:
            if len(_encoded_headers) >= 1024:
                _encoded_headers.clear()
            raw = _encoded_headers[(name, value)] = (_nameEncoder.encode(name.encode()), header_value(value))
        ctx.set_header(*raw)
    return set_header


def storage_status(e: StorageError) -> StatusError:
    if isinstance(e, UnavailableError):
        return service_unavailable(str(e) or "storage is unavailable")
    if isinstance(e, TimeoutError_):
        return timeout(f"Timeout: {e}" if str(e) else "Timeout: storage did not answer in time")
    if isinstance(e, TooLargeError):
        return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: {e}")
    return internal_error(str(e) or type(e).__name__)


def _safe_error(ctx: RequestContext, err: StatusError) -> bytes:
    if getattr(ctx.request, "startedWriting", False):
        # Headers are out (a stream failed midway); all we can do is end it.
        log.warning("error after response started: %r", err, extra={"kv": {"audit-ID": ctx.audit_id}})
        return b""
    return responses.write_error(ctx, err)


def _complete(server: APIServer, ctx: RequestContext, size: int = 0) -> defer.Deferred[None] | None:
    done = None
    try:
        done = server.audit.record(RESPONSE_COMPLETE, ctx, ctx.code)
        seconds = time.monotonic() - ctx.started
        server.metrics.observe(ctx.method, ctx.info, ctx.code or 200, seconds, size, ctx.dry_run, ctx.patch_type)
        if logs.current_verbosity >= 3:
            log_request(ctx, seconds)
    except Exception:
        log.exception("recording request completion failed", extra={"kv": {"audit-ID": ctx.audit_id}})
    return done


def log_request(ctx: RequestContext, seconds: float) -> None:
    """At --v=3, one line per request as upstream's httplog writes it, audit ID included."""
    peer = ctx.request.getClientAddress()
    src = f"{getattr(peer, 'host', '')}:{getattr(peer, 'port', '')}"
    uri = ctx.request.uri.decode("utf-8", "replace") if isinstance(ctx.request.uri, bytes) else str(ctx.request.uri)
    _http_log.info("{msg}", msg='"HTTP"', log_v=3, log_caller="httplog", log_kv={
        "verb": ctx.method, "URI": uri, "latency": f"{seconds * 1000:.3f}ms",
        "userAgent": ctx.header("user-agent") or "", "audit-ID": ctx.audit_id, "srcIP": src,
        "resp": ctx.code or 200})
