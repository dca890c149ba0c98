"""Privilege-escalation prevention on writes of roles and bindings, as upstream's RBAC storage.

Creating or updating a Role/ClusterRole is allowed for ``system:masters``, for a user the
authorizer allows ``escalate`` on that role, or when the user already holds every rule being
granted (in the request's namespace).  A ClusterRole with an aggregationRule needs full
authority.  A RoleBinding/ClusterRoleBinding is allowed for ``system:masters``, for a user
allowed ``bind`` on the referenced role, or when the user holds every rule of that role.
It runs in admission's validating phase, where the final object and the user are known.
"""

from __future__ import annotations

from typing import Any

from kubeapi.admission.interface import Attributes as AdmissionAttributes
from kubeapi.auth.authorizer import Attributes, Decision
from kubeapi.auth.rbac.authorizer import go_quote_list
from kubeapi.auth.rbac.index import GROUP, RBACIndex, aggregate_errors
from kubeapi.auth.rbac.rules import compact, compact_string, covers
from kubeapi.auth.user import UserInfo
from kubeapi.errors import StatusError, forbidden

Obj = dict[str, Any]
MASTERS = "system:masters"
ROLE_KINDS = ("roles", "clusterroles")
BINDING_KINDS = ("rolebindings", "clusterrolebindings")
FULL_AUTHORITY = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                  {"nonResourceURLs": ["*"], "verbs": ["*"]}]
_GC_META = ("ownerReferences", "finalizers", "resourceVersion", "managedFields", "generation")


def only_gc_fields_changed(new: Obj, old: Obj) -> bool:
    def strip(o: Obj) -> Obj:
        meta = {k: v for k, v in (o.get("metadata") or {}).items() if k not in _GC_META}
        return {**{k: v for k, v in o.items() if k != "metadata"}, "metadata": meta}

    return strip(new) == strip(old)


def _has_aggregation(obj: Obj | None) -> bool:
    return bool(obj and ((obj.get("aggregationRule") or {}).get("clusterRoleSelectors")))


class EscalationCheck:
    name = ""  # RBAC's own check on role writes (upstream: in its registry), not an admission plugin

    def __init__(self, server: Any, index: RBACIndex) -> None:
        self.server = server
        self.index = index

    async def admit(self, attrs: AdmissionAttributes) -> None:
        return None

    async def validate(self, attrs: AdmissionAttributes) -> None:
        rdef = attrs.resource
        if rdef.group != GROUP or attrs.operation not in ("CREATE", "UPDATE") or attrs.subresource:
            return
        if rdef.plural not in ROLE_KINDS + BINDING_KINDS or attrs.object is None or attrs.user is None:
            return
        user = attrs.user
        if MASTERS in user.groups:
            return
        if attrs.operation == "UPDATE" and attrs.old_object is not None \
                and only_gc_fields_changed(attrs.object, attrs.old_object):
            return
        ns = attrs.namespace if rdef.namespaced else ""
        name = attrs.name or (attrs.object.get("metadata") or {}).get("name", "")
        if rdef.plural in ROLE_KINDS:
            await self._check_role(user, rdef.plural, ns, name, attrs.object, attrs.old_object)
        else:
            await self._check_binding(user, rdef.plural, ns, name, attrs.object)

    async def _allowed(self, user: UserInfo, verb: str, resource: str, ns: str, name: str,
                       group: str = GROUP) -> bool:
        a = Attributes(user=user, verb=verb, is_resource_request=True, namespace=ns, api_group=group,
                       api_version="*", resource=resource, name=name)
        decision, _ = await self.server.authorizer.authorize(a)
        return decision is Decision.ALLOW

    def _confirm(self, user: UserInfo, ns: str, rules: list[Obj]) -> str:
        """'' when the user holds every rule, else upstream's message."""
        owned, errors = self.index.rules_for(user, ns)
        ok, missing = covers(owned, rules)
        if ok:
            return ""
        lines = sorted({compact_string(r) for r in compact(missing)})
        msg = (f'user "{user.name}" (groups={go_quote_list(user.groups)}) is attempting to grant RBAC '
               f"permissions not currently held:\n" + "\n".join(lines))
        if errors:
            msg += f"; resolution errors: [{aggregate_errors(errors)}]"
        return msg

    async def _check_role(self, user: UserInfo, plural: str, ns: str, name: str, obj: Obj,
                          old: Obj | None) -> None:
        if await self._allowed(user, "escalate", plural, ns, name):
            return
        why = self._confirm(user, ns, list(obj.get("rules") or []))
        if why:
            raise forbidden(plural, GROUP, name, why)
        if plural == "clusterroles" and (_has_aggregation(obj) or _has_aggregation(old)):
            if self._confirm(user, ns, FULL_AUTHORITY):
                raise forbidden(plural, GROUP, name,
                                "must have cluster-admin privileges to use the aggregationRule")

    async def _check_binding(self, user: UserInfo, plural: str, ns: str, name: str, obj: Obj) -> None:
        ref = obj.get("roleRef") or {}
        kind = ref.get("kind")
        if kind in ("Role", "ClusterRole"):
            resource = "roles" if kind == "Role" else "clusterroles"
            if await self._allowed(user, "bind", resource, ns, str(ref.get("name") or ""),
                                   str(ref.get("apiGroup") or "")):
                return
        rules, err = self.index.role_ref_rules(ref, ns)
        if err:
            if kind in ("Role", "ClusterRole"):
                what = "role" if kind == "Role" else "clusterrole"
                raise StatusError(404, "NotFound", err,
                                  {"name": str(ref.get("name") or ""), "group": GROUP, "kind": what})
            raise StatusError(500, "InternalError", f"Internal error occurred: {err}", {})
        why = self._confirm(user, ns, rules)
        if why:
            raise forbidden(plural, GROUP, name, why)
