"""The ``authorizer`` of admission policies' CEL: ``authorizer.group('apps').resource('deployments')
.namespace('ns').check('create').allowed()``, ``authorizer.path('/healthz').check('get')``,
``authorizer.serviceAccount('ns', 'sa')...`` and ``authorizer.requestResource.check('approve')``.

CEL is evaluated synchronously and the server's authorizers answer asynchronously, so an
expression runs in rounds: a check whose answer is not known yet is recorded and fails the
round; the recorded checks are then asked, and the expression runs again with their answers.
CEL has no side effects, so a rerun sees the same world, only with more answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from celpy import celtypes

from kubeapi.auth.user import UserInfo

MAX_ROUNDS = 8  # distinct checks one expression may need, one round each at worst


@dataclass(frozen=True)
class Check:
    """What is asked: as the authorizer attributes of one request would say it.  ``who``
    identifies ``user`` in the answers' cache (a UserInfo itself is not hashable)."""

    user: UserInfo = field(compare=False)
    who: tuple[str, tuple[str, ...]] = ("", ())
    verb: str = ""
    path: str = ""
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    error: str = ""


def check_for(user: UserInfo, **attrs: str) -> Check:
    return Check(user, (user.name, tuple(user.groups)), **attrs)


class Pending(Exception):
    """The round asked a check that has no answer yet."""


class Session:
    """One request's checks and their answers, shared by every round of its expressions."""

    def __init__(self, user: UserInfo, ask: Callable[[Check], Awaitable[Decision]]) -> None:
        self.user = user
        self.ask = ask
        self.answers: dict[Check, Decision] = {}
        self.pending: set[Check] = set()

    def decide(self, check: Check) -> Decision:
        found = self.answers.get(check)
        if found is None:
            self.pending.add(check)
            raise Pending(check)
        return found

    async def answer_pending(self) -> None:
        for check in list(self.pending):
            self.answers[check] = await self.ask(check)
        self.pending.clear()


class AuthorizerValue(celtypes.MapType):
    """The ``authorizer`` variable; its one field is ``requestResource``."""

    def __init__(self, session: Session, user: UserInfo, request_resource: Check | None) -> None:
        fields = {} if request_resource is None else {
            celtypes.StringType("requestResource"): _Target(session, request_resource)}
        super().__init__(fields)
        self.session = session
        self.user = user


class _Target:
    """A partly built check (path, group, resource ...)."""

    def __init__(self, session: Session, check: Check) -> None:
        self.session = session
        self.check = check

    def but(self, **changes: Any) -> _Target:
        return _Target(self.session, replace(self.check, **changes))


def _path(a: AuthorizerValue, path: Any) -> _Target:
    return _Target(a.session, check_for(a.user, path=str(path)))


def _group(a: AuthorizerValue, group: Any) -> _Target:
    return _Target(a.session, check_for(a.user, group=str(group)))


def _service_account(a: AuthorizerValue, namespace: Any, name: Any) -> AuthorizerValue:
    user = UserInfo(name=f"system:serviceaccount:{namespace}:{name}",
                    groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"))
    return AuthorizerValue(a.session, user, None)


def _resource(t: _Target, value: Any) -> _Target:
    return t.but(resource=str(value))


def _subresource(t: _Target, value: Any) -> _Target:
    return t.but(subresource=str(value))


def _namespace(t: _Target, value: Any) -> _Target:
    return t.but(namespace=str(value))


def _name(t: _Target, value: Any) -> _Target:
    return t.but(name=str(value))


def _check(t: _Target, verb: Any) -> Decision:
    return t.session.decide(replace(t.check, verb=str(verb)))


def _allowed(d: Decision) -> celtypes.BoolType:
    return celtypes.BoolType(d.allowed)


def _reason(d: Decision) -> celtypes.StringType:
    return celtypes.StringType(d.reason)


def _errored(d: Decision) -> celtypes.BoolType:
    return celtypes.BoolType(bool(d.error))


def _error(d: Decision) -> celtypes.StringType:
    return celtypes.StringType(d.error)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "path": _path, "group": _group, "serviceAccount": _service_account, "resource": _resource,
    "subresource": _subresource, "namespace": _namespace, "name": _name, "check": _check,
    "allowed": _allowed, "reason": _reason, "errored": _errored, "error": _error,
}
