"""RBAC as a client sees it: rule matching, bindings found by subject, the bootstrap policy
with aggregation and autoupdate, escalation refusals, the reviews — over a real server on
real SQLite, users chosen by impersonation from the (trusted) insecure port or by token."""

from __future__ import annotations

from typing import Any

import orjson
from twisted.trial import unittest

from kubeapi.api import rbac, reviews
from kubeapi.api.types import Catalog
from kubeapi.auth.authorizer import Attributes, Decision
from kubeapi.auth.rbac import rules as r
from kubeapi.auth.rbac.bootstrap import AUTOUPDATE, reconcile_bootstrap_policy
from kubeapi.auth.user import UserInfo
from kubeapi.registry.codec import encode_stored
from tests.server.support import CONFIGMAPS, NAMESPACES, ServerTestCase
from tests.support.waiting import eventually

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def attrs(verb: str, resource: str = "", sub: str = "", name: str = "", group: str = "",
          path: str = "", ns: str = "", user: UserInfo | None = None) -> Attributes:
    return Attributes(user=user or UserInfo("u"), verb=verb, is_resource_request=not path, path=path,
                      namespace=ns, api_group=group, resource=resource, subresource=sub, name=name)


class RuleMatching(unittest.TestCase):
    def test_resources_and_subresources(self) -> None:
        rule = {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["get"]}
        self.assertTrue(r.rule_allows(attrs("get", "deployments", group="apps"), rule))
        self.assertTrue(r.rule_allows(attrs("get", "deployments", "scale", group="apps"), rule))
        self.assertFalse(r.rule_allows(attrs("get", "deployments", "status", group="apps"), rule))
        self.assertFalse(r.rule_allows(attrs("get", "deployments", group=""), rule))
        self.assertFalse(r.rule_allows(attrs("list", "deployments", group="apps"), rule))
        star_sub = {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["*"]}
        self.assertTrue(r.rule_allows(attrs("update", "replicasets", "scale", group="apps"), star_sub))
        self.assertFalse(r.rule_allows(attrs("update", "replicasets", group="apps"), star_sub))
        star = {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}
        self.assertTrue(r.rule_allows(attrs("get", "pods", "log"), star))

    def test_resource_names_and_urls(self) -> None:
        rule = {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"], "verbs": ["get"]}
        self.assertTrue(r.rule_allows(attrs("get", "configmaps", name="a"), rule))
        self.assertFalse(r.rule_allows(attrs("get", "configmaps", name="b"), rule))
        self.assertFalse(r.rule_allows(attrs("get", "configmaps"), rule))
        urls = {"nonResourceURLs": ["/healthz", "/apis/*"], "verbs": ["get"]}
        self.assertTrue(r.rule_allows(attrs("get", path="/healthz"), urls))
        self.assertFalse(r.rule_allows(attrs("get", path="/healthz/etcd"), urls))
        self.assertTrue(r.rule_allows(attrs("get", path="/apis/apps/v1"), urls))
        self.assertFalse(r.rule_allows(attrs("post", path="/apis/apps/v1"), urls))
        # A resource rule never allows a path, a URL rule never a resource.
        self.assertFalse(r.rule_allows(attrs("get", "healthz"), urls))

    def test_covers_and_compact_text(self) -> None:
        owner = [{"apiGroups": [""], "resources": ["pods", "*/status"], "verbs": ["get", "list"]}]
        ok, missing = r.covers(owner, [{"apiGroups": [""], "resources": ["pods", "services/status"],
                                        "verbs": ["get"]}])
        self.assertTrue(ok, missing)
        ok, missing = r.covers(owner, [{"apiGroups": ["", "apps"], "resources": ["pods"], "verbs": ["get", "delete"]}])
        self.assertFalse(ok)
        self.assertEqual(sorted(r.compact_string(m) for m in r.compact(missing)), [
            '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
            '{APIGroups:["apps"], Resources:["pods"], Verbs:["get" "delete"]}',
        ])
        named = [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"], "verbs": ["get"]}]
        self.assertFalse(r.covers(named, [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}])[0])
        self.assertTrue(r.covers(named, named)[0])


def rbac_catalog() -> Catalog:
    return Catalog([NAMESPACES, CONFIGMAPS, *rbac.RESOURCES, *reviews.RESOURCES])


class StaticTokens:
    """A token authenticator for the tests' callers (authentication is not under test here)."""

    def __init__(self, users: dict[str, UserInfo]) -> None:
        self.users = users

    async def authenticate_token(self, token: str) -> UserInfo | None:
        return self.users.get(token)


def as_user(name: str, *groups: str) -> dict[str, Any]:
    h: dict[str, Any] = {"Impersonate-User": name}
    if groups:
        h["Impersonate-Group"] = list(groups)
    return h


class RBACBase(ServerTestCase):
    async def setUp(self) -> None:  # type: ignore[override]
        tokens = StaticTokens({"alice-token": UserInfo("alice", groups=("system:authenticated",))})
        self.srv = await self.start_server(catalog=rbac_catalog(), authorization_mode=("RBAC",),
                                           token_authenticators=[tokens])
        await self.srv.start_lifecycle()
        self.addCleanup(self.srv.stop_lifecycle)
        self.index = self.srv.rbac.index

    async def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        code, out, _ = await self.call(method, path, body, **kw)
        self.assertIn(code, (200, 201), out)
        return out

    async def grant(self, ns: str, name: str, rules: list[dict[str, Any]], user: str = "alice") -> None:
        await self.ok("POST", f"{RBAC}/namespaces/{ns}/roles",
                      {"metadata": {"name": name}, "rules": rules})
        await self.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings", {
            "metadata": {"name": name}, "subjects": [{"kind": "User", "name": user,
                                                      "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "Role", "name": name, "apiGroup": "rbac.authorization.k8s.io"}})
        key = self.index.key("rolebindings", ns, name)
        self.assertTrue(await eventually(lambda: key in self.index.role_bindings, 5))

class RBACServer(RBACBase):
    async def test_bootstrap_policy_and_aggregation(self) -> None:
        names = self.index.cluster_roles
        for n in ("cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
                  "system:public-info-viewer", "system:node", "system:node-proxier", "system:kube-scheduler",
                  "system:kube-controller-manager", "system:volume-scheduler",
                  "system:controller:deployment-controller", "system:controller:namespace-controller"):
            self.assertIn(n, names)
        self.assertIn(("kube-system", "extension-apiserver-authentication-reader"), self.index.roles)
        self.assertIn(("kube-system", "system::leader-locking-kube-scheduler"), self.index.roles)
        crbs = {b["metadata"]["name"] for b in self.index.cluster_role_bindings.values()}
        self.assertTrue({"cluster-admin", "system:discovery", "system:kube-scheduler",
                         "system:controller:replicaset-controller"} <= crbs)

        def view_rules() -> list[Any]:
            return list(names.get("view", {}).get("rules") or [])

        self.assertTrue(await eventually(lambda: bool(view_rules()), 5))
        self.assertIn({"apiGroups": [""], "resources": ["configmaps", "endpoints", "persistentvolumeclaims",
                                                        "persistentvolumeclaims/status", "pods",
                                                        "replicationcontrollers", "replicationcontrollers/scale",
                                                        "serviceaccounts", "services", "services/status"],
                       "verbs": ["get", "list", "watch"]}, view_rules())
        # admin aggregates edit which aggregates view: the view rules reach admin.
        self.assertTrue(await eventually(lambda: all(x in (names["admin"].get("rules") or [])
                                                     for x in view_rules()), 5))
        # A new ClusterRole labelled to aggregate into view is picked up.
        await self.ok("POST", f"{RBAC}/clusterroles", {
            "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]})
        want = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}
        self.assertTrue(await eventually(lambda: want in view_rules(), 5))
        got = await self.ok("GET", f"{RBAC}/clusterroles/view")
        self.assertIn(want, got["rules"])

    async def test_autoupdate(self) -> None:
        store = self.srv.storage
        key = self.index.key("clusterroles", "", "system:discovery")

        async def set_rules(rules: list[Any], autoupdate: str) -> None:
            kv = await store.get(key)
            assert kv is not None
            obj = orjson.loads(kv.value)
            obj["rules"] = rules
            obj["metadata"]["annotations"][AUTOUPDATE] = autoupdate
            await store.update(key, encode_stored(obj), kv.mod_revision)

        extra = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
        await set_rules([extra], "false")
        await reconcile_bootstrap_policy(store, self.index, "application/json")
        kv = await store.get(key)
        assert kv is not None
        self.assertEqual(orjson.loads(kv.value)["rules"], [extra])
        await set_rules([extra], "true")
        await reconcile_bootstrap_policy(store, self.index, "application/json")
        kv = await store.get(key)
        assert kv is not None
        rules = orjson.loads(kv.value)["rules"]
        self.assertEqual(rules[0], extra)  # extra permissions are kept
        self.assertIn({"nonResourceURLs": ["/api"], "verbs": ["get"]}, rules)  # missing ones added

    async def test_role_in_one_namespace(self) -> None:
        await self.grant("a", "cm-reader", [{"apiGroups": [""], "resources": ["configmaps"],
                                             "verbs": ["get", "list"]}])
        code, out, _ = await self.call("GET", "/api/v1/namespaces/a/configmaps", headers=as_user("alice"))
        self.assertEqual(code, 200, out)
        code, out, _ = await self.call("GET", "/api/v1/namespaces/b/configmaps", headers=as_user("alice"))
        self.assertEqual(code, 403)
        self.assertEqual(out["message"], 'configmaps is forbidden: User "alice" cannot list resource "configmaps" '
                                         'in API group "" in the namespace "b"')
        self.assertEqual(out["details"], {"kind": "configmaps"})
        code, out, _ = await self.call("DELETE", "/api/v1/namespaces/a/configmaps/x", headers=as_user("alice"))
        self.assertEqual(out["message"], 'configmaps "x" is forbidden: User "alice" cannot delete resource '
                                         '"configmaps" in API group "" in the namespace "a"')
        # The same through a token on the secure listener.
        code, out, _ = await self.call("GET", "/api/v1/namespaces/a/configmaps", secure=True,
                                       headers={"Authorization": "Bearer alice-token"})
        self.assertEqual(code, 200, out)
        code, out, _ = await self.call("GET", "/api/v1/namespaces", secure=True,
                                       headers={"Authorization": "Bearer alice-token"})
        self.assertEqual(out["message"], 'namespaces is forbidden: User "alice" cannot list resource "namespaces" '
                                         'in API group "" at the cluster scope')
        # Removing the binding takes the permission away (the watch keeps the index current).
        await self.ok("DELETE", f"{RBAC}/namespaces/a/rolebindings/cm-reader")
        self.assertTrue(await eventually(
            lambda: self.index.key("rolebindings", "a", "cm-reader") not in self.index.role_bindings, 5))
        code, _, _ = await self.call("GET", "/api/v1/namespaces/a/configmaps", headers=as_user("alice"))
        self.assertEqual(code, 403)

    async def test_groups_service_accounts_cluster_bindings(self) -> None:
        await self.ok("POST", f"{RBAC}/clusterrolebindings", {
            "metadata": {"name": "sa-view"}, "roleRef": {"kind": "ClusterRole", "name": "view",
                                                        "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "ci"},
                         {"kind": "Group", "name": "viewers", "apiGroup": "rbac.authorization.k8s.io"}]})
        self.assertTrue(await eventually(lambda: bool(self.index.cluster_roles.get("view", {}).get("rules")), 5))
        self.assertTrue(await eventually(
            lambda: self.index.key("clusterrolebindings", "", "sa-view") in self.index.cluster_role_bindings, 5))
        for headers in (as_user("system:serviceaccount:ci:robot"), as_user("carol", "viewers")):
            code, out, _ = await self.call("GET", "/api/v1/namespaces/z/configmaps", headers=headers)
            self.assertEqual(code, 200, out)
        code, _, _ = await self.call("GET", "/api/v1/namespaces/z/configmaps", headers=as_user("carol"))
        self.assertEqual(code, 403)
        # A binding to a role that does not exist shows up in the reason, as upstream prints it.
        await self.ok("POST", f"{RBAC}/namespaces/z/rolebindings", {
            "metadata": {"name": "dangling"}, "roleRef": {"kind": "Role", "name": "nope",
                                                         "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": [{"kind": "User", "name": "dave"}]})
        self.assertTrue(await eventually(
            lambda: self.index.key("rolebindings", "z", "dangling") in self.index.role_bindings, 5))
        code, out, _ = await self.call("GET", "/api/v1/namespaces/z/configmaps", headers=as_user("dave"))
        self.assertEqual(out["message"], 'configmaps is forbidden: User "dave" cannot list resource "configmaps" '
                                         'in API group "" in the namespace "z": RBAC: '
                                         'role.rbac.authorization.k8s.io "nope" not found')

    async def test_escalation(self) -> None:
        await self.grant("a", "role-writer", [
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
             "verbs": ["create", "update", "get"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])
        # Granting what alice holds is fine.
        code, out, _ = await self.call("POST", f"{RBAC}/namespaces/a/roles", {
            "metadata": {"name": "cm-get"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                                                      "verbs": ["get"]}]}, headers=as_user("alice"))
        self.assertEqual(code, 201, out)
        # Granting more is refused with upstream's message.
        code, out, _ = await self.call("POST", f"{RBAC}/namespaces/a/roles", {
            "metadata": {"name": "secrets"}, "rules": [{"apiGroups": [""], "resources": ["secrets"],
                                                       "verbs": ["get", "list"]}]}, headers=as_user("alice"))
        self.assertEqual(code, 403)
        self.assertEqual(out["message"],
                         'roles.rbac.authorization.k8s.io "secrets" is forbidden: user "alice" '
                         '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently '
                         'held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}')
        self.assertEqual(out["details"], {"name": "secrets", "group": "rbac.authorization.k8s.io", "kind": "roles"})
        # Binding cluster-admin is escalation too; binding a role whose rules she holds is not.
        code, out, _ = await self.call("POST", f"{RBAC}/namespaces/a/rolebindings", {
            "metadata": {"name": "admin-me"}, "subjects": [{"kind": "User", "name": "alice"}],
            "roleRef": {"kind": "ClusterRole", "name": "cluster-admin",
                        "apiGroup": "rbac.authorization.k8s.io"}}, headers=as_user("alice"))
        self.assertEqual(code, 403)
        self.assertTrue(out["message"].startswith(
            'rolebindings.rbac.authorization.k8s.io "admin-me" is forbidden: user "alice" (groups=['
            '"system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'), out)
        self.assertTrue(await eventually(lambda: ("a", "cm-get") in self.index.roles, 5))
        code, out, _ = await self.call("POST", f"{RBAC}/namespaces/a/rolebindings", {
            "metadata": {"name": "cm-get"}, "subjects": [{"kind": "User", "name": "bob"}],
            "roleRef": {"kind": "Role", "name": "cm-get", "apiGroup": "rbac.authorization.k8s.io"}},
            headers=as_user("alice"))
        self.assertEqual(code, 201, out)
        # With the bind verb on cluster-admin she may bind it.
        await self.grant("a", "binder", [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                                          "verbs": ["bind"], "resourceNames": ["cluster-admin"]}])
        code, out, _ = await self.call("POST", f"{RBAC}/namespaces/a/rolebindings", {
            "metadata": {"name": "admin-me"}, "subjects": [{"kind": "User", "name": "alice"}],
            "roleRef": {"kind": "ClusterRole", "name": "cluster-admin",
                        "apiGroup": "rbac.authorization.k8s.io"}}, headers=as_user("alice"))
        self.assertEqual(code, 201, out)

    async def test_impersonation_checked(self) -> None:
        bearer = {"Authorization": "Bearer alice-token"}
        code, out, _ = await self.call("GET", "/api/v1/namespaces/a/configmaps", secure=True,
                                       headers={**bearer, "Impersonate-User": "bob"})
        self.assertEqual(code, 403)
        self.assertEqual(out["message"], 'users "bob" is forbidden: User "alice" cannot impersonate resource '
                                         '"users" in API group "" at the cluster scope')
        await self.ok("POST", f"{RBAC}/clusterroles", {"metadata": {"name": "imp"}, "rules": [
            {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["bob"]}]})
        await self.ok("POST", f"{RBAC}/clusterrolebindings", {
            "metadata": {"name": "imp"}, "subjects": [{"kind": "User", "name": "alice"}],
            "roleRef": {"kind": "ClusterRole", "name": "imp", "apiGroup": "rbac.authorization.k8s.io"}})
        self.assertTrue(await eventually(
            lambda: self.index.key("clusterrolebindings", "", "imp") in self.index.cluster_role_bindings, 5))
        code, out, _ = await self.call("GET", "/api/v1/namespaces/a/configmaps", secure=True,
                                       headers={**bearer, "Impersonate-User": "bob"})
        self.assertEqual(out["message"], 'configmaps is forbidden: User "bob" cannot list resource "configmaps" '
                                         'in API group "" in the namespace "a"')
        code, out, _ = await self.call("GET", "/api/v1/namespaces/a/configmaps", secure=True,
                                       headers={**bearer, "Impersonate-User": "bob", "Impersonate-Group": "admins"})
        self.assertEqual(out["message"], 'groups "admins" is forbidden: User "alice" cannot impersonate resource '
                                         '"groups" in API group "" at the cluster scope')
        code, out, _ = await self.call("GET", "/api/v1/namespaces/a/configmaps", secure=True,
                                       headers={**bearer, "Impersonate-User": "system:serviceaccount:a:x"})
        self.assertEqual(out["message"], 'serviceaccounts "x" is forbidden: User "alice" cannot impersonate '
                                         'resource "serviceaccounts" in API group "" in the namespace "a"')

    async def test_reviews(self) -> None:
        await self.grant("a", "cm-reader", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])
        base = "/apis/authorization.k8s.io/v1"
        body = {"spec": {"resourceAttributes": {"namespace": "a", "verb": "get", "resource": "configmaps"}}}
        out = await self.ok("POST", f"{base}/selfsubjectaccessreviews", body, headers=as_user("alice"))
        self.assertEqual(out["kind"], "SelfSubjectAccessReview")
        self.assertEqual(out["status"], {"allowed": True, "reason": 'RBAC: allowed by RoleBinding '
                                         '"cm-reader/a" of Role "cm-reader" to User "alice"'})
        body["spec"]["resourceAttributes"]["namespace"] = "b"
        out = await self.ok("POST", f"{base}/selfsubjectaccessreviews", body, headers=as_user("alice"))
        self.assertEqual(out["status"], {"allowed": False})
        sar = {"spec": {"user": "alice", "resourceAttributes": {"namespace": "a", "verb": "get",
                                                                "resource": "configmaps"}}}
        out = await self.ok("POST", f"{base}/subjectaccessreviews", sar)
        self.assertTrue(out["status"]["allowed"])
        # A review has no Table form: asking only for one is a 406 (upstream's Table conformance test).
        code, out, _ = await self.call("POST", f"{base}/selfsubjectaccessreviews", body, headers={
            **as_user("alice"), "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
        self.assertEqual((code, out["reason"]), (406, "NotAcceptable"))
        code, out, _ = await self.call("POST", f"{base}/subjectaccessreviews", {"spec": {}})
        self.assertEqual(code, 422)
        self.assertEqual(out["message"], 'SubjectAccessReview.authorization.k8s.io "" is invalid: '
                                         '[spec.resourceAttributes: Invalid value: "null": exactly one of '
                                         'nonResourceAttributes or resourceAttributes must be specified, spec.user: '
                                         'Invalid value: "": at least one of user or group must be specified]')
        out = await self.ok("POST", f"{base}/namespaces/a/localsubjectaccessreviews", sar)
        self.assertTrue(out["status"]["allowed"])
        code, out, _ = await self.call("POST", f"{base}/namespaces/b/localsubjectaccessreviews", sar)
        self.assertEqual(code, 422, out)
        out = await self.ok("POST", f"{base}/selfsubjectrulesreviews", {"spec": {"namespace": "a"}},
                            headers=as_user("alice"))
        st = out["status"]
        self.assertIn({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}, st["resourceRules"])
        self.assertIn({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                       "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]}, st["resourceRules"])
        self.assertIn({"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz",
                                                            "/livez", "/openapi", "/openapi/*", "/readyz",
                                                            "/version", "/version/"]}, st["nonResourceRules"])
        self.assertFalse(st["incomplete"])
        code, out, _ = await self.call("POST", f"{base}/selfsubjectrulesreviews", {"spec": {}})
        self.assertEqual((code, out["message"]), (400, "no namespace on request"))
        code, _, _ = await self.call("GET", f"{base}/selfsubjectaccessreviews")
        self.assertEqual(code, 405)

    async def test_decisions_use_no_storage_reads(self) -> None:
        """Authorization answers from memory: close storage and the decision is unchanged."""
        await self.grant("a", "cm-reader", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])
        calls = []
        real_get, real_list = self.storage.get, self.storage.list

        async def get(key: str) -> Any:
            calls.append(key)
            return await real_get(key)

        async def list_(prefix: str, **kw: Any) -> Any:
            calls.append(prefix)
            return await real_list(prefix, **kw)

        self.storage.get, self.storage.list = get, list_  # type: ignore[method-assign]
        try:
            a = Attributes(user=UserInfo("alice"), verb="get", is_resource_request=True, namespace="a",
                           resource="configmaps", name="x")
            decision, _ = await self.srv.authorizer.authorize(a)
        finally:
            self.storage.get, self.storage.list = real_get, real_list  # type: ignore[method-assign]
        self.assertEqual((decision, calls), (Decision.ALLOW, []))


class ImpersonationGroups(RBACBase):
    async def test_groups_as_upstream(self) -> None:
        code, out, _ = await self.call("GET", "/api/v1/namespaces", headers={"Impersonate-Group": "x"})
        self.assertEqual((code, out["message"]),
                         (500, "Internal error occurred: requested [{Group  x    }] without impersonating a user"))
        await self.ok("POST", f"{RBAC}/clusterrolebindings", {
            "metadata": {"name": "ci-sas"}, "roleRef": {"kind": "ClusterRole", "name": "view",
                                                       "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": [{"kind": "Group", "name": "system:serviceaccounts:ci"}]})
        self.assertTrue(await eventually(lambda: bool(self.index.cluster_roles.get("view", {}).get("rules")), 5))
        self.assertTrue(await eventually(
            lambda: self.index.key("clusterrolebindings", "", "ci-sas") in self.index.cluster_role_bindings, 5))
        sa = {"Impersonate-User": "system:serviceaccount:ci:robot"}
        code, out, _ = await self.call("GET", "/api/v1/namespaces/z/configmaps", headers=sa)
        self.assertEqual(code, 200, out)
        # Groups given replace a service account's own groups.
        code, out, _ = await self.call("GET", "/api/v1/namespaces/z/configmaps",
                                       headers={**sa, "Impersonate-Group": "other"})
        self.assertEqual(code, 403, out)
        self.assertEqual(out["message"], 'configmaps is forbidden: User "system:serviceaccount:ci:robot" cannot '
                                         'list resource "configmaps" in API group "" in the namespace "z"')
