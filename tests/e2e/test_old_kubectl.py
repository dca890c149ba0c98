"""kubectl 1.27/1.28 read /openapi/v2 only as gnostic protobuf; apply, create -f and replace need it."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from twisted.trial import unittest

from tests.e2e.harness import shared_server, unique_namespace

SDK = "/usr/lib/google-cloud-sdk/bin"


def _configmap(ns: str, mode: str) -> str:
    return f"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: old-kubectl
  namespace: {ns}
data:
  mode: {mode}
"""


# The shared tests are a mixin (so trial does not run them without a binary); mypy sees a TestCase.
if TYPE_CHECKING:
    _Base = unittest.TestCase
else:
    _Base = object


class _OldKubectl(_Base):
    binary = ""

    def setUp(self) -> None:
        if not os.path.exists(self.binary):
            raise unittest.SkipTest(f"{self.binary} is not installed")
        self.server = shared_server()
        self.ns = unique_namespace(self.server)

    def k(self, *args: str, input: str | None = None) -> str:
        return self.server.kubectl("-n", self.ns, *args, input=input, binary=self.binary).stdout

    def test_apply_twice_then_change(self) -> None:
        self.assertIn("configmap/old-kubectl created", self.k("apply", "-f", "-", input=_configmap(self.ns, "fast")))
        self.assertIn("configmap/old-kubectl unchanged", self.k("apply", "-f", "-", input=_configmap(self.ns, "fast")))
        self.assertIn("configmap/old-kubectl configured", self.k("apply", "-f", "-", input=_configmap(self.ns, "slow")))
        cm = json.loads(self.k("get", "configmap", "old-kubectl", "-o", "json"))
        self.assertEqual(cm["data"], {"mode": "slow"})
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration", cm["metadata"]["annotations"])

    def test_create_and_replace_from_file(self) -> None:
        self.assertIn("configmap/old-kubectl created", self.k("create", "-f", "-", input=_configmap(self.ns, "a")))
        self.assertIn("configmap/old-kubectl replaced", self.k("replace", "-f", "-", input=_configmap(self.ns, "b")))
        cm = json.loads(self.k("get", "configmap", "old-kubectl", "-o", "json"))
        self.assertEqual(cm["data"], {"mode": "b"})


class Kubectl127Tests(_OldKubectl, unittest.TestCase):
    binary = f"{SDK}/kubectl.1.27"


class Kubectl128Tests(_OldKubectl, unittest.TestCase):
    binary = f"{SDK}/kubectl.1.28"
