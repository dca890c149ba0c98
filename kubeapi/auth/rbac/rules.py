"""PolicyRule semantics: whether a rule allows a request, whether one set of rules covers
another (the escalation check), and the compact text upstream prints for missing rules.

Rules are the JSON-shaped dicts of rbac.authorization.k8s.io/v1 PolicyRule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kubeapi.auth.authorizer import Attributes

Rule = dict[str, Any]
ALL = "*"


def _list(rule: Rule, key: str) -> list[str]:
    value = rule.get(key) or []
    return [str(v) for v in value] if isinstance(value, list) else []


def verb_matches(rule: Rule, verb: str) -> bool:
    verbs = _list(rule, "verbs")
    return ALL in verbs or verb in verbs


def group_matches(rule: Rule, group: str) -> bool:
    groups = _list(rule, "apiGroups")
    return ALL in groups or group in groups


def resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    """``resource/subresource`` exactly, ``*``, or ``*/subresource``."""
    combined = f"{resource}/{subresource}" if subresource else resource
    for r in _list(rule, "resources"):
        if r == ALL or r == combined:
            return True
        if subresource and r == "*/" + subresource:
            return True
    return False


def name_matches(rule: Rule, name: str) -> bool:
    names = _list(rule, "resourceNames")
    return not names or name in names


def url_matches(rule: Rule, path: str) -> bool:
    for u in _list(rule, "nonResourceURLs"):
        if u == ALL or u == path:
            return True
        if u.endswith("*") and path.startswith(u[:-1]):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    if attrs.is_resource_request:
        combined_verb = attrs.verb
        return (verb_matches(rule, combined_verb) and group_matches(rule, attrs.api_group)
                and resource_matches(rule, attrs.resource, attrs.subresource)
                and name_matches(rule, attrs.name))
    return verb_matches(rule, attrs.verb) and url_matches(rule, attrs.path)


def rules_allow(attrs: Attributes, rules: Iterable[Rule]) -> bool:
    return any(rule_allows(attrs, r) for r in rules)


# -- covering (escalation) -------------------------------------------------------------------

def breakdown(rule: Rule) -> list[Rule]:
    """One rule per (group, resource, verb[, name]) and per (url, verb)."""
    out: list[Rule] = []
    names = _list(rule, "resourceNames")
    for g in _list(rule, "apiGroups"):
        for r in _list(rule, "resources"):
            for v in _list(rule, "verbs"):
                if names:
                    out.extend({"apiGroups": [g], "resources": [r], "verbs": [v], "resourceNames": [n]}
                               for n in names)
                else:
                    out.append({"apiGroups": [g], "resources": [r], "verbs": [v]})
    for u in _list(rule, "nonResourceURLs"):
        for v in _list(rule, "verbs"):
            out.append({"nonResourceURLs": [u], "verbs": [v]})
    return out


def _resources_cover(owner: list[str], wanted: list[str]) -> bool:
    if ALL in owner:
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def rule_covers(owner: Rule, sub: Rule) -> bool:
    o_verbs, o_groups = _list(owner, "verbs"), _list(owner, "apiGroups")
    if not (ALL in o_verbs or set(_list(sub, "verbs")) <= set(o_verbs)):
        return False
    if not (ALL in o_groups or set(_list(sub, "apiGroups")) <= set(o_groups)):
        return False
    if not _resources_cover(_list(owner, "resources"), _list(sub, "resources")):
        return False
    o_urls = _list(owner, "nonResourceURLs")
    if not all(any(_url_covers(o, p) for o in o_urls) for p in _list(sub, "nonResourceURLs")):
        return False
    o_names, s_names = _list(owner, "resourceNames"), _list(sub, "resourceNames")
    if not s_names:
        return not o_names
    return not o_names or set(s_names) <= set(o_names)


def covers(owner_rules: Sequence[Rule], wanted: Sequence[Rule]) -> tuple[bool, list[Rule]]:
    """(all covered?, the broken-down rules that are not)."""
    missing = [sub for rule in wanted for sub in breakdown(rule)
               if not any(rule_covers(o, sub) for o in owner_rules)]
    return not missing, missing


def compact(rules: Sequence[Rule]) -> list[Rule]:
    """Merge simple rules (one group, one resource, at most one name) that differ only in verbs."""
    out: list[Rule] = []
    simple: dict[tuple[str, str, str | None], Rule] = {}
    for r in rules:
        names = _list(r, "resourceNames")
        groups, resources = _list(r, "apiGroups"), _list(r, "resources")
        is_simple = (len(names) <= 1 and not _list(r, "nonResourceURLs") and len(groups) == 1
                     and len(resources) == 1 and set(r) <= {"apiGroups", "resources", "verbs", "resourceNames"})
        if not is_simple:
            out.append(r)
            continue
        key = (groups[0], resources[0], names[0] if names else None)
        if key in simple:
            simple[key]["verbs"] = simple[key].get("verbs", []) + _list(r, "verbs")
        else:
            simple[key] = {k: list(v) for k, v in r.items()}
    return out + list(simple.values())


def _go_quote_list(values: list[str]) -> str:
    import json

    return "[" + " ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def compact_string(rule: Rule) -> str:
    """Upstream's PolicyRule.CompactString: {APIGroups:["" "apps"], Resources:[...], ...}."""
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"),
                       ("nonResourceURLs", "NonResourceURLs"), ("resourceNames", "ResourceNames"),
                       ("verbs", "Verbs")):
        values = _list(rule, key)
        if values:
            parts.append(f"{label}:{_go_quote_list(values)}")
    return "{" + ", ".join(parts) + "}"
