"""Authorization: the attributes of a request, the Authorizer protocol, and the chain.

The built-in modes here are the trivial ones (AlwaysAllow, AlwaysDeny) plus upstream's
privileged-group shortcut for ``system:masters``; RBAC, Node and Webhook register
themselves in ``AUTHORIZER_FACTORIES`` under their ``--authorization-mode`` names.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubeapi.auth.user import UserInfo
from kubeapi.errors import StatusError, qualified

log = logging.getLogger(__name__)


class Decision(enum.Enum):
    DENY = 0
    ALLOW = 1
    NO_OPINION = 2


@dataclass(frozen=True)
class Attributes:
    """What an authorizer is asked about (upstream's authorizer.Attributes)."""

    user: UserInfo
    verb: str
    is_resource_request: bool
    path: str = ""
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    field_selector: str = ""  # the request's raw fieldSelector (Node authorizer: spec.nodeName=...)


class Authorizer(Protocol):
    async def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        """(decision, reason).  ``reason`` is appended to the 403 message when not empty."""
        ...


class AlwaysAllow:
    async def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""


class AlwaysDeny:
    async def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.NO_OPINION, "Everything is forbidden."


class PrivilegedGroups:
    """Members of these groups are allowed everything, before any other mode is asked."""

    def __init__(self, groups: Sequence[str] = ("system:masters",)) -> None:
        self.groups = frozenset(groups)

    def member(self, user: UserInfo) -> bool:
        return not self.groups.isdisjoint(user.groups)

    async def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        if self.member(attrs.user):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""


class Union:
    """First ALLOW or DENY wins; reasons of the others are kept for the message."""

    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = list(authorizers)

    def allows_outright(self, user: UserInfo) -> bool:
        """Whether the chain's first link allows ``user`` everything (``system:masters``):
        then `authorize` answers ALLOW with no reason whatever is asked, and the caller
        need not spell out what is asked."""
        first = self.authorizers[0] if self.authorizers else None
        return isinstance(first, PrivilegedGroups) and first.member(user)

    async def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        reasons: list[str] = []
        errors: list[str] = []
        for a in self.authorizers:
            try:
                decision, reason = await a.authorize(attrs)
            except Exception as e:  # e.g. a webhook that cannot be reached: the next may allow
                log.warning("authorizer %s failed: %s", type(a).__name__, e)
                errors.append(str(e) or type(e).__name__)
                continue
            if decision is not Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        if errors:
            raise EvaluationError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]",
                                  "\n".join(reasons))
        return Decision.NO_OPINION, "\n".join(reasons)


class EvaluationError(StatusError):
    """No authorizer allowed and at least one failed: upstream answers 500."""

    def __init__(self, error: str, reason: str = "") -> None:
        super().__init__(500, "InternalError", f"Internal error occurred: {error}",
                         {"causes": [{"message": error}]})
        self.error = error
        self.reason = reason


# mode name -> factory(apiserver) -> Authorizer.  Other modules add "RBAC", "Node", "Webhook".
AUTHORIZER_FACTORIES: dict[str, Callable[[Any], Authorizer]] = {
    "AlwaysAllow": lambda _server: AlwaysAllow(),
    "AlwaysDeny": lambda _server: AlwaysDeny(),
}


# Modules that register a mode in AUTHORIZER_FACTORIES when imported.
MODE_MODULES = {"RBAC": "kubeapi.auth.rbac.authorizer", "Node": "kubeapi.auth.node",
                "Webhook": "kubeapi.auth.webhook_authz"}


def load_modes(modes: Sequence[str]) -> None:
    """Import the modules that implement ``modes`` (they register themselves)."""
    import importlib

    for mode in modes:
        if mode in MODE_MODULES and mode not in AUTHORIZER_FACTORIES:
            importlib.import_module(MODE_MODULES[mode])


def build_authorizer(modes: Sequence[str], server: Any = None) -> Authorizer:
    """The chain for ``--authorization-mode``: privileged groups first, then each mode."""
    chain: list[Authorizer] = [PrivilegedGroups()]
    load_modes(modes)
    for mode in modes:
        factory = AUTHORIZER_FACTORIES.get(mode)
        if factory is None:
            raise ValueError(f"authorization mode {mode!r} is not supported")
        chain.append(factory(server))
    return Union(chain)


def _sanitize(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def forbidden_error(attrs: Attributes, reason: str = "") -> StatusError:
    """The 403 body upstream writes (responsewriters.Forbidden)."""
    user = attrs.user.name
    if attrs.is_resource_request:
        res = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        where = (f'in the namespace "{attrs.namespace}"' if attrs.namespace
                 else "at the cluster scope")
        msg = f'User "{user}" cannot {attrs.verb} resource "{res}" in API group "{attrs.api_group}" {where}'
    else:
        msg = f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    msg = _sanitize(msg)
    if reason:
        msg += ": " + reason
    if attrs.is_resource_request and attrs.resource:
        what = qualified(attrs.resource, attrs.api_group)
        head = f'{what} "{attrs.name}" is forbidden' if attrs.name else f"{what} is forbidden"
        details: dict[str, Any] = {"kind": attrs.resource}
        if attrs.name:
            details = {"name": attrs.name, **details}
        if attrs.api_group:
            details["group"] = attrs.api_group
        return StatusError(403, "Forbidden", f"{head}: {msg}", details)
    return StatusError(403, "Forbidden", f"forbidden: {msg}", {})
