"""The RBAC authorizer (``--authorization-mode=RBAC``) and its start-up wiring.

Decisions come from the in-memory ``RBACIndex``; a request never reads storage.  ALLOW
says which binding allowed it; otherwise NO_OPINION, with ``RBAC: <errors>`` when a binding
points at a role that does not exist (as upstream prints it).
"""

from __future__ import annotations

import json
from typing import Any

from kubeapi.auth.authorizer import AUTHORIZER_FACTORIES, Attributes, Decision
from kubeapi.auth.rbac.index import RBACIndex, aggregate_errors
from kubeapi.auth.rbac.rules import rule_allows
from kubeapi.auth.user import UserInfo

Obj = dict[str, Any]


def go_quote_list(values: Any) -> str:
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(json.dumps(str(v), ensure_ascii=False) for v in values) + "]"


CACHE_SIZE = 20000


class RBACAuthorizer:
    def __init__(self, index: RBACIndex) -> None:
        self.index = index
        # Repeated questions (a controller listing the same thing) are answered from a cache
        # that any change to roles or bindings empties.
        self._cache: dict[tuple[Any, ...], tuple[Decision, str]] = {}
        self._generation = -1

    async def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        u = attrs.user
        key = (u.name, u.groups, attrs.verb, attrs.is_resource_request, attrs.path, attrs.namespace,
               attrs.api_group, attrs.resource, attrs.subresource, attrs.name)
        if self._generation != self.index.generation or len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
            self._generation = self.index.generation
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self.decide(attrs)
        return hit

    def decide(self, attrs: Attributes) -> tuple[Decision, str]:
        errors: list[str] = []
        for src, rule, err in self.index.visit(attrs.user, attrs.namespace):
            if err:
                errors.append(err)
            elif rule is not None and rule_allows(attrs, rule):
                return Decision.ALLOW, f"RBAC: allowed by {src}"
        if errors:
            return Decision.NO_OPINION, "RBAC: " + aggregate_errors(errors)
        return Decision.NO_OPINION, ""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Obj], list[str]]:
        return self.index.rules_for(user, namespace)


def _rbac_factory(server: Any) -> RBACAuthorizer:
    """One index per server, shared by the authorizer, the escalation check, the
    aggregation controller and the rules review; started before the secure port serves."""
    from kubeapi.auth.rbac.aggregation import AggregationController
    from kubeapi.auth.rbac.bootstrap import reconcile_bootstrap_policy
    from kubeapi.auth.rbac.escalation import EscalationCheck

    index = RBACIndex(server.storage, server.prefix, server.clock)
    authorizer = RBACAuthorizer(index)
    server.rbac = authorizer
    server.admission.append(EscalationCheck(server, index))
    aggregation = AggregationController(index, server.storage, server.storage_media_type, server.clock)

    async def start() -> None:
        await reconcile_bootstrap_policy(server.storage, index, server.storage_media_type)
        await index.start()
        aggregation.start()

    def stop() -> None:
        aggregation.stop()
        index.stop()

    server.add_lifecycle("rbac", start, stop)
    return authorizer


AUTHORIZER_FACTORIES["RBAC"] = _rbac_factory
