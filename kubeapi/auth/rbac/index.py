"""The RBAC objects held in memory, kept current by watches, with bindings indexed by subject.

A request's rules are found from the user's name and groups in a few dict look-ups: the
ClusterRoleBindings naming that user / one of its groups, and the RoleBindings of the request's
namespace doing the same.  ServiceAccount subjects are indexed under the user name they stand
for (``system:serviceaccount:<ns>:<name>``), with a RoleBinding's namespace as the default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubeapi.auth.informer import Informer
from kubeapi.auth.user import UserInfo
from kubeapi.storage.interface import Storage

Obj = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"
# storage segment under --etcd-prefix, as upstream lays the RBAC resources out
SEGMENTS = {"roles": "roles", "clusterroles": "clusterroles", "rolebindings": "rolebindings",
            "clusterrolebindings": "clusterrolebindings"}
SA_PREFIX = "system:serviceaccount:"


def sa_user(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"


def subject_keys(subject: Obj, binding_namespace: str) -> list[tuple[str, str]]:
    """The index keys ("user"|"group", name) one binding subject applies to."""
    kind = subject.get("kind")
    name = str(subject.get("name") or "")
    if kind == "User":
        return [("user", name)]
    if kind == "Group":
        return [("group", name)]
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return [("user", sa_user(ns, name))] if ns else []
    return []


def describe_subject(subject: Obj, binding_namespace: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


@dataclass
class Source:
    """Where a rule came from (for ``RBAC: allowed by ...``)."""

    binding: Obj
    subject: Obj
    cluster: bool

    def __str__(self) -> str:
        b = self.binding
        meta, ref = b.get("metadata") or {}, b.get("roleRef") or {}
        if self.cluster:
            return (f'ClusterRoleBinding "{meta.get("name", "")}" of {ref.get("kind", "")} '
                    f'"{ref.get("name", "")}" to {describe_subject(self.subject, "")}')
        ns = meta.get("namespace", "")
        return (f'RoleBinding "{meta.get("name", "")}/{ns}" of {ref.get("kind", "")} '
                f'"{ref.get("name", "")}" to {describe_subject(self.subject, ns)}')


class RBACIndex:
    """See the module docstring.  ``listeners`` are called with the resource name on every change."""

    def __init__(self, storage: Storage, prefix: str, reactor: Any) -> None:
        self.storage = storage
        self.prefix = prefix.rstrip("/")
        self.roles: dict[tuple[str, str], Obj] = {}
        self.cluster_roles: dict[str, Obj] = {}
        self.role_bindings: dict[str, Obj] = {}  # storage key -> binding
        self.cluster_role_bindings: dict[str, Obj] = {}
        # ("user"|"group", name) -> binding keys;  for role bindings keyed by namespace first
        # values: binding key -> position of the first subject with that identity
        self._crb_by_subject: dict[tuple[str, str], dict[str, int]] = {}
        self._rb_by_subject: dict[tuple[str, str, str], dict[str, int]] = {}
        self.generation = 0  # bumped on every change; decision caches compare it
        self.listeners: list[Callable[[str], None]] = []
        self.informers = [
            Informer(storage, self.key_prefix("roles"), self._put_role, self._del_role, reactor),
            Informer(storage, self.key_prefix("clusterroles"), self._put_cluster_role,
                     self._del_cluster_role, reactor),
            Informer(storage, self.key_prefix("rolebindings"), self._put_rb, self._del_rb, reactor),
            Informer(storage, self.key_prefix("clusterrolebindings"), self._put_crb, self._del_crb,
                     reactor),
        ]

    def key_prefix(self, resource: str) -> str:
        return f"{self.prefix}/{SEGMENTS[resource]}/"

    def key(self, resource: str, namespace: str, name: str) -> str:
        return self.key_prefix(resource) + (f"{namespace}/{name}" if namespace else name)

    async def start(self) -> None:
        for inf in self.informers:
            await inf.start()

    def stop(self) -> None:
        for inf in self.informers:
            inf.stop()

    @property
    def synced(self) -> bool:
        return all(i.synced for i in self.informers)

    def _changed(self, resource: str) -> None:
        self.generation += 1
        for cb in list(self.listeners):
            cb(resource)

    # -- informer callbacks ---------------------------------------------------------------------

    def _put_role(self, key: str, obj: Obj) -> None:
        m = obj.get("metadata") or {}
        self.roles[(m.get("namespace", ""), m.get("name", ""))] = obj
        self._changed("roles")

    def _del_role(self, key: str, obj: Obj) -> None:
        m = obj.get("metadata") or {}
        self.roles.pop((m.get("namespace", ""), m.get("name", "")), None)
        self._changed("roles")

    def _put_cluster_role(self, key: str, obj: Obj) -> None:
        self.cluster_roles[(obj.get("metadata") or {}).get("name", "")] = obj
        self._changed("clusterroles")

    def _del_cluster_role(self, key: str, obj: Obj) -> None:
        self.cluster_roles.pop((obj.get("metadata") or {}).get("name", ""), None)
        self._changed("clusterroles")

    def _put_rb(self, key: str, obj: Obj) -> None:
        self._del_rb(key, self.role_bindings.get(key), notify=False)
        self.role_bindings[key] = obj
        ns = (obj.get("metadata") or {}).get("namespace", "")
        for i, s in enumerate(obj.get("subjects") or []):
            for kind, name in subject_keys(s, ns):
                self._rb_by_subject.setdefault((ns, kind, name), {}).setdefault(key, i)
        self._changed("rolebindings")

    def _del_rb(self, key: str, obj: Obj | None, notify: bool = True) -> None:
        old = self.role_bindings.pop(key, None)
        if old is not None:
            ns = (old.get("metadata") or {}).get("namespace", "")
            for s in old.get("subjects") or []:
                for kind, name in subject_keys(s, ns):
                    keys = self._rb_by_subject.get((ns, kind, name))
                    if keys is not None:
                        keys.pop(key, None)
                        if not keys:
                            del self._rb_by_subject[(ns, kind, name)]
        if notify:
            self._changed("rolebindings")

    def _put_crb(self, key: str, obj: Obj) -> None:
        self._del_crb(key, self.cluster_role_bindings.get(key), notify=False)
        self.cluster_role_bindings[key] = obj
        for i, s in enumerate(obj.get("subjects") or []):
            for sk in subject_keys(s, ""):
                self._crb_by_subject.setdefault(sk, {}).setdefault(key, i)
        self._changed("clusterrolebindings")

    def _del_crb(self, key: str, obj: Obj | None, notify: bool = True) -> None:
        old = self.cluster_role_bindings.pop(key, None)
        if old is not None:
            for s in old.get("subjects") or []:
                for sk in subject_keys(s, ""):
                    keys = self._crb_by_subject.get(sk)
                    if keys is not None:
                        keys.pop(key, None)
                        if not keys:
                            del self._crb_by_subject[sk]
        if notify:
            self._changed("clusterrolebindings")

    # -- queries --------------------------------------------------------------------------------

    def role_ref_rules(self, ref: Obj, namespace: str) -> tuple[list[Obj], str]:
        """(rules, error text) of a binding's roleRef."""
        kind, name = ref.get("kind"), str(ref.get("name") or "")
        if kind == "Role":
            role = self.roles.get((namespace, name))
            if role is None:
                return [], f'role.{GROUP} "{name}" not found'
            return role.get("rules") or [], ""
        if kind == "ClusterRole":
            cr = self.cluster_roles.get(name)
            if cr is None:
                return [], f'clusterrole.{GROUP} "{name}" not found'
            return cr.get("rules") or [], ""
        return [], f'unsupported role reference kind: "{kind}"'

    def _candidates(self, user: UserInfo, ns: str | None) -> list[tuple[str, int]]:
        """(binding key, position of its first subject that is this user), in key order."""
        found: dict[str, int] = {}
        look = [("user", user.name)] + [("group", g) for g in user.groups]
        for kind, name in look:
            hits = (self._crb_by_subject.get((kind, name)) if ns is None
                    else self._rb_by_subject.get((ns, kind, name)))
            for key, pos in (hits or {}).items():
                if key not in found or pos < found[key]:
                    found[key] = pos
        return sorted(found.items())

    def visit(self, user: UserInfo, namespace: str) -> Iterator[tuple[Source | None, Obj | None, str]]:
        """(source, rule, "") for every rule that applies to the user in ``namespace``
        (cluster-wide bindings first), and (None, None, error) for a dangling roleRef."""
        scopes: list[tuple[str | None, dict[str, Obj]]] = [(None, self.cluster_role_bindings)]
        if namespace:
            scopes.append((namespace, self.role_bindings))
        for ns, table in scopes:
            for key, pos in self._candidates(user, ns):
                binding = table.get(key)
                if binding is None:
                    continue
                rules, err = self.role_ref_rules(binding.get("roleRef") or {}, ns or "")
                if err:
                    yield None, None, err
                    continue
                src = Source(binding, (binding.get("subjects") or [])[pos], ns is None)
                for r in rules:
                    yield src, r, ""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Obj], list[str]]:
        rules: list[Obj] = []
        errors: list[str] = []
        for _src, rule, err in self.visit(user, namespace):
            if err:
                errors.append(err)
            elif rule is not None:
                rules.append(rule)
        return rules, errors


def aggregate_errors(errors: list[str]) -> str:
    """utilerrors.NewAggregate's text: one error alone, else ``[e1, e2]``."""
    if len(errors) == 1:
        return errors[0]
    return "[" + ", ".join(errors) + "]"
