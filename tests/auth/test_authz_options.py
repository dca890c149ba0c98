"""The authorization flags: modes in order, webhook settings, refusals with one line."""

from __future__ import annotations

import os

from twisted.python import usage
from twisted.trial import unittest

from kubeapi.options import Options


def parse(*args: str) -> Options:
    o = Options()
    o.parseOptions(list(args))
    return o


class AuthorizationFlags(unittest.TestCase):
    def test_modes_and_webhook_settings(self) -> None:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("apiVersion: v1\nkind: Config\n")
        o = parse("--authorization-mode=Node,RBAC,Webhook", f"--authorization-webhook-config-file={path}",
                  "--authorization-webhook-cache-authorized-ttl=2m", "--authorization-webhook-cache-unauthorized-ttl=5s",
                  "--authorization-webhook-version=v1beta1")
        self.assertEqual(o["authorization-mode"], ["Node", "RBAC", "Webhook"])
        self.assertEqual((o["authorization-webhook-cache-authorized-ttl"],
                          o["authorization-webhook-cache-unauthorized-ttl"]), (120.0, 5.0))
        self.assertEqual(o["authorization-webhook-version"], "v1beta1")
        os.unlink(path)

    def test_refusals(self) -> None:
        for args, msg in (
            (["--authorization-mode=Webhook"],
             "--authorization-mode=Webhook requires --authorization-webhook-config-file"),
            (["--authorization-mode=RBAC,ABAC"], "--authorization-mode: ABAC is not supported by kubeapi"),
            (["--authorization-mode=RBAC,Foo"], "--authorization-mode: 'Foo' is not a valid mode "
                                                "(valid: AlwaysAllow, AlwaysDeny, ABAC, Webhook, RBAC, Node)"),
            (["--authorization-webhook-version=v2"], None),
        ):
            with self.assertRaises(usage.UsageError) as e:
                parse(*args)
            if msg:
                self.assertEqual(str(e.exception), msg)
