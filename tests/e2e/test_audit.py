"""Audit end to end: the real server process with --audit-* flags, driven by kubectl and HTTP."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from twisted.trial import unittest

from tests.audit.helpers import read_events
from tests.e2e.harness import ServerProcess

METADATA = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"
BODIES = """apiVersion: audit.k8s.io/v1
kind: Policy
omitManagedFields: true
rules:
- level: None
  nonResourceURLs: ["/readyz*", "/healthz*", "/livez*"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps"]
- level: Metadata
"""


class AuditE2E(unittest.TestCase):
    def server(self, policy: str, *flags: str) -> tuple[ServerProcess, str]:
        tmp = tempfile.mkdtemp(prefix="kubeapi-audit-e2e-")
        ppath = os.path.join(tmp, "policy.yaml")
        with open(ppath, "w") as f:
            f.write(policy)
        log = os.path.join(tmp, "logs", "audit.log")
        s = ServerProcess(f"--audit-policy-file={ppath}", f"--audit-log-path={log}", *flags)
        self.addCleanup(s.cleanup)
        s.start()
        return s, log

    def test_kubectl_metadata_events(self) -> None:
        s, log = self.server(METADATA)
        s.kubectl("create", "configmap", "audited", "--from-literal=k=v")
        s.kubectl("get", "configmap", "audited", context="tls")
        events = read_events(log)
        create = [e for e in events if e["verb"] == "create" and e.get("objectRef", {}).get("resource") == "configmaps"]
        self.assertEqual([e["stage"] for e in create], ["RequestReceived", "ResponseComplete"])
        done = create[-1]
        self.assertEqual(done["level"], "Metadata")
        self.assertEqual(done["user"]["username"], "system:admin")
        self.assertEqual(done["objectRef"], {"resource": "configmaps", "namespace": "default", "name": "audited",
                                             "apiVersion": "v1"})
        self.assertEqual(done["responseStatus"]["code"], 201)
        self.assertTrue(done["userAgent"].startswith("kubectl"), done["userAgent"])
        self.assertNotIn("requestObject", done)
        get = [e for e in events if e["verb"] == "get" and e.get("objectRef", {}).get("name") == "audited"]
        self.assertEqual(get[-1]["stage"], "ResponseComplete")
        self.assertEqual(get[-1]["user"]["username"], "system:anonymous")
        self.assertEqual(get[-1]["user"]["groups"], ["system:unauthenticated"])
        self.assertEqual(get[-1]["objectRef"], {"resource": "configmaps", "namespace": "default",
                                                "name": "audited", "apiVersion": "v1"})
        self.assertEqual(get[-1]["annotations"]["authorization.k8s.io/decision"], "allow")
        self.assertEqual(stat.S_IMODE(os.stat(log).st_mode), 0o600)

    def test_log_rotated_under_load_keeps_every_request_once(self) -> None:
        s, log = self.server(BODIES, "--audit-log-maxsize=1", "--audit-log-compress=true",
                             "--audit-log-maxbackup=50")
        pad = "x" * 4000

        def create(i: int) -> tuple[str, int]:
            code, headers, _ = s.raw("POST", "/api/v1/namespaces/default/configmaps",
                                     {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": f"load-{i}"}, "data": {"pad": pad}})
            return {k.lower(): v for k, v in headers.items()}["audit-id"], code

        def get(i: int) -> tuple[str, int]:
            code, headers, _ = s.raw("GET", f"/api/v1/namespaces/default/configmaps/load-{i}")
            return {k.lower(): v for k, v in headers.items()}["audit-id"], code

        with ThreadPoolExecutor(8) as pool:
            created = list(pool.map(create, range(300)))
            fetched = list(pool.map(get, range(100)))
        self.assertEqual({c for _, c in created}, {201})
        self.assertEqual({c for _, c in fetched}, {200})
        files = os.listdir(os.path.dirname(log))
        gz = [f for f in files if f.endswith(".log.gz")]
        self.assertGreaterEqual(len(gz), 2, files)
        for f in gz:
            self.assertRegex(f, r"^audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log\.gz$")
        events = read_events(log)
        seen: dict[tuple[str, str], int] = {}
        for e in events:
            seen[(e["auditID"], e["stage"])] = seen.get((e["auditID"], e["stage"]), 0) + 1
        for aid, _ in created + fetched:
            self.assertEqual(seen.get((aid, "RequestReceived")), 1, aid)
            self.assertEqual(seen.get((aid, "ResponseComplete")), 1, aid)
            self.assertNotIn((aid, "ResponseStarted"), seen)
        by_id: dict[str, Any] = {e["auditID"]: e for e in events if e["stage"] == "ResponseComplete"}
        sample = by_id[created[0][0]]
        self.assertEqual(sample["level"], "RequestResponse")
        self.assertEqual(sample["requestObject"]["data"]["pad"], pad)
        self.assertEqual(sample["responseObject"]["metadata"]["name"], sample["objectRef"]["name"])
        self.assertNotIn("managedFields", sample["responseObject"]["metadata"])
        self.assertFalse(any(re.match(r"/readyz", e["requestURI"]) for e in events))

    def test_bad_policy_refuses_to_start(self) -> None:
        tmp = tempfile.mkdtemp(prefix="kubeapi-audit-e2e-")
        ppath = os.path.join(tmp, "policy.yaml")
        with open(ppath, "w") as f:
            f.write(json.dumps({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": []}))
        s = ServerProcess(f"--audit-policy-file={ppath}", f"--audit-log-path={tmp}/a.log")
        self.addCleanup(s.cleanup)
        with self.assertRaises(RuntimeError) as cm:
            s.start(timeout=30)
        self.assertIn("loaded illegal policy with 0 rules", str(cm.exception))
