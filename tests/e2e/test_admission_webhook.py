"""End to end: the real server calls a real Twisted HTTPS webhook on loopback (started in this
test process) that mutates (adds a label) and denies; real kubectl sees both."""

from __future__ import annotations

import json
import uuid

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.admission import webhook_server
from tests.e2e.harness import shared_server, unique_namespace


class WebhookE2ETests(unittest.TestCase):
    async def test_mutating_and_validating_webhooks(self) -> None:
        server = shared_server()
        url, ca, seen = webhook_server.start(self)
        mark = uuid.uuid4().hex[:8]
        only_mine = {"objectSelector": {"matchLabels": {"webhook-test": mark}}}
        mut = webhook_server.configuration("MutatingWebhookConfiguration", f"m{mark}.example.com",
                                           url + "/mutate", ca, **only_mine)
        val = webhook_server.configuration("ValidatingWebhookConfiguration", f"v{mark}.example.com",
                                           url + "/deny", ca, **only_mine)

        def kubectl(*args: str, **kw: object) -> object:
            return deferToThread(server.kubectl, *args, **kw)

        ns = await deferToThread(unique_namespace, server, "webhook")
        for cfg in (mut, val):
            await kubectl("apply", "-f", "-", input=json.dumps(cfg))
            kind = cfg["kind"].lower()
            self.addCleanup(server.kubectl, "delete", kind, cfg["metadata"]["name"], check=False)
        await kubectl("create", "configmap", "plain", "-n", ns)  # not selected: untouched
        await kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "mine", "labels": {"webhook-test": mark}}, "data": {"a": "b"}}))
        got = json.loads((await kubectl("get", "configmap", "mine", "-n", ns, "-o", "json")).stdout)
        self.assertEqual(got["metadata"]["labels"], {"webhook-test": mark, "mutated-by": "webhook"})
        plain = json.loads((await kubectl("get", "configmap", "plain", "-n", ns, "-o", "json")).stdout)
        self.assertNotIn("labels", plain["metadata"])
        res = await kubectl("apply", "-n", ns, "-f", "-", check=False, input=json.dumps({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "bad", "labels": {"webhook-test": mark, "deny": "yes"}}}))
        self.assertNotEqual(res.returncode, 0)
        self.assertIn(f'admission webhook "v{mark}.example.com" denied the request: '
                      'objects labelled deny=yes are not welcome', res.stderr)
        self.assertEqual(sorted({p for p, _ in seen}), ["/deny", "/mutate"])
        user = seen[0][1]["request"]["userInfo"]
        self.assertIn("username", user)
        # What an operator alerts on: the calls, their time and the rejection, per webhook.
        text = (await kubectl("get", "--raw", "/metrics")).stdout
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        name = f"v{mark}.example.com"
        calls = {(s.labels["code"], s.labels["rejected"]): s.value
                 for s in fams["apiserver_admission_webhook_request"].samples
                 if s.labels["name"] == name and s.labels["type"] == "validating"}
        self.assertEqual(calls, {("200", "false"): 1, ("200", "true"): 1})
        rejections = [s for s in fams["apiserver_admission_webhook_rejection_count"].samples
                      if s.labels["name"] == name]
        self.assertEqual([(s.labels["error_type"], s.labels["rejection_code"], s.value) for s in rejections],
                         [("no_error", "403", 1)])
        durations = [s for s in fams["apiserver_admission_webhook_admission_duration_seconds"].samples
                     if s.name.endswith("_count") and s.labels["name"] == name]
        self.assertEqual(sum(s.value for s in durations), 2)
