"""The --audit-* flags: defaults as kube-apiserver's, refusals with one line, what gets built."""

from __future__ import annotations

import os
import tempfile

from twisted.python import usage
from twisted.trial import unittest

from kubeapi.audit.auditor import LogBackend, WebhookSink
from kubeapi.audit.config import build_auditor
from kubeapi.options import Options
from tests.server.support import reactor


def parse(*args: str) -> Options:
    o = Options()
    o.parseOptions(["--secure-port=16443", *args])
    return o


class Flags(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="kubeapi-auditflags-")
        self.policy = os.path.join(self.dir, "p.yaml")
        with open(self.policy, "w") as f:
            f.write("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")

    def refused(self, *args: str) -> str:
        with self.assertRaises(usage.UsageError) as cm:
            parse(*args)
        return str(cm.exception)

    def test_defaults(self) -> None:
        o = parse()
        self.assertEqual((o["audit-log-mode"], o["audit-webhook-mode"], o["audit-log-format"]),
                         ("blocking", "batch", "json"))
        self.assertEqual((o["audit-log-maxage"], o["audit-log-maxbackup"], o["audit-log-maxsize"]), (0, 0, 0))
        self.assertEqual(o["audit-log-batch-buffer-size"], 10000)
        self.assertEqual(o["audit-log-batch-max-size"], 1)
        self.assertEqual(o["audit-webhook-batch-max-size"], 400)
        self.assertEqual(o["audit-webhook-batch-max-wait"], 30.0)
        self.assertFalse(o["audit-log-batch-throttle-enable"])
        self.assertTrue(o["audit-webhook-batch-throttle-enable"])
        self.assertEqual((o["audit-webhook-batch-throttle-qps"], o["audit-webhook-batch-throttle-burst"]), (10.0, 15))
        self.assertEqual(o["audit-webhook-initial-backoff"], 10.0)
        self.assertEqual(o["audit-log-truncate-max-event-size"], 100 * 1024)
        self.assertEqual(o["audit-log-truncate-max-batch-size"], 10 * 1024 * 1024)
        self.assertIsNone(build_auditor(o, None, reactor))  # no policy: audit is off

    def test_refusals(self) -> None:
        self.assertIn('invalid audit log mode loud, allowed modes are "batch,blocking,blocking-strict"',
                      self.refused("--audit-log-mode=loud"))
        self.assertIn("invalid audit log format xml", self.refused("--audit-log-format=xml"))
        self.assertIn("--audit-log-maxsize -1 can't be a negative number", self.refused("--audit-log-maxsize=-1"))
        self.assertIn("invalid audit batch webhook buffer size 0",
                      self.refused("--audit-webhook-batch-buffer-size=0"))
        self.assertIn("invalid audit batch log throttle QPS",
                      self.refused("--audit-log-mode=batch", "--audit-log-batch-throttle-enable=true",
                                   "--audit-log-batch-throttle-qps=0"))
        self.assertIn("max batch size (10) must be greater than or equal to max event size (100)",
                      self.refused("--audit-log-truncate-enabled=true", "--audit-log-truncate-max-event-size=100",
                                   "--audit-log-truncate-max-batch-size=10"))
        self.assertIn("cannot read", self.refused("--audit-policy-file=/nonexistent/p.yaml"))
        self.assertIn('invalid argument "soon" for "--audit-log-maxage" flag: strconv.ParseInt', self.refused("--audit-log-maxage=soon"))
        self.assertIn("invalid duration", self.refused("--audit-webhook-initial-backoff=soon"))

    def test_bad_policy_file_is_one_line(self) -> None:
        with open(self.policy, "w") as f:
            f.write("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything\n")
        o = parse(f"--audit-policy-file={self.policy}", "--audit-log-path=-")
        with self.assertRaises(ValueError) as cm:
            build_auditor(o, None, reactor)
        self.assertIn('--audit-policy-file: rules[0].level: Unsupported value: "Everything"', str(cm.exception))

    def test_builds_the_configured_backends(self) -> None:
        hook = os.path.join(self.dir, "hook.yaml")
        with open(hook, "w") as f:
            f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                    "    server: https://127.0.0.1:1/x\n")
        o = parse(f"--audit-policy-file={self.policy}", f"--audit-log-path={self.dir}/a.log",
                  "--audit-log-mode=batch", "--audit-log-batch-max-size=7", "--audit-log-compress=true",
                  "--audit-log-maxsize=2", "--audit-log-maxbackup=3", "--audit-log-maxage=4",
                  f"--audit-webhook-config-file={hook}", "--audit-webhook-mode=blocking",
                  "--audit-log-truncate-enabled=true")
        a = build_auditor(o, None, reactor)
        assert a is not None
        self.addCleanup(a.stop)
        kinds = {type(b) for b in a.backends}
        self.assertEqual(kinds, {LogBackend, WebhookSink})
        logb = next(b for b in a.backends if isinstance(b, LogBackend))
        self.assertEqual(logb.mode, "batch")
        self.assertEqual(logb.writer.max_lines, 7)
        sink = logb.writer.sink
        self.assertEqual((sink.maxsize, sink.maxbackup, sink.maxage, sink.compress), (2 * 1024 * 1024, 3, 4, True))
        self.assertIsNotNone(logb.truncator)
        hookb = next(b for b in a.backends if isinstance(b, WebhookSink))
        self.assertIsNone(hookb.buffer)  # blocking: no buffer
        self.assertEqual(hookb.backend.target.server, "https://127.0.0.1:1/x")
