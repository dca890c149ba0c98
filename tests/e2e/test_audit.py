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
        self.assertEqual(get[-1]["user"]["username"], "kubernetes-admin")  # the TLS context's client cert
        self.assertEqual(get[-1]["user"]["groups"], ["system:masters", "system:authenticated"])
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


RECEIVER = r"""
import sys
from twisted.internet import reactor, ssl
from twisted.web import resource, server

cert, key, port, out = sys.argv[1:5]

class Hook(resource.Resource):
    isLeaf = True

    def render_POST(self, request):
        with open(out, "ab") as f:
            f.write(request.getHeader("authorization").encode() + b" " + request.content.read().replace(b"\n", b" ") + b"\n")
        return b"{}"

opts = ssl.PrivateCertificate.loadPEM(open(key, "rb").read() + open(cert, "rb").read()).options()
reactor.listenSSL(int(port), server.Site(Hook()), opts, interface="127.0.0.1")
reactor.run()
"""


class AuditWebhookE2E(unittest.TestCase):
    def test_server_process_posts_event_lists_to_a_tls_webhook(self) -> None:
        import base64
        import subprocess
        import sys
        import time

        from tests.support import tls as certs
        from tests.support.net import free_port

        tmp = tempfile.mkdtemp(prefix="kubeapi-audit-hook-")
        cert, key = certs.generate_self_signed(["127.0.0.1"])
        paths = {n: os.path.join(tmp, n) for n in ("c.pem", "k.pem", "got", "policy.yaml", "hook.kubeconfig")}
        open(paths["c.pem"], "wb").write(cert)
        open(paths["k.pem"], "wb").write(key)
        open(paths["policy.yaml"], "w").write(METADATA)
        port = free_port()
        hook = subprocess.Popen([sys.executable, "-c", RECEIVER, paths["c.pem"], paths["k.pem"], str(port),
                                 paths["got"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(hook.wait, 10)
        self.addCleanup(hook.terminate)
        json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "h",
                   "clusters": [{"name": "h", "cluster": {"server": f"https://127.0.0.1:{port}/events",
                                 "certificate-authority-data": base64.b64encode(cert).decode()}}],
                   "users": [{"name": "h", "user": {"token": "secret-hook"}}],
                   "contexts": [{"name": "h", "context": {"cluster": "h", "user": "h"}}]},
                  open(paths["hook.kubeconfig"], "w"))
        s = ServerProcess(f"--audit-policy-file={paths['policy.yaml']}",
                          f"--audit-webhook-config-file={paths['hook.kubeconfig']}",
                          "--audit-webhook-batch-max-wait=1s")
        self.addCleanup(s.cleanup)
        s.start()
        s.kubectl("create", "configmap", "hooked", "--from-literal=a=b")
        deadline = time.monotonic() + 20
        items: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            items = []
            if os.path.exists(paths["got"]):
                for line in open(paths["got"], "rb").read().splitlines():
                    auth, body = line.split(b" ", 2)[1], line.split(b" ", 2)[2]
                    self.assertEqual(auth, b"secret-hook")
                    lst = json.loads(body)
                    self.assertEqual((lst["kind"], lst["apiVersion"]), ("EventList", "audit.k8s.io/v1"))
                    items += lst["items"]
            if any(e.get("objectRef", {}).get("name") == "hooked" and e["stage"] == "ResponseComplete"
                   for e in items):
                break
            time.sleep(0.2)
        created = [e for e in items if e.get("objectRef", {}).get("name") == "hooked"]
        self.assertEqual([e["stage"] for e in created], ["ResponseComplete"])
        self.assertEqual(created[0]["verb"], "create")
        self.assertEqual(created[0]["user"]["username"], "system:admin")


AUDITED_POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: audited.example.com}
spec:
  matchConstraints:
    resourceRules:
    - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}
  auditAnnotations:
  - {key: size, valueExpression: "string(size(object.data))"}
  - {key: never, valueExpression: "null"}
  validations:
  - {expression: "size(object.data) < 2", message: "too much data"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: audited-binding.example.com}
spec:
  policyName: audited.example.com
  validationActions: [Audit]
"""


class PolicyAuditE2E(unittest.TestCase):
    server = AuditE2E.server

    def test_policy_annotations_reach_the_event(self) -> None:
        # A policy's auditAnnotations, and its failures under an Audit binding, are recorded on
        # the request's audit event; the request itself is admitted.
        s, log = self.server(METADATA)
        s.kubectl("apply", "-f", "-", input=AUDITED_POLICY)
        s.kubectl("create", "configmap", "big", "--from-literal=a=1", "--from-literal=b=2")
        events = [e for e in read_events(log) if e["verb"] == "create" and e["stage"] == "ResponseComplete"
                  and e.get("objectRef", {}).get("name") == "big"]
        self.assertEqual(len(events), 1)
        ann = events[0]["annotations"]
        self.assertEqual(ann["audited.example.com/size"], "2")
        self.assertNotIn("audited.example.com/never", ann)
        self.assertEqual(json.loads(ann["validation.policy.admission.k8s.io/validation_failure"]), [
            {"message": "too much data", "policy": "audited.example.com", "binding": "audited-binding.example.com",
             "expressionIndex": 0, "validationActions": ["Audit"]}])
        self.assertEqual(ann["authorization.k8s.io/decision"], "allow")
