"""FlowSchema matching: which schema (and so which priority level and flow) a request is in.

Schemas are tried by ascending matchingPrecedence, then name; the first whose rules match
wins.  A rule matches when one of its subjects is the requester and one of its resource
(or non-resource) rules covers the request.
"""

from __future__ import annotations

from typing import Any, NamedTuple

Obj = dict[str, Any]
SA_PREFIX = "system:serviceaccount:"


class Request(NamedTuple):
    """What classification looks at (from the request info and the authenticated user).
    A NamedTuple: one is made for every request, and that is cheaper than a frozen dataclass."""

    user: str
    groups: tuple[str, ...]
    is_resource_request: bool
    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    path: str = ""


def _in(value: str, allowed: Any) -> bool:
    allowed = allowed or []
    return "*" in allowed or value in allowed


def subject_matches(subject: Obj, req: Request) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        name = (subject.get("user") or {}).get("name", "")
        return name == "*" or name == req.user
    if kind == "Group":
        name = (subject.get("group") or {}).get("name", "")
        return name == "*" or name in req.groups
    if kind == "ServiceAccount":
        sa = subject.get("serviceAccount") or {}
        if not req.user.startswith(SA_PREFIX):
            return False
        parts = req.user[len(SA_PREFIX):].split(":")
        if len(parts) != 2:
            return False
        ns, name = parts
        return ns == sa.get("namespace") and sa.get("name") in ("*", name)
    return False


def resource_rule_matches(rule: Obj, req: Request) -> bool:
    if not req.is_resource_request:
        return False
    if not _in(req.verb, rule.get("verbs")) or not _in(req.api_group, rule.get("apiGroups")):
        return False
    resource = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
    if not _in(resource, rule.get("resources")):
        return False
    if req.namespace:
        return _in(req.namespace, rule.get("namespaces"))
    return bool(rule.get("clusterScope"))


def _url_matches(pattern: str, path: str) -> bool:
    if pattern == "*" or pattern == path:
        return True
    if pattern.endswith("/*"):
        base = pattern[:-1]  # keeps the trailing slash
        return path.startswith(base) or path == base[:-1]
    return False


def nonresource_rule_matches(rule: Obj, req: Request) -> bool:
    if req.is_resource_request or not _in(req.verb, rule.get("verbs")):
        return False
    return any(_url_matches(p, req.path) for p in rule.get("nonResourceURLs") or [])


def schema_matches(schema: Obj, req: Request) -> bool:
    for rule in (schema.get("spec") or {}).get("rules") or []:
        if not any(subject_matches(s, req) for s in rule.get("subjects") or []):
            continue
        if any(resource_rule_matches(r, req) for r in rule.get("resourceRules") or []):
            return True
        if any(nonresource_rule_matches(r, req) for r in rule.get("nonResourceRules") or []):
            return True
    return False


def sort_schemas(schemas: list[Obj]) -> list[Obj]:
    return sorted(schemas, key=lambda s: ((s.get("spec") or {}).get("matchingPrecedence", 1000),
                                          s["metadata"]["name"]))


def distinguisher(schema: Obj, req: Request) -> str:
    method = ((schema.get("spec") or {}).get("distinguisherMethod") or {}).get("type", "")
    if method == "ByUser":
        return req.user
    if method == "ByNamespace":
        return req.namespace
    return ""
