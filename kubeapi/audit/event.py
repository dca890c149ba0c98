"""Building audit.k8s.io/v1 Event objects from a RequestContext, and their two log formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson

from kubeapi.auth.user import UserInfo

API_VERSION = "audit.k8s.io/v1"
Event = dict[str, Any]


def micro_time(when: datetime | None = None) -> str:
    """metav1.MicroTime: RFC3339 with exactly six fractional digits, UTC."""
    t = (when or datetime.now(UTC)).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}Z"


def user_info(u: UserInfo | None) -> dict[str, Any]:
    if u is None:
        return {}
    out: dict[str, Any] = {"username": u.name}
    if u.uid:
        out["uid"] = u.uid
    if u.groups:
        out["groups"] = list(u.groups)
    if u.extra:
        out["extra"] = {k: list(v) for k, v in u.extra.items()}
    return out


def verb_of(ctx: Any) -> str:
    i = ctx.info
    return i.verb if i.is_resource_request else ctx.method.lower()


def object_ref(info: Any) -> dict[str, Any] | None:
    if not info.is_resource_request:
        return None
    ref: dict[str, Any] = {}
    for key, value in (("resource", info.resource), ("namespace", info.namespace),
                       ("name", info.name), ("apiGroup", info.api_group),
                       ("apiVersion", info.api_version), ("subresource", info.subresource)):
        if value:
            ref[key] = value
    return ref


REF_ORDER = ("resource", "namespace", "name", "uid", "apiGroup", "apiVersion", "resourceVersion",
             "subresource")


def fill_ref_from_object(ref: dict[str, Any], obj: Any) -> dict[str, Any]:
    """objectRef completed from a create/update body's metadata (name, namespace, uid,
    resourceVersion where the URL gave none), in the Event's field order."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return ref
    merged = dict(ref)
    for key in ("namespace", "name", "uid", "resourceVersion"):
        v = meta.get(key)
        if not merged.get(key) and isinstance(v, str) and v:
            merged[key] = v
    return {k: merged[k] for k in REF_ORDER if k in merged}


def source_ips(ctx: Any) -> list[str]:
    """X-Forwarded-For entries, then X-Real-Ip, then the peer, as upstream's SourceIPs."""
    ips: list[str] = []
    fwd = ctx.header("x-forwarded-for")
    if fwd:
        ips.extend(p.strip() for p in fwd.split(",") if p.strip())
    real = ctx.header("x-real-ip")
    if real and real.strip() not in ips:
        ips.append(real.strip())
    peer = getattr(ctx.request.getClientAddress(), "host", None)
    if peer and peer not in ips:
        ips.append(peer)
    return ips


def request_uri(ctx: Any) -> str:
    uri = ctx.request.uri
    return uri.decode("utf-8", "replace") if isinstance(uri, bytes) else str(uri)


def new_event(ctx: Any, level: str, received: str) -> Event:
    ev: Event = {
        "kind": "Event", "apiVersion": API_VERSION, "level": level, "auditID": ctx.audit_id,
        "stage": "RequestReceived", "requestURI": request_uri(ctx), "verb": verb_of(ctx),
        "user": user_info(ctx.user), "sourceIPs": source_ips(ctx),
    }
    ua = ctx.header("user-agent")
    if ua:
        ev["userAgent"] = ua
    ref = object_ref(ctx.info)
    if ref is not None:
        ev["objectRef"] = ref
    ev["requestReceivedTimestamp"] = received
    ev["stageTimestamp"] = received
    return ev


def response_status(code: int, obj: Any) -> dict[str, Any]:
    """metav1.Status as upstream logs it: the code, plus status/reason/message of a failure."""
    st: dict[str, Any] = {"metadata": {}}
    if isinstance(obj, dict) and obj.get("kind") == "Status" and code >= 300:
        for key in ("status", "message", "reason", "details"):
            if obj.get(key):
                st[key] = obj[key]
    st["code"] = code
    return st


def strip_managed_fields(obj: Any) -> Any:
    """A copy without metadata.managedFields (in lists: in every item); the input is untouched."""
    if not isinstance(obj, dict):
        return obj
    out = obj
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        out = dict(obj)
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    items = obj.get("items")
    if isinstance(items, list):
        if out is obj:
            out = dict(obj)
        out["items"] = [strip_managed_fields(i) for i in items]
    return out


def encode_json(ev: Event) -> bytes:
    return orjson.dumps(ev) + b"\n"


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def legacy_line(ev: Event) -> bytes:
    """The legacy single-line format (one ``AUDIT:`` line per event)."""
    user = ev.get("user") or {}
    username, groups = "<none>", "<none>"
    if user.get("username"):
        username = user["username"]
        if user.get("groups"):
            groups = ",".join(_q(g) for g in user["groups"])
    imp = ev.get("impersonatedUser")
    asuser, asgroups = "<self>", "<lookup>"
    if imp is not None:
        asuser = imp.get("username", "")
        if imp.get("groups") is not None:
            asgroups = ",".join(_q(g) for g in imp["groups"])
    ns = (ev.get("objectRef") or {}).get("namespace") or "<none>"
    rs = ev.get("responseStatus")
    response = str(rs.get("code", 0)) if rs is not None else "<deferred>"
    ips = ev.get("sourceIPs") or []
    ip = ips[0] if ips else "<unknown>"
    ts = ev["requestReceivedTimestamp"].replace(".000000Z", "Z")
    if "." in ts:
        head, frac = ts[:-1].split(".")
        frac = frac.rstrip("0")
        ts = f"{head}.{frac}Z" if frac else f"{head}Z"
    line = (f"{ts} AUDIT: id={_q(ev['auditID'])} stage={_q(ev['stage'])} ip={_q(ip)} "
            f"method={_q(ev['verb'])} user={_q(username)} groups={_q(groups)} as={_q(asuser)} "
            f"asgroups={_q(asgroups)} user-agent={_q(ev.get('userAgent', ''))} namespace={_q(ns)} "
            f"uri={_q(ev['requestURI'])} response=\"{response}\"")
    return line.encode() + b"\n"
