"""What real kubectl sends: captured protobuf bodies decode to the JSON kubectl would send."""

from __future__ import annotations

import os
from typing import Any

import orjson
from twisted.trial import unittest

from kubeapi import protobuf

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

# The body from the task brief: `kubectl create configmap x --from-literal=a=b`.
CONFIGMAP_BODY = (b'k8s\x00\n\x0f\n\x02v1\x12\tConfigMap\x12\x1b\n\x11\n\x01x\x12\x00\x1a\x00"\x00*\x002'
                  b'\x008\x00B\x00\x12\x06\n\x01a\x12\x01b\x1a\x00"\x00')


def _read(name: str) -> bytes:
    with open(os.path.join(FIXTURES, name), "rb") as fh:
        return fh.read()


def _without_namespace(obj: dict[str, Any]) -> dict[str, Any]:
    """--dry-run=client -o json prints the namespace kubectl leaves to the URL when it sends."""
    out = dict(obj)
    out["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "namespace"}
    return out


PB_FIXTURES = sorted(f[:-3] for f in os.listdir(FIXTURES) if f.endswith(".pb"))


class KubectlBodiesTests(unittest.TestCase):
    def test_fixtures_present(self) -> None:
        for name in ("configmap", "deployment", "secret", "namespace", "job", "cronjob", "service",
                     "serviceaccount", "quota"):
            self.assertIn(name, PB_FIXTURES)

    def test_brief_configmap(self) -> None:
        self.assertEqual(protobuf.decode(CONFIGMAP_BODY), {
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "x", "creationTimestamp": None},
            "data": {"a": "b"},
        })
        self.assertEqual(protobuf.peek_type(CONFIGMAP_BODY), ("v1", "ConfigMap"))

    def test_decode_equals_dry_run_json(self) -> None:
        for name in PB_FIXTURES:
            body = _read(f"{name}.pb")
            expected = _without_namespace(orjson.loads(_read(f"{name}.json")))
            self.assertEqual(_without_namespace(protobuf.decode(body)), expected, name)

    def test_reencode_is_byte_identical(self) -> None:
        for name in PB_FIXTURES:
            body = _read(f"{name}.pb")
            self.assertEqual(protobuf.encode(protobuf.decode(body)), body, name)

    def test_secret_bytes_are_base64(self) -> None:
        obj = protobuf.decode(_read("secret.pb"))
        self.assertEqual(obj["data"], {"a": "Yg==", "pw": "czNjcjN0"})

    def test_service_int_or_string_ports(self) -> None:
        ports = protobuf.decode(_read("service.pb"))["spec"]["ports"]
        self.assertEqual([p["targetPort"] for p in ports], [8080, "https"])

    def test_quota_quantities(self) -> None:
        hard = protobuf.decode(_read("quota.pb"))["spec"]["hard"]
        self.assertEqual(hard, {"pods": "2", "requests.cpu": "500m", "requests.memory": "1Gi"})

    def test_pod_sent_as_json_round_trips(self) -> None:
        # kubectl run sends JSON; what it sends is Go's own JSON, so it must survive a protobuf trip.
        sent = orjson.loads(_read("pod.sent.json"))
        self.assertEqual(protobuf.decode(protobuf.encode(sent)), sent)
