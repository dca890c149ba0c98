"""Turn a request path into RequestInfo, the way kube-apiserver's RequestInfoFactory does.

Authorization, audit, metrics and the handlers all read this one parse, so the rules
(legacy ``/watch/`` paths, ``namespaces`` subresources, list vs get, deletecollection)
live only here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

API_PREFIXES = ("api", "apis")
GROUPLESS_PREFIXES = ("api",)
SPECIAL_VERBS = ("proxy", "watch")
SPECIAL_VERBS_NO_SUBRESOURCES = ("proxy",)
NAMESPACE_SUBRESOURCES = ("status", "finalize")

_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


@dataclass
class RequestInfo:
    is_resource_request: bool = False
    path: str = "/"
    verb: str = ""
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)


def query_bool(values: list[str] | None) -> bool:
    """Upstream's query-string bool: absent/'0'/'false' are false, anything else true."""
    if not values:
        return False
    v = values[0]
    return not (v == "0" or v.lower() == "false")


def _split(path: str) -> list[str]:
    trimmed = path.strip("/")
    if not trimmed:
        return []
    if "%" not in trimmed:
        return trimmed.split("/")
    return [unquote(p) for p in trimmed.split("/")]


def _field_selector_name(selector: str) -> str:
    """metadata.name=x (or ==x) in a field selector narrows a list to one name."""
    for term in selector.split(","):
        term = term.strip()
        for op in ("==", "="):
            if op in term and "!=" not in term:
                key, _, value = term.partition(op)
                if key.strip() == "metadata.name":
                    value = value.strip()
                    if value and "/" not in value and "%" not in value and value not in (".", ".."):
                        return value
                break
    return ""


def parse_request_info(method: str, path: str, query: dict[str, list[str]]) -> RequestInfo:
    """Parse one request.  ``query`` maps each parameter to its values (decoded)."""
    info = RequestInfo(path=path or "/", verb=method.lower())
    parts = _split(path)
    if len(parts) < 3 or parts[0] not in API_PREFIXES:
        return info
    info.api_prefix = parts[0]
    rest = parts[1:]
    if info.api_prefix not in GROUPLESS_PREFIXES:
        if len(rest) < 3:
            return info
        info.api_group = rest[0]
        rest = rest[1:]
    info.is_resource_request = True
    info.api_version = rest[0]
    rest = rest[1:]

    if rest[0] in SPECIAL_VERBS:
        if len(rest) < 2:
            # Upstream answers this with an error; an unparseable watch/proxy path is a 404.
            info.is_resource_request = False
            return info
        info.verb = rest[0]
        rest = rest[1:]
    else:
        info.verb = _METHOD_VERBS.get(method.upper(), "")

    if rest[0] == "namespaces":
        if len(rest) > 1:
            info.namespace = rest[1]
            if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
                rest = rest[2:]
    info.parts = list(rest)

    if len(rest) >= 3 and info.verb not in SPECIAL_VERBS_NO_SUBRESOURCES:
        info.subresource = rest[2]
    if len(rest) >= 2:
        info.name = rest[1]
    if len(rest) >= 1:
        info.resource = rest[0]

    if not info.name and info.verb == "get":
        info.verb = "watch" if query_bool(query.get("watch")) else "list"
    if not info.name and info.verb in ("list", "watch"):
        selector = (query.get("fieldSelector") or [""])[0]
        if selector:
            info.name = _field_selector_name(selector)
    if not info.name and info.verb == "delete":
        info.verb = "deletecollection"
    return info


_known: dict[tuple[str, str], RequestInfo] = {}
KNOWN_PATHS = 4096


def request_info(method: str, path: str, query: dict[str, list[str]]) -> RequestInfo:
    """`parse_request_info`, remembered per method and path for requests without a query
    (which can change the verb): the same few paths come again and again.  The RequestInfo
    is shared, so nobody changes one after the parse."""
    if query:
        return parse_request_info(method, path, query)
    key = (method, path)
    info = _known.get(key)
    if info is None:
        info = parse_request_info(method, path, query)
        if len(_known) >= KNOWN_PATHS:
            _known.clear()  # paths come from clients: stay bounded
        _known[key] = info
    return info
