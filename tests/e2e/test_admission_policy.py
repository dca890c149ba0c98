"""ValidatingAdmissionPolicy end to end with real kubectl: the refusals kube-apiserver v1.34
gives for the same policy (compared side by side), Warn bindings, match conditions, exclusions
and failurePolicy Ignore."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from twisted.trial import unittest

from tests.e2e.harness import ServerProcess, shared_server, unique_namespace

POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: NS.example.com}
spec:
  failurePolicy: FAILURE
  matchConstraints:
    namespaceSelector: {matchLabels: {NS: "true"}}
    resourceRules:
    - {operations: [CREATE, UPDATE], apiGroups: [apps], apiVersions: [v1], resources: [deployments]}
    excludeResourceRules:
    - {operations: [CREATE, UPDATE], apiGroups: [apps], apiVersions: [v1], resources: [deployments],
       resourceNames: [exempt]}
  matchConditions:
  - {name: not-skipped, expression: "!has(object.metadata.labels) || !('skip' in object.metadata.labels)"}
  variables:
  - {name: replicas, expression: object.spec.replicas}
  - {name: odd, expression: "variables.replicas % 2 == 1"}
  validations:
  - {expression: "variables.replicas > 1", messageExpression: "'wants replicas > 1, got ' + string(variables.replicas)"}
  - {expression: "object.spec.replicas != 5", message: "not five", reason: Forbidden}
  - {expression: "variables.odd"}
  - {expression: "object.spec.replicas < 9 || object.spec.maxRetries < 10"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: NS-binding.example.com}
spec:
  policyName: NS.example.com
  validationActions: [ACTIONS]
"""


def apply_policy(test: unittest.TestCase, server: ServerProcess, prefix: str, doc: str) -> str:
    """A fresh namespace labelled ``<ns>=true`` and ``doc`` (its NS replaced by the namespace's
    name) applied; deleted again at the test's end.  Returns the namespace."""
    ns = unique_namespace(server, prefix)
    server.kubectl("label", "namespace", ns, f"{ns}=true")
    server.kubectl("apply", "-f", "-", input=doc.replace("NS", ns))
    test.addCleanup(server.kubectl, "delete", "validatingadmissionpolicy", f"{ns}.example.com",
                    "validatingadmissionpolicybinding", f"{ns}-binding.example.com", check=False)
    return ns


class PolicyTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()

    def policy(self, name: str, actions: str = "Deny", failure: str = "Fail") -> str:
        return apply_policy(self, self.server, name,
                            POLICY.replace("ACTIONS", actions).replace("FAILURE", failure))

    def create(self, ns: str, name: str, replicas: int, *extra: str) -> tuple[int, str]:
        p = self.server.kubectl("create", "deployment", name, "-n", ns, "--image=nginx",
                                f"--replicas={replicas}", *extra, check=False)
        return p.returncode, p.stderr

    def test_deny(self) -> None:
        ns = self.policy("vap-deny")
        prefix = f"ValidatingAdmissionPolicy '{ns}.example.com' with binding '{ns}-binding.example.com' denied request: "
        code, err = self.create(ns, "one", 1)
        self.assertEqual(code, 1)
        self.assertIn(f'deployments.apps "one" is forbidden: {prefix}wants replicas > 1, got 1', err)
        _, err = self.create(ns, "five", 5)
        self.assertIn(f"Error from server (Forbidden): {prefix}not five", err.replace(
            'error: failed to create deployment: deployments.apps "five" is forbidden: ', "Error from server (Forbidden): "))
        _, err = self.create(ns, "four", 4)
        self.assertIn(f"{prefix}failed expression: variables.odd", err)
        _, err = self.create(ns, "eleven", 11)
        self.assertIn(f"{prefix}expression 'object.spec.replicas < 9 || object.spec.maxRetries < 10' resulted in "
                      "error: no such key: maxRetries", err)
        self.assertEqual(self.create(ns, "three", 3), (0, ""))
        self.assertEqual(self.create(ns, "exempt", 1)[0], 0)  # excludeResourceRules by name
        # The raw Status: 422 Invalid by default, the validation's reason (Forbidden: 403) otherwise.
        code, _, raw = self.server.raw("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment("raw", 5))
        status = json.loads(raw)
        self.assertEqual((code, status["reason"], status["code"]), (403, "Forbidden", 403))
        self.assertEqual(status["details"], {"name": "raw", "group": "apps", "kind": "deployments",
                                             "causes": [{"message": prefix + "not five"}]})
        # A match condition that errors is a refusal like a validation that errors.
        labels = "object.metadata.labels"
        self.server.kubectl("patch", "validatingadmissionpolicy", f"{ns}.example.com", "--type=json", "-p",
                            json.dumps([{"op": "replace", "path": "/spec/matchConditions/0/expression",
                                         "value": f"!('skip' in {labels})"}]))
        code, _, raw = self.server.raw("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment("bare", 3))
        self.assertEqual(code, 422)
        self.assertIn(f"{prefix}expression '!('skip' in {labels})' resulted in error: no such key: labels",
                      json.loads(raw)["message"])

    def test_check_metrics(self) -> None:
        ns = self.policy("vap-metrics")
        self.create(ns, "one", 1)  # denied
        self.create(ns, "eleven", 11)  # an expression errors: denied
        self.create(ns, "three", 3)  # allowed
        fams = {f.name: f for f in text_string_to_metric_families(self.server.kubectl("get", "--raw", "/metrics").stdout)}
        checks = {(s.labels["error_type"], s.labels["enforcement_action"]): s.value
                  for s in fams["apiserver_validating_admission_policy_check"].samples
                  if s.labels["policy"] == f"{ns}.example.com" and s.name.endswith("_total")}
        self.assertEqual(checks, {("no_error", "deny"): 1, ("invalid_error", "deny"): 1, ("no_error", "allow"): 1})

    def test_match_conditions_and_failure_policy(self) -> None:
        ns = self.policy("vap-ignore", failure="Ignore")
        path = f"/apis/apps/v1/namespaces/{ns}/deployments"
        self.assertEqual(self.server.raw("POST", path, _deployment("one", 1))[0], 422)
        # A match condition that is false: the policy does not apply.
        self.assertEqual(self.server.raw("POST", path, _deployment("skipped", 1, skip="yes"))[0], 201)
        # failurePolicy Ignore: an expression that errors does not refuse.
        self.assertEqual(self.create(ns, "eleven", 11)[0], 0)
        # Another kind, another namespace: not matched.
        self.assertEqual(self.server.kubectl("create", "deployment", "one", "--image=nginx", "--replicas=1",
                                             "-n", unique_namespace(self.server, "vap-other"),
                                             check=False).returncode, 0)

    def test_warn_binding(self) -> None:
        ns = self.policy("vap-warn", actions="Warn")
        code, err = self.create(ns, "one", 1)
        self.assertEqual(code, 0)
        self.assertIn(f"Warning: Validation failed for ValidatingAdmissionPolicy '{ns}.example.com' with binding "
                      f"'{ns}-binding.example.com': wants replicas > 1, got 1", err)


def _deployment(name: str, replicas: int, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": {"a": "b"}}, "template": {
                           "metadata": {"labels": {"a": "b"}},
                           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


PARAMS = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: NS.example.com}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    namespaceSelector: {matchLabels: {NS: "true"}}
    resourceRules:
    - {operations: [CREATE, UPDATE], apiGroups: [apps], apiVersions: [v1], resources: [deployments]}
  validations:
  - {expression: "object.spec.replicas <= int(params.data.max)", messageExpression: "'at most ' + params.data.max"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: NS-binding.example.com}
spec:
  policyName: NS.example.com
  validationActions: [Deny]
  paramRef: {name: limits, parameterNotFoundAction: Deny}
"""


class PolicyParamTests(unittest.TestCase):
    def test_params_from_the_request_namespace(self) -> None:
        server = shared_server()
        ns = apply_policy(self, server, "vap-params", PARAMS)
        prefix = f"ValidatingAdmissionPolicy '{ns}.example.com' with binding '{ns}-binding.example.com' denied request: "

        def create(name: str, replicas: int) -> str:
            p = server.kubectl("create", "deployment", name, "-n", ns, "--image=nginx", f"--replicas={replicas}",
                               check=False)
            return p.stderr if p.returncode else "created"

        self.assertIn(prefix + "failed to configure binding: no params found for policy binding with `Deny` "
                      "parameterNotFoundAction", create("a", 3))
        server.kubectl("create", "configmap", "limits", "-n", ns, "--from-literal=max=2")
        self.assertIn(prefix + "at most 2", create("b", 3))
        self.assertEqual(create("c", 2), "created")


AUTHZ = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: NS.example.com}
spec:
  matchConstraints:
    namespaceSelector: {matchLabels: {NS: "true"}}
    resourceRules:
    - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}
  validations:
  - expression: "!has(object.metadata.labels) || !('tier' in object.metadata.labels) ||
                 authorizer.group('').resource('secrets').namespace(request.namespace).check('delete').allowed()"
    messageExpression: "'only those who may delete secrets may set tier: ' +
                        authorizer.group('').resource('secrets').namespace(request.namespace).check('delete').reason()"
  - expression: "authorizer.path('/healthz').check('get').allowed()"
    messageExpression: "'healthz: ' + authorizer.path('/healthz').check('get').reason()"
  - expression: "!authorizer.serviceAccount(request.namespace, 'nobody').group('').resource('pods').check('list').allowed()"
    messageExpression: "'nobody: ' + authorizer.serviceAccount(request.namespace, 'nobody').group('').resource('pods').check('list').reason()"
"""


class PolicyAuthorizerTests(unittest.TestCase):
    def test_authorizer_checks(self) -> None:
        # The admin may delete secrets (RBAC: system:masters); a service account with no roles
        # may not: the policy lets one set the label and refuses the other.
        server = ServerProcess("--authorization-mode=RBAC")
        server.start()
        self.addCleanup(server.cleanup)
        ns = apply_policy(self, server, "vap-authz", AUTHZ + BINDING)
        server.kubectl("create", "configmap", "admin", "-n", ns, "--from-literal=a=b")
        server.kubectl("label", "configmap", "admin", "-n", ns, "tier=gold")  # UPDATE: not matched
        p = server.kubectl("create", "configmap", "labelled", "-n", ns, "--from-literal=a=b", "-o", "name",
                           "--dry-run=server", check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        server.kubectl("create", "serviceaccount", "writer", "-n", ns)
        server.kubectl("create", "role", "cm-writer", "-n", ns, "--verb=create", "--resource=configmaps")
        server.kubectl("create", "rolebinding", "cm-writer", "-n", ns, "--role=cm-writer",
                       f"--serviceaccount={ns}:writer")
        tiered = ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tiered", '
                  '"labels": {"tier": "gold"}}}')
        as_writer = f"--as=system:serviceaccount:{ns}:writer"
        p = server.kubectl("create", "-n", ns, "-f", "-", as_writer, input=tiered, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("denied request: only those who may delete secrets may set tier: ", p.stderr)
        p = server.kubectl("create", "-n", ns, "-f", "-", as_writer, input=tiered.replace('"tier"', '"other"').replace("tiered", "other"),
                           check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        server.kubectl("create", "-n", ns, "-f", "-", input=tiered)  # the admin may


BINDING = """---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: NS-binding.example.com}
spec:
  policyName: NS.example.com
  validationActions: [Deny]
"""
