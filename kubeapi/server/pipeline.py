"""The filter chain, one coroutine per request, in upstream's order:

request info → authentication → audit(RequestReceived) → impersonation → in-flight limit
→ authorization → [timeout] handler → audit(ResponseComplete) + metrics.

Every failure becomes a ``kind: Status`` reply; unexpected exceptions are logged and
answered with 500 InternalError, never a traceback page or a dropped connection.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from twisted.internet import defer

from kubeapi.audit.recorder import PANIC, REQUEST_RECEIVED, RESPONSE_COMPLETE
from kubeapi.auth.authenticator import peer_certificates
from kubeapi.auth.authorizer import Attributes, Decision, forbidden_error
from kubeapi.auth.user import INSECURE_ADMIN
from kubeapi.errors import StatusError, internal_error, service_unavailable, timeout
from kubeapi.server import handlers, nonresource, responses
from kubeapi.server.certs import verified_client_certificate
from kubeapi.server.context import RequestContext, make_context
from kubeapi.server.filters.impersonation import impersonate
from kubeapi.server.filters.timeout import effective_timeout, with_timeout
from kubeapi.storage.interface import StorageError, TimeoutError_, TooLargeError, UnavailableError

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer

log = logging.getLogger(__name__)


def handle(server: APIServer, request: Any, secure: bool) -> defer.Deferred[bytes]:
    """Entry point from the Klein route; the Deferred fires with the body to write."""
    return defer.ensureDeferred(run(server, request, secure))


async def authenticate(server: APIServer, ctx: RequestContext) -> None:
    if not ctx.secure:
        ctx.user = INSECURE_ADMIN
        return
    verified = None
    for transport in (getattr(ctx.request, "transport", None),
                      getattr(getattr(ctx.request, "channel", None), "transport", None)):
        if transport is not None and verified is None:
            verified = verified_client_certificate(transport)
    ctx.user = await server.authenticator.authenticate(peer_certificates(ctx.request),
                                                       ctx.header("authorization"), verified)


async def authorize(server: APIServer, ctx: RequestContext) -> None:
    assert ctx.user is not None
    i = ctx.info
    attrs = Attributes(user=ctx.user, verb=i.verb, is_resource_request=i.is_resource_request,
                       path=ctx.path, namespace=i.namespace, api_group=i.api_group,
                       api_version=i.api_version, resource=i.resource, subresource=i.subresource,
                       name=i.name)
    decision, reason = await server.authorizer.authorize(attrs)
    ctx.authz = ("allow" if decision is Decision.ALLOW else "forbid", reason or "")
    if decision is not Decision.ALLOW:
        raise forbidden_error(attrs, reason)


async def _dispatch(server: APIServer, ctx: RequestContext) -> bytes:
    if ctx.info.is_resource_request:
        return await handlers.handle(server, ctx)
    return await nonresource.handle(server, ctx)


async def run(server: APIServer, request: Any, secure: bool) -> bytes:
    ctx = make_context(request, secure)
    given = ctx.header("audit-id")
    if given and len(given) <= 128:
        ctx.audit_id = given  # upstream keeps a caller-supplied Audit-ID
    responses.base_headers(ctx)
    slot = ""
    body = b""
    try:
        try:
            await authenticate(server, ctx)
            received = server.audit.record(REQUEST_RECEIVED, ctx)
            if received is not None:
                await received  # blocking audit modes: RequestReceived is stored first
            await impersonate(server, ctx)
            slot = server.inflight.acquire(ctx)
            if slot:
                server.metrics.inflight.labels(slot).inc()
            await authorize(server, ctx)
            if ctx.long_running:
                body = await _dispatch(server, ctx)
            else:
                seconds = effective_timeout(server.request_timeout, ctx.param("timeout"))
                body = await with_timeout(_dispatch(server, ctx), seconds, server.clock)
        finally:
            server.inflight.release(slot)
            if slot:
                server.metrics.inflight.labels(slot).dec()
    except StatusError as e:
        body = _safe_error(ctx, e)
    except defer.CancelledError:
        ctx.code = ctx.code or 499  # the client went away; nothing to write
        raise
    except StorageError as e:
        # A storage failure a layer below did not translate: still the client-visible code.
        log.warning("storage error serving %s %s: %s", ctx.method, ctx.path, e)
        body = _safe_error(ctx, storage_status(e))
    except Exception as e:
        log.exception("internal error serving %s %s", ctx.method, ctx.path)
        server.audit.record(PANIC, ctx, 500)
        body = _safe_error(ctx, internal_error(str(e) or type(e).__name__))
    finally:
        done = _complete(server, ctx)
        if done is not None:
            await done  # a blocking audit backend: the event is written before the reply
    return body


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
        log.warning("error after response started: %r", err)
        return b""
    return responses.write_error(ctx, err)


def _complete(server: APIServer, ctx: RequestContext) -> defer.Deferred[None] | None:
    done = None
    try:
        done = server.audit.record(RESPONSE_COMPLETE, ctx, ctx.code)
        server.metrics.observe(ctx.method, ctx.info, ctx.code or 200, time.monotonic() - ctx.started,
                               ctx.dry_run, ctx.patch_type)
    except Exception:
        log.exception("recording request completion failed")
    return done
