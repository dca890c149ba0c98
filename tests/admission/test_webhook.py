"""Admission webhooks through the real stores against a real HTTPS webhook on loopback."""

from __future__ import annotations

from typing import Any

from kubeapi.admission.plugins import PluginContext, build
from kubeapi.admission.webhook import rule_matches
from kubeapi.errors import StatusError
from kubeapi.registry.options import WriteOptions
from kubeapi.registry.store import ResourceStore
from tests.admission import webhook_server
from tests.admission.helpers import CATALOG, GVR, AdmissionCase, W, async_test
from tests.support.net import free_port


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "data": {"a": "b"}}


class WebhookTests(AdmissionCase):
    plugins = ("MutatingAdmissionWebhook", "ValidatingAdmissionWebhook")

    def cfg_stores(self) -> tuple[ResourceStore, ResourceStore]:
        plain, _ = build([], PluginContext(self.storage))
        out = []
        for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            rdef = CATALOG.get("admissionregistration.k8s.io", "v1", plural)
            assert rdef is not None
            out.append(ResourceStore(rdef, self.storage, self.ctx, admission=plain, clock=self.clock))
        return out[0], out[1]

    @async_test
    async def test_mutate_and_deny(self) -> None:
        url, ca, seen = webhook_server.start(self)
        mut, val = self.cfg_stores()
        await mut.create("", webhook_server.configuration("MutatingWebhookConfiguration", "label.example.com",
                                                          url + "/mutate", ca), W)
        await val.create("", webhook_server.configuration("ValidatingWebhookConfiguration", "deny.example.com",
                                                          url + "/deny", ca), W)
        s = self.stores()
        out = await s["configmaps"].create("default", cm("ok"), W)
        self.assertEqual(out["metadata"]["labels"], {"mutated-by": "webhook"})
        with self.assertRaises(StatusError) as e:
            await s["configmaps"].create("default", cm("no", deny="yes"), W)
        self.assertEqual((e.exception.code, e.exception.message),
                         (403, 'admission webhook "deny.example.com" denied the request: '
                               'objects labelled deny=yes are not welcome'))
        paths = [p for p, _ in seen]
        self.assertEqual(paths, ["/mutate", "/deny", "/mutate", "/deny"])
        req = seen[0][1]["request"]
        self.assertEqual((req["operation"], req["namespace"], req["resource"]),
                         ("CREATE", "default", {"group": "", "version": "v1", "resource": "configmaps"}))
        self.assertEqual(seen[1][1]["request"]["object"]["metadata"]["labels"], {"mutated-by": "webhook"})
        # Deletes match no rule (CREATE/UPDATE only): no call.
        from kubeapi.registry.options import DeleteOptions
        await s["configmaps"].delete("default", "ok", DeleteOptions())
        self.assertEqual(len(seen), 4)

    @async_test
    async def test_failure_policy_and_dry_run(self) -> None:
        mut, val = self.cfg_stores()
        dead = f"https://127.0.0.1:{free_port()}/x"
        await val.create("", webhook_server.configuration("ValidatingWebhookConfiguration", "gone.example.com",
                                                          dead, "", failurePolicy="Ignore"), W)
        s = self.stores()
        await s["configmaps"].create("default", cm("a"), W)  # Ignore: admitted
        await val.create("", webhook_server.configuration("ValidatingWebhookConfiguration", "must.example.com",
                                                          dead, "", sideEffects="Some"), W)
        with self.assertRaises(StatusError) as e:
            await s["configmaps"].create("default", cm("b"), W)
        self.assertEqual(e.exception.code, 500)
        self.assertIn(f'failed calling webhook "must.example.com": failed to call webhook: Post "{dead}?timeout=5s": '
                      f'dial tcp 127.0.0.1:{dead.split(":")[2].split("/")[0]}: connect: connection refused',
                      e.exception.message)
        with self.assertRaises(StatusError) as e:
            await s["configmaps"].create("default", cm("c"), WriteOptions(dry_run=True))
        self.assertEqual((e.exception.code, e.exception.message),
                         (400, 'admission webhook "must.example.com" does not support dry run'))

    @async_test
    async def test_match_conditions(self) -> None:
        # Only what every matchCondition admits is sent; a condition that errors refuses the
        # request (failurePolicy Fail) or lets it through without the webhook (Ignore).
        url, ca, seen = webhook_server.start(self)
        mut, val = self.cfg_stores()
        conditions = [{"name": "labelled", "expression": "'deny' in object.metadata.labels"}]
        await val.create("", webhook_server.configuration("ValidatingWebhookConfiguration", "cond.example.com",
                                                          url + "/deny", ca, matchConditions=conditions), W)
        s = self.stores()
        await s["configmaps"].create("default", cm("nolabel", other="x"), W)
        self.assertEqual(seen, [])
        with self.assertRaises(StatusError) as e:
            await s["configmaps"].create("default", cm("called", deny="yes"), W)
        self.assertEqual(e.exception.code, 403)
        self.assertEqual(len(seen), 1)
        with self.assertRaises(StatusError) as e:
            await s["configmaps"].create("default", {"metadata": {"name": "bare"}}, W)
        self.assertEqual((e.exception.code, e.exception.reason, e.exception.message, e.exception.details),
                         (403, "Forbidden", 'configmaps "bare" is forbidden: expression \'\'deny\' in '
                          "object.metadata.labels' resulted in error: no such key: labels",
                          {"name": "bare", "kind": "configmaps"}))
        self.assertEqual(len(seen), 1)

    @async_test
    async def test_selectors_and_default_code(self) -> None:
        url, ca, seen = webhook_server.start(self)
        mut, val = self.cfg_stores()
        await val.create("", webhook_server.configuration(
            "ValidatingWebhookConfiguration", "sel.example.com", url + "/badcode", ca,
            objectSelector={"matchLabels": {"deny": "yes"}},
            namespaceSelector={"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}), W)
        s = self.stores()
        await s["namespaces"].create("", {"metadata": {"name": "ta", "labels": {"team": "a"}}}, W)
        await s["namespaces"].create("", {"metadata": {"name": "tb", "labels": {"team": "b"}}}, W)
        await s["configmaps"].create("tb", cm("x", deny="yes"), W)  # namespace not selected
        await s["configmaps"].create("ta", cm("y"), W)  # object not selected
        self.assertEqual(seen, [])
        with self.assertRaises(StatusError) as e:
            await s["configmaps"].create("ta", cm("z", deny="yes"), W)
        self.assertEqual((e.exception.code, e.exception.reason, e.exception.message),
                         (400, "NoReason", 'admission webhook "sel.example.com" denied the request: NoReason'))

    def test_rule_matching(self) -> None:
        pods = CATALOG.get(*GVR["pods"])
        assert pods is not None
        from kubeapi.admission.interface import Attributes

        def attrs(op: str, sub: str = "") -> Attributes:
            return Attributes(pods, sub, op, "default", "p", {}, None, None, False)

        rule = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
        self.assertTrue(rule_matches(rule, attrs("CREATE")))
        self.assertFalse(rule_matches(rule, attrs("UPDATE")))
        self.assertFalse(rule_matches(rule, attrs("CREATE", "status")))
        self.assertTrue(rule_matches({**rule, "resources": ["pods/status"]}, attrs("CREATE", "status")))
        self.assertTrue(rule_matches({**rule, "resources": ["*/*"]}, attrs("CREATE", "status")))
        self.assertFalse(rule_matches({**rule, "resources": ["*"]}, attrs("CREATE", "status")))
        self.assertTrue(rule_matches({**rule, "resources": ["pods/*"]}, attrs("CREATE", "binding")))
        self.assertFalse(rule_matches({**rule, "scope": "Cluster"}, attrs("CREATE")))
        self.assertTrue(rule_matches({**rule, "operations": ["*"], "apiGroups": ["*"]}, attrs("DELETE")))
