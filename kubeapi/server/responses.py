"""Writing responses: every reply carries Audit-Id, Cache-Control and a Content-Type, and
every error is a ``kind: Status`` body.  Functions return the body; the root resource writes it."""

from __future__ import annotations

import logging
from typing import Any

from kubeapi import protobuf
from kubeapi.errors import StatusError
from kubeapi.server.context import RequestContext, header_value
from kubeapi.server.negotiation import JSON, PROTOBUF, YAML, encode, parse_accept

log = logging.getLogger(__name__)


def wants_pretty(ctx: RequestContext) -> bool:
    """?pretty=true, or a browser/curl/wget user agent, as upstream does."""
    p = ctx.query.get("pretty")
    if p is not None:
        return bool(p) and p[0] not in ("0", "false", "False")
    ua = ctx.header("user-agent")
    return ua is not None and ua.startswith(("curl", "Wget", "Mozilla/5.0"))


def base_headers(ctx: RequestContext, generated_id: bool = False) -> None:
    """``generated_id``: the Audit-Id is ours (hex and dashes); a caller's goes through
    twisted's scrubbing of header values."""
    if generated_id:
        ctx.set_header(b"Audit-Id", ctx.audit_id.encode())
    else:
        ctx.request.setHeader(b"audit-id", ctx.audit_id.encode())
    ctx.set_header(b"Cache-Control", b"no-cache, private")


_content_types: dict[str, bytes] = {}


def _content_type(value: str) -> bytes:
    """A Content-Type value encoded and scrubbed of line breaks once: a handful of values
    (some carry parameters from the client's Accept) serve every reply."""
    raw = _content_types.get(value)
    if raw is None:
        raw = header_value(value)
        if len(_content_types) < 256:
            _content_types[value] = raw
    return raw


def _set_common(ctx: RequestContext, code: int, content_type: str, length: int | None) -> None:
    r = ctx.request
    ctx.code = code
    r.setResponseCode(code)
    if ctx.on_response_started is not None:
        hook, ctx.on_response_started = ctx.on_response_started, None
        hook()
    ctx.set_header(b"Content-Type", _content_type(content_type))
    if length is not None:
        ctx.set_header(b"Content-Length", b"%d" % length)
    for w in capped_warnings(ctx.warnings) if ctx.warnings else ():
        text = w.replace("\\", "\\\\").replace('"', '\\"')  # a quoted-string, as RFC 7234 warn-text
        r.responseHeaders.addRawHeader(b"warning", f'299 - "{text}"'.encode())


WARNINGS_TOTAL_RUNES = 4 * 1024  # upstream's budget for all Warning headers of a response
WARNING_ITEM_RUNES = 256  # once over budget, each warning is cut to this many characters


def capped_warnings(warnings: list[str]) -> list[str]:
    """The warning texts a response carries, bounded as upstream's recorder bounds them: all
    in full while they fit the budget; past it, every one cut short, and no more added once
    the cut ones fill the budget too."""
    out: list[str] = []
    written = 0
    truncating = False
    for text in warnings:
        if not text:
            continue
        if truncating and written >= WARNINGS_TOTAL_RUNES:
            break
        if truncating:
            item = text[:WARNING_ITEM_RUNES]
            out.append(item)
            written += len(item)
        elif written + len(text) <= WARNINGS_TOTAL_RUNES:
            out.append(text)
            written += len(text)
        else:
            truncating = True
            out = [t[:WARNING_ITEM_RUNES] for t in out] + [text[:WARNING_ITEM_RUNES]]
            written = sum(len(t) for t in out)
    return out


def write_body(ctx: RequestContext, code: int, body: bytes, content_type: str) -> bytes:
    _set_common(ctx, code, content_type, len(body))
    return b"" if ctx.method == "HEAD" else body


def encode_protobuf(obj: Any) -> bytes | None:
    """``obj`` in Kubernetes protobuf (Status, a List whose items lose their TypeMeta, or one
    object); None when the codec cannot encode it, so the caller answers JSON instead."""
    if not isinstance(obj, dict):
        return None
    kind = str(obj.get("kind", ""))
    api_version = str(obj.get("apiVersion", ""))
    try:
        if kind == "Status" and api_version == "v1":
            return protobuf.encode_status(obj)
        if not protobuf.supports(api_version, kind):
            return None
        if kind.endswith("List") and isinstance(obj.get("items"), list):
            return protobuf.encode_list(obj)
        return protobuf.encode(obj)
    except (protobuf.EncodeError, protobuf.UnsupportedKind, ValueError, TypeError) as e:
        log.warning("protobuf encoding of %s %s failed, answering JSON: %s", api_version, kind, e)
        return None


SHARED_ENCODINGS = 1024
# (id(obj), form) -> (obj, its encoding); form is "protobuf" or a JSON media type
_shared: dict[tuple[int, str], tuple[Any, bytes | None]] = {}


def _encode_shared(obj: Any, form: str) -> bytes | None:
    """The protobuf (or compact JSON/YAML) form of an object that is shared and never
    changed (a GET's, from the store's decoded objects): encoded once for all the GETs of
    it.  The entry holds the object, so its id is not reused while the entry lasts."""
    key = (id(obj), form)
    known = _shared.get(key)
    if known is not None and known[0] is obj:
        return known[1]
    data = encode_protobuf(obj) if form == PROTOBUF else encode(obj, form, False)
    if len(_shared) >= SHARED_ENCODINGS:
        _shared.clear()
    _shared[key] = (obj, data)
    return data


def write_object(ctx: RequestContext, code: int, obj: Any, media_type: str = JSON,
                 content_type: str | None = None, shared: bool = False) -> bytes:
    """``shared``: ``obj`` is never changed by anyone, so its encoded form may be kept."""
    ctx.response_object = obj
    if media_type == PROTOBUF:
        data = _encode_shared(obj, PROTOBUF) if shared else encode_protobuf(obj)
        if data is not None:
            return write_body(ctx, code, data, protobuf.CONTENT_TYPE)
        media_type, content_type = JSON, None
    pretty = wants_pretty(ctx)
    shared_body = _encode_shared(obj, media_type) if shared and not pretty else None
    body = shared_body if shared_body is not None else encode(obj, media_type, pretty)
    return write_body(ctx, code, body, content_type or media_type)


def write_text(ctx: RequestContext, code: int, text: str) -> bytes:
    ctx.request.setHeader(b"x-content-type-options", b"nosniff")
    return write_body(ctx, code, text.encode(), "text/plain; charset=utf-8")


def error_media_type(ctx: RequestContext) -> str:
    """Errors follow the client's YAML preference, or its protobuf preference on endpoints
    whose kind has a protobuf encoding; otherwise JSON."""
    for m in parse_accept(ctx.header("accept")):
        if m.type == PROTOBUF and ctx.protobuf and not m.params.get("as"):
            return PROTOBUF
        if m.type in (JSON, "*/*", "application/*"):
            return JSON
        if m.type == YAML:
            return YAML
    return JSON


def write_error(ctx: RequestContext, err: StatusError) -> bytes:
    for k, v in err.headers.items():
        ctx.request.setHeader(k.encode(), v.encode())
    return write_object(ctx, err.code, err.status(), error_media_type(ctx))
