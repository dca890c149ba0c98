"""Policy rules: each selector, first match wins, stages and managed fields, bad files."""

from __future__ import annotations

import os
import tempfile
from typing import Any
from urllib.parse import parse_qs

from twisted.trial import unittest

from kubeapi.audit.policy import PolicyError, load_policy, parse_policy
from kubeapi.server.requestinfo import parse_request_info


def info(method: str, path: str) -> Any:
    bare, _, query = path.partition("?")
    return parse_request_info(method, bare, parse_qs(query, keep_blank_values=True))


def pol(*rules: dict[str, Any], **top: Any) -> Any:
    return parse_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": list(rules), **top})


def level(p: Any, method: str, path: str, user: str = "bob", groups: tuple[str, ...] = ("devs",)) -> str:
    i = info(method, path)
    verb = i.verb if i.is_resource_request else method.lower()
    return str(p.evaluate(user, groups, verb, i, path.partition("?")[0]).level)


PODS = "/api/v1/namespaces/ns1/pods"


class Rules(unittest.TestCase):
    def test_first_match_wins_and_default_none(self) -> None:
        p = pol({"level": "RequestResponse", "users": ["bob"]}, {"level": "Metadata"})
        self.assertEqual(level(p, "GET", PODS), "RequestResponse")
        self.assertEqual(level(p, "GET", PODS, user="eve"), "Metadata")
        p = pol({"level": "Metadata", "users": ["carol"]})
        self.assertEqual(level(p, "GET", PODS), "None")

    def test_user_groups_and_verbs(self) -> None:
        p = pol({"level": "Request", "userGroups": ["admins"]},
                {"level": "Metadata", "verbs": ["list", "watch"]}, {"level": "None"})
        self.assertEqual(level(p, "GET", PODS, groups=("x", "admins")), "Request")
        self.assertEqual(level(p, "GET", PODS), "Metadata")
        self.assertEqual(level(p, "GET", PODS + "?watch=1"), "Metadata")
        self.assertEqual(level(p, "GET", PODS + "/p1"), "None")

    def test_resources_subresources_and_names(self) -> None:
        p = pol({"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods/log"]}]},
                {"level": "Request", "resources": [{"group": "", "resources": ["*/status"]}]},
                {"level": "Metadata", "resources": [{"group": "apps", "resources": ["deployments/*"]}]},
                {"level": "Metadata", "resources": [{"group": "", "resources": ["configmaps"],
                                                     "resourceNames": ["cfg"]}]},
                {"level": "None"})
        self.assertEqual(level(p, "GET", PODS + "/p1/log"), "RequestResponse")
        self.assertEqual(level(p, "GET", PODS + "/p1"), "None")  # pods/log does not match pods
        self.assertEqual(level(p, "PUT", PODS + "/p1/status"), "Request")
        self.assertEqual(level(p, "GET", "/apis/apps/v1/namespaces/ns1/deployments/d/scale"), "Metadata")
        self.assertEqual(level(p, "GET", "/apis/apps/v1/namespaces/ns1/deployments/d"), "Metadata")
        self.assertEqual(level(p, "GET", "/api/v1/namespaces/ns1/configmaps/cfg"), "Metadata")
        self.assertEqual(level(p, "GET", "/api/v1/namespaces/ns1/configmaps/other"), "None")

    def test_group_star_and_empty_resources(self) -> None:
        p = pol({"level": "Metadata", "resources": [{"group": "apps"}]},
                {"level": "Request", "resources": [{"group": "", "resources": ["*"]}]})
        self.assertEqual(level(p, "GET", "/apis/apps/v1/deployments"), "Metadata")
        self.assertEqual(level(p, "GET", "/api/v1/secrets"), "Request")
        self.assertEqual(level(p, "GET", "/apis/batch/v1/jobs"), "None")

    def test_namespaces(self) -> None:
        p = pol({"level": "Metadata", "namespaces": ["kube-system", ""]})
        self.assertEqual(level(p, "GET", "/api/v1/namespaces/kube-system/pods"), "Metadata")
        self.assertEqual(level(p, "GET", "/api/v1/nodes"), "Metadata")  # cluster scope is ""
        self.assertEqual(level(p, "GET", PODS), "None")
        self.assertEqual(level(p, "GET", "/healthz"), "None")  # never a non-resource URL

    def test_non_resource_urls(self) -> None:
        p = pol({"level": "Request", "nonResourceURLs": ["/healthz*", "/version"]},
                {"level": "Metadata", "users": ["bob"]})
        self.assertEqual(level(p, "GET", "/healthz"), "Request")
        self.assertEqual(level(p, "GET", "/healthz/etcd"), "Request")
        self.assertEqual(level(p, "GET", "/version"), "Request")
        self.assertEqual(level(p, "GET", "/version/x"), "Metadata")
        self.assertEqual(level(p, "GET", PODS), "Metadata")  # a nonResourceURLs rule skips resources
        p = pol({"level": "Metadata", "nonResourceURLs": ["*"]})
        self.assertEqual(level(p, "GET", "/openapi/v2"), "Metadata")
        self.assertEqual(level(p, "GET", PODS), "None")

    def test_omit_stages_and_managed_fields(self) -> None:
        p = pol({"level": "Metadata", "omitStages": ["ResponseStarted"], "omitManagedFields": False,
                 "users": ["bob"]},
                {"level": "Metadata"}, omitStages=["RequestReceived"], omitManagedFields=True)
        i = info("GET", PODS)
        d = p.evaluate("bob", (), "list", i, PODS)
        self.assertEqual(d.omit_stages, frozenset({"ResponseStarted", "RequestReceived"}))
        self.assertFalse(d.omit_managed_fields)
        d = p.evaluate("eve", (), "list", i, PODS)
        self.assertEqual(d.omit_stages, frozenset({"RequestReceived"}))
        self.assertTrue(d.omit_managed_fields)


class Loading(unittest.TestCase):
    def bad(self, doc: Any, text: str) -> None:
        with self.assertRaises(PolicyError) as cm:
            parse_policy(doc)
        self.assertIn(text, str(cm.exception))

    def test_refusals(self) -> None:
        base = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy"}
        self.bad({**base, "kind": "Other", "rules": [{"level": "None"}]}, "expected audit.k8s.io/v1 Policy")
        self.bad({**base, "rules": []}, "0 rules")
        self.bad({**base, "rules": [{"level": "Loud"}]}, 'rules[0].level: Unsupported value: "Loud"')
        self.bad({**base, "rules": [{"level": "None", "omitStages": ["Later"]}]},
                 'rules[0].omitStages: Unsupported value: "Later"')
        self.bad({**base, "rules": [{"level": "None", "nonResourceURLs": ["/a"], "namespaces": ["x"]}]},
                 "cannot apply to both")
        self.bad({**base, "rules": [{"level": "None", "nonResourceURLs": ["a"]}]}, "must begin with a '/'")
        self.bad({**base, "rules": [{"level": "None", "nonResourceURLs": ["/a*/b"]}]}, "final character")
        self.bad({**base, "rules": [{"level": "None", "resources": [{"resourceNames": ["x"]}]}]},
                 "resourceNames require a non-empty resource list")

    def test_load_file(self) -> None:
        fd, path = tempfile.mkstemp(suffix=".yaml")
        os.close(fd)
        self.addCleanup(os.remove, path)
        with open(path, "w") as f:
            f.write("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
        self.assertEqual(load_policy(path).rules[0].level, "Metadata")
        sample = os.path.join(os.path.dirname(__file__), "..", "..", "etc", "audit-policy.yaml")
        self.assertGreater(len(load_policy(sample).rules), 3)
        with self.assertRaises(PolicyError):
            load_policy(path + ".missing")
