"""audit.k8s.io/v1 Policy: which level (and which stages) each request is audited at.

Rules are tried in order and the first one that matches decides; a request no rule matches
is not audited (level None), as upstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

NONE, METADATA, REQUEST, REQUEST_RESPONSE = "None", "Metadata", "Request", "RequestResponse"
LEVELS = (NONE, METADATA, REQUEST, REQUEST_RESPONSE)
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
API_VERSIONS = ("audit.k8s.io/v1",)


class PolicyError(ValueError):
    """A policy file that cannot be used; the server refuses to start with it."""


def level_at_least(level: str, other: str) -> bool:
    return LEVELS.index(level) >= LEVELS.index(other)


@dataclass(frozen=True)
class GroupResources:
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()

    def matches(self, group: str, resource: str, subresource: str, name: str) -> bool:
        if self.group != group:
            return False
        if not self.resources:
            return True
        if self.resource_names and name not in self.resource_names:
            return False
        combined = f"{resource}/{subresource}" if subresource else resource
        for res in self.resources:
            if res in ("*", combined):
                return True
            if subresource and res.startswith("*/") and res[2:] == subresource:
                return True
            if res.endswith("/*") and res[:-2] == resource:
                return True
        return False


@dataclass(frozen=True)
class Rule:
    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool | None = None

    def matches(self, user: str, groups: tuple[str, ...], verb: str, info: Any, path: str) -> bool:
        if self.users and user not in self.users:
            return False
        if self.user_groups and not any(g in self.user_groups for g in groups):
            return False
        if self.verbs and verb not in self.verbs:
            return False
        if info.is_resource_request:
            if self.non_resource_urls and not self.resources:
                return False
            if self.namespaces and info.namespace not in self.namespaces:
                return False
            if self.resources:
                return any(gr.matches(info.api_group, info.resource, info.subresource, info.name)
                           for gr in self.resources)
            return True
        if self.namespaces or (self.resources and not self.non_resource_urls):
            return False
        if self.non_resource_urls:
            return any(_url_matches(spec, path) for spec in self.non_resource_urls)
        return True


def _url_matches(spec: str, path: str) -> bool:
    if spec in ("*", path):
        return True
    return spec.endswith("*") and path.startswith(spec[:-1])


@dataclass(frozen=True)
class Decision:
    level: str
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False


NOT_AUDITED = Decision(NONE)


@dataclass
class Policy:
    rules: list[Rule] = field(default_factory=list)
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool = False

    def evaluate(self, user: str, groups: tuple[str, ...], verb: str, info: Any, path: str) -> Decision:
        for rule in self.rules:
            if rule.matches(user, groups, verb, info, path):
                if rule.level == NONE:
                    return NOT_AUDITED
                omf = self.omit_managed_fields if rule.omit_managed_fields is None else rule.omit_managed_fields
                return Decision(rule.level, frozenset(self.omit_stages) | frozenset(rule.omit_stages), omf)
        return NOT_AUDITED


def _strings(rule: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    v = rule.get(key)
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise PolicyError(f"{where}.{key}: must be a list of strings")
    return tuple(v)


def _stages(value: dict[str, Any], where: str) -> tuple[str, ...]:
    stages = _strings(value, "omitStages", where)
    for s in stages:
        if s not in STAGES:
            raise PolicyError(f'{where}.omitStages: Unsupported value: "{s}": supported values: '
                              + ", ".join(f'"{x}"' for x in STAGES))
    return stages


def _rule(raw: Any, i: int) -> Rule:
    where = f"rules[{i}]"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: must be an object")
    level = raw.get("level")
    if level not in LEVELS:
        raise PolicyError(f'{where}.level: Unsupported value: "{level or ""}": supported values: '
                          + ", ".join(f'"{x}"' for x in LEVELS))
    resources: list[GroupResources] = []
    for j, gr in enumerate(raw.get("resources") or []):
        if not isinstance(gr, dict):
            raise PolicyError(f"{where}.resources[{j}]: must be an object")
        names = _strings(gr, "resourceNames", f"{where}.resources[{j}]")
        res = _strings(gr, "resources", f"{where}.resources[{j}]")
        if names and not res:
            raise PolicyError(f"{where}.resources[{j}].resourceNames: Invalid value: resourceNames "
                              "require a non-empty resource list")
        resources.append(GroupResources(str(gr.get("group") or ""), res, names))
    urls = _strings(raw, "nonResourceURLs", where)
    namespaces = _strings(raw, "namespaces", where)
    if urls and (resources or namespaces):
        raise PolicyError(f"{where}.nonResourceURLs: Invalid value: rules cannot apply to both "
                          "regular resources and non-resource URLs")
    for u in urls:
        if not u.startswith("/") and u != "*":
            raise PolicyError(f'{where}.nonResourceURLs: Invalid value: "{u}": non-resource URL rules '
                              "must begin with a '/' character")
        if "*" in u[:-1]:
            raise PolicyError(f'{where}.nonResourceURLs: Invalid value: "{u}": non-resource URL '
                              "wildcards '*' must be the final character of the rule")
    omf = raw.get("omitManagedFields")
    if omf is not None and not isinstance(omf, bool):
        raise PolicyError(f"{where}.omitManagedFields: must be a boolean")
    return Rule(level, _strings(raw, "users", where), _strings(raw, "userGroups", where),
                _strings(raw, "verbs", where), tuple(resources), namespaces, urls,
                _stages(raw, where), omf)


def parse_policy(doc: Any) -> Policy:
    if not isinstance(doc, dict):
        raise PolicyError("the policy is not an object")
    if doc.get("kind") != "Policy" or doc.get("apiVersion") not in API_VERSIONS:
        raise PolicyError(f"unsupported policy kind/apiVersion {doc.get('apiVersion')!r}/"
                          f"{doc.get('kind')!r}: expected audit.k8s.io/v1 Policy")
    rules = doc.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError("loaded illegal policy with 0 rules")
    omf = doc.get("omitManagedFields", False)
    if not isinstance(omf, bool):
        raise PolicyError("omitManagedFields: must be a boolean")
    return Policy([_rule(r, i) for i, r in enumerate(rules)], _stages(doc, "policy"), omf)


def load_policy(path: str) -> Policy:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as e:
        raise PolicyError(f"failed to read file path {path!r}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise PolicyError(f"failed decoding file {path!r}: {e}") from None
    return parse_policy(doc)
