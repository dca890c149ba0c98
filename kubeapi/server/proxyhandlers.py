"""HTTP side of the API server as the cluster's hub: ``nodes|pods|services/{name}/proxy``,
``pods/log`` and the upgrades ``pods/exec|attach|portforward``.

Authorization has already run (pipeline); these find the backend (kubeapi.proxy.location),
then forward (kubeapi.proxy.forward) or join an upgraded connection (kubeapi.proxy.upgrade).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from twisted.web.http_headers import Headers

from kubeapi.api.types import FieldError, ResourceDef
from kubeapi.errors import StatusError, bad_request, invalid
from kubeapi.proxy import forward, headers, location, tunnel, upgrade
from kubeapi.proxy.location import Target
from kubeapi.server.channel import take_over
from kubeapi.server.context import RequestContext
from kubeapi.server.requestinfo import query_bool

if TYPE_CHECKING:
    from kubeapi.server.apiserver import APIServer

ERROR_BODY_LIMIT = 4096  # upstream reads this much of a kubelet's error answer


def _reactor(server: APIServer) -> Any:
    return server.clock


def _started(ctx: RequestContext, code: int) -> None:
    ctx.code = code
    if ctx.on_response_started is not None:
        hook, ctx.on_response_started = ctx.on_response_started, None
        hook()


def _client_ip(ctx: RequestContext) -> str:
    peer = ctx.request.getClientAddress()
    return str(getattr(peer, "host", "") or "")


def _raw_query(ctx: RequestContext) -> str:
    uri = ctx.request.uri or b""
    return uri.partition(b"?")[2].decode("latin-1")


def _body(ctx: RequestContext) -> bytes:
    content = ctx.request.content
    if content is None:
        return b""
    content.seek(0)
    data: bytes = content.read()
    ctx.request_body = data
    return data


# ------------------------------------------------------------------ proxy


def _proxy_path(ctx: RequestContext) -> str:
    """The still-escaped path after ``.../{name}/proxy``: '' (none), or '/x/y' ('/' kept)."""
    raw = ctx.path.strip("/").split("/")
    start = len(raw) - len(ctx.info.parts) + 3
    rest = "/".join(raw[start:])
    if not rest:
        return "/" if ctx.path.endswith("/") else ""
    return "/" + rest + ("/" if ctx.path.endswith("/") and not rest.endswith("/") else "")


async def _proxy_target(server: APIServer, ctx: RequestContext, rdef: ResourceDef) -> Target:
    ident = ctx.info.parts[1]
    if rdef.plural == "nodes":
        return await location.node_target(server, ident)
    if rdef.plural == "pods":
        return await location.pod_target(server, ctx.info.namespace, ident)
    return await location.service_target(server, ctx.info.namespace, ident)


async def proxy(server: APIServer, ctx: RequestContext, rdef: ResourceDef) -> bytes:
    """``{nodes,pods,services}/{name}/proxy[/path]``: forward the request as it is."""
    target = await _proxy_target(server, ctx, rdef)
    path = _proxy_path(ctx)
    target.path = path
    incoming = ctx.request.requestHeaders
    if upgrade.is_upgrade(incoming):
        return await _upgrade(server, ctx, target)  # upstream sends no query on a proxied upgrade
    if not path and ctx.method in ("GET", "HEAD"):
        query = _raw_query(ctx)
        ctx.request.setHeader(b"location", (ctx.path + "/" + (f"?{query}" if query else "")).encode())
        ctx.request.setResponseCode(301)
        _started(ctx, 301)
        return b""
    target.path = path or "/"
    target.query = _raw_query(ctx)
    prepend = headers.path_prepend(ctx.path, path)
    out_headers = headers.request_headers(incoming, _client_ip(ctx), headers.forwarded_uri(prepend, target.path),
                                          upgrade=False)
    try:
        response = await forward.request(server.kubelet, _reactor(server), target, ctx.method, out_headers,
                                         _body(ctx) or None)
    except forward.Unreachable as e:
        raise forward.unreachable(e) from None
    request = ctx.request
    request.defaultContentType = None
    request.setResponseCode(response.code, response.phrase or None)
    request_host = ctx.header("host") or ""
    for name, values in headers.response_headers(response.headers):
        if name.lower() == b"location":
            values = [headers.rewrite_location(v.decode("latin-1"), target.netloc, request_host,
                                               prepend).encode("latin-1") for v in values]
        request.responseHeaders.setRawHeaders(name, [*request.responseHeaders.getRawHeaders(name, []),
                                                     *values] if name.lower() == b"cache-control" else values)
    _started(ctx, response.code)
    if ctx.method == "HEAD":
        return b""
    await forward.relay_body(response, request)
    return b""


# ------------------------------------------------------------------ log

_LOG_INTS = ("sinceSeconds", "tailLines", "limitBytes")
_LOG_BOOLS = ("follow", "previous", "timestamps")


def _go_bool(ctx: RequestContext, name: str) -> bool:
    values = ctx.query.get(name)
    if not values:
        return False
    v = values[0]
    if v in ("1", "t", "T", "true", "TRUE", "True", ""):
        return True
    if v in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise bad_request(f'strconv.ParseBool: parsing "{v}": invalid syntax')


def _go_int(ctx: RequestContext, name: str) -> int | None:
    values = ctx.query.get(name)
    if not values:
        return None
    v = values[0]
    try:
        n = int(v, 10)
    except ValueError:
        raise bad_request(f'strconv.ParseInt: parsing "{v}": invalid syntax') from None
    if not -(1 << 63) <= n < (1 << 63):
        raise bad_request(f'strconv.ParseInt: parsing "{v}": value out of range')
    return n


def _since_time(ctx: RequestContext) -> str | None:
    v = ctx.param("sinceTime")
    if not v:
        return None
    try:
        t = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f'parsing time "{v}" as "2006-01-02T15:04:05Z07:00": cannot parse "{v}" as "2006"') \
            from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.UTC)
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_params(ctx: RequestContext, name: str) -> tuple[list[tuple[str, str]], bool]:
    """PodLogOptions from the query, validated as upstream; the kubelet's query (sorted by
    key, as Go's url.Values encodes) and insecureSkipTLSVerifyBackend."""
    ints = {k: _go_int(ctx, k) for k in _LOG_INTS}
    bools = {k: _go_bool(ctx, k) for k in _LOG_BOOLS}
    since_time = _since_time(ctx)
    errs: list[FieldError] = []
    if ints["tailLines"] is not None and ints["tailLines"] < 0:
        errs.append(FieldError("FieldValueInvalid", "tailLines", "must be greater than or equal to 0",
                               ints["tailLines"], True))
    if ints["limitBytes"] is not None and ints["limitBytes"] < 1:
        errs.append(FieldError("FieldValueInvalid", "limitBytes", "must be greater than 0", ints["limitBytes"], True))
    if ints["sinceSeconds"] is not None and since_time is not None:
        errs.append(FieldError("FieldValueForbidden", "", "at most one of `sinceTime` or `sinceSeconds` may be "
                               "specified"))
    elif ints["sinceSeconds"] is not None and ints["sinceSeconds"] < 1:
        errs.append(FieldError("FieldValueInvalid", "sinceSeconds", "must be greater than 0",
                               ints["sinceSeconds"], True))
    if "stream" in ctx.query:  # PodLogsQuerySplitStreams is off in v1.34
        errs.append(FieldError("FieldValueForbidden", "stream", "may not be specified"))
    if errs:
        raise invalid("PodLogOptions", "", name, errs)
    params: list[tuple[str, str]] = [(k, "true") for k, v in bools.items() if v]
    params += [(k, str(v)) for k, v in ints.items() if v is not None]
    if since_time is not None:
        params.append(("sinceTime", since_time))
    return sorted(params), _go_bool(ctx, "insecureSkipTLSVerifyBackend")


def _log_error(code: int, body: bytes, name: str) -> StatusError:
    """Upstream's GenericHttpResponseChecker: the kubelet's non-2xx answer as a Status."""
    text = body.decode("utf-8", "replace")
    if code == 500:
        return StatusError(500, "InternalError", f"Internal error occurred: {text}", {"causes": [{"message": text}]})
    if code == 400:
        return bad_request(text)
    generic = {404: ("NotFound", "the server could not find the requested resource"),
               403: ("Forbidden", text),
               401: ("Unauthorized", "the server has asked for the client to provide credentials"),
               503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
               409: ("Conflict", "the server reported a conflict"),
               429: ("TooManyRequests",
                     "the server has received too many requests and has asked us to try again later")}
    reason, message = generic.get(code, ("", f"the server responded with the status code {code} but did not "
                                             "return more information"))
    if code > 500 and code not in generic:
        reason, message = "InternalError", f'an error on the server ("{text}") has prevented the request from ' \
                                           "succeeding"
    return StatusError(code, reason, f"{message} ( pods/log {name})", {"name": name, "kind": "pods/log"})


async def log(server: APIServer, ctx: RequestContext, rdef: ResourceDef) -> bytes:
    """``pods/{name}/log``: the kubelet's containerLogs, streamed as it writes them."""
    name = ctx.info.parts[1]
    params, skip_verify = log_params(ctx, name)
    target = await location.log_target(server, ctx.info.namespace, name, ctx.param("container"), params,
                                       skip_verify)
    if target is None:  # no node yet: upstream's stream is empty and the answer 204
        ctx.request.setResponseCode(204)
        _started(ctx, 204)
        return b""
    try:
        response = await forward.request(server.kubelet, _reactor(server), target, "GET", Headers(), None)
    except forward.Unreachable as e:
        raise StatusError(500, "", f'Get "{target.url()}": {e}') from None
    if 300 <= response.code < 400 and response.headers.hasHeader(b"location"):
        await forward.read_body(response, ERROR_BODY_LIMIT)
        raise StatusError(500, "", f'Get "{target.url()}": redirects forbidden')
    if not 200 <= response.code <= 206:
        raise _log_error(response.code, await forward.read_body(response, ERROR_BODY_LIMIT), name)
    request = ctx.request
    request.setResponseCode(200)
    request.setHeader(b"content-type", b"text/plain")
    _started(ctx, 200)
    await forward.relay_body(response, request)
    return b""


# ------------------------------------------------------------------ exec, attach, portforward

_STREAM_FLAGS = (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty"))


def stream_params(ctx: RequestContext, sub: str) -> list[tuple[str, str]]:
    """The kubelet's query for exec/attach/portforward, as upstream's streamParams builds it."""
    params: list[tuple[str, str]] = []
    if sub == "portforward":
        ports = [p for v in ctx.query.get("ports", []) for p in v.split(",") if p]
        for p in ports:
            if not p.isdigit() or not 0 < int(p) < 65536:
                raise bad_request(f'strconv.ParseInt: parsing "{p}": invalid syntax')
        return [("port", ",".join(ports))] if ports else []
    for option, param in _STREAM_FLAGS:
        if query_bool(ctx.query.get(option)):
            params.append((param, "1"))
    if sub == "exec":
        params += [("command", c) for c in ctx.query.get("command", [])]
    return sorted(params, key=lambda kv: kv[0])


async def stream(server: APIServer, ctx: RequestContext, rdef: ResourceDef) -> bytes:
    """``pods/{name}/exec|attach|portforward``: an upgrade joined to the pod's kubelet."""
    sub = ctx.info.subresource
    kind = {"exec": "exec", "attach": "attach", "portforward": "portForward"}[sub]
    target = await location.stream_target(server, kind, ctx.info.namespace, ctx.info.parts[1],
                                          ctx.param("container"), stream_params(ctx, sub))
    incoming = ctx.request.requestHeaders
    if not upgrade.is_upgrade(incoming):
        raise bad_request("Upgrade request required")
    if sub == "portforward" and tunnel.is_websocket(incoming) and tunnel.spdy_protocols(incoming):
        # kubectl's SPDY-in-websocket port-forward: SPDY towards the kubelet (PortForwardWebsockets).
        return await _upgrade(server, ctx, target, tunnel.spdy_protocols(incoming))
    return await _upgrade(server, ctx, target)


def _text_error(ctx: RequestContext, code: int, message: str) -> bytes:
    """Go's http.Error: the message as text/plain, as upstream's tunnelling handler answers."""
    ctx.request.setResponseCode(code)
    ctx.request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    ctx.request.setHeader(b"x-content-type-options", b"nosniff")
    body = message.encode() + b"\n"
    ctx.request.setHeader(b"content-length", str(len(body)).encode())
    _started(ctx, code)
    return body


async def _upgrade(server: APIServer, ctx: RequestContext, target: Target,
                   spdy_protocols: list[str] | None = None) -> bytes:
    """Join the caller to the backend on its 101.  With ``spdy_protocols`` the caller is a
    websocket tunnelling SPDY (kubeapi.proxy.tunnel): the backend is asked for SPDY/3.1 and
    the caller's bytes travel in websocket messages."""
    out_headers = headers.request_headers(ctx.request.requestHeaders, _client_ip(ctx), "", upgrade=True)
    method, body = ctx.method, _body(ctx)
    if spdy_protocols is not None:
        out_headers, method, body = tunnel.spdy_request_headers(out_headers, spdy_protocols), "POST", b""
    payload = upgrade.request_bytes(method, target, ctx.header("host") or target.netloc, out_headers, body)
    reactor = _reactor(server)
    backend = await upgrade.dial(server.kubelet, reactor, target, payload)
    head = await upgrade.response_head(backend, target)
    if head.status != 101 and head.status < 400:
        backend._abort()
        raise StatusError(500, "", f"invalid upgrade response: status code {head.status}")
    if spdy_protocols is not None and head.status == 101:
        return await _join_tunnel(ctx, reactor, backend, head)
    caller = upgrade.Caller(backend if head.status == 101 else None)
    leftover = take_over(ctx.request, caller)
    client: Any = caller.transport
    backend_transport: Any = backend.transport
    assert client is not None and backend_transport is not None
    _started(ctx, head.status)
    client.write(head.raw)
    if head.status != 101:
        # Relay the refusal as the backend wrote it, then close: the caller's connection is
        # never left joined to the backend.
        backend.join(client, relay_limit=head.content_length)
        await upgrade.first_closed(reactor, backend.closed, caller.closed, timeout=upgrade.ERROR_RELAY_DEADLINE)
        client.loseConnection()
        backend._abort()
        return b""
    backend.join(client)
    if leftover:
        backend_transport.write(leftover)
    client.registerProducer(backend_transport, True)  # each side paces the other
    backend_transport.registerProducer(client, True)
    await upgrade.first_closed(reactor, backend.closed, caller.closed)
    client.loseConnection()
    backend._abort()
    return b""


async def _join_tunnel(ctx: RequestContext, reactor: Any, backend: upgrade.Backend, head: upgrade.Head) -> bytes:
    """The kubelet said 101 to SPDY: answer the caller's websocket handshake, then carry the
    kubelet's bytes in binary messages and the caller's message payloads back as bytes."""
    if not tunnel.upgraded_to_spdy(head.raw):
        backend._abort()
        return _text_error(ctx, 500, "unable to upgrade: missing upgrade headers in response")
    accept = tunnel.websocket_accept(ctx.request.requestHeaders, head.raw)
    if accept is None:
        backend._abort()
        # gorilla's Upgrader.returnError: the status text, and the version it speaks.
        ctx.request.setHeader(b"sec-websocket-version", b"13")
        return _text_error(ctx, 400, "Bad Request")
    caller = tunnel.TunnelCaller(backend)
    leftover = take_over(ctx.request, caller)
    client: Any = caller.transport
    backend_transport: Any = backend.transport
    assert client is not None and backend_transport is not None
    _started(ctx, 101)
    client.write(accept)
    backend.join(tunnel.ToCaller(client))
    if leftover:
        caller.dataReceived(leftover)
    client.registerProducer(backend_transport, True)  # each side paces the other
    backend_transport.registerProducer(client, True)
    await upgrade.first_closed(reactor, backend.closed, caller.closed)
    if not caller.closed.called:  # the kubelet ended the stream: a normal close to the caller
        client.write(tunnel.frame(tunnel.NORMAL_CLOSE, 8))
    client.loseConnection()
    backend._abort()
    return b""


def install(server: APIServer) -> None:
    for plural in ("nodes", "pods", "services"):
        server.add_subresource_handler(plural, "proxy", proxy)
    server.add_subresource_handler("pods", "log", log)
    for sub in ("exec", "attach", "portforward"):
        server.add_subresource_handler("pods", sub, stream)
