"""The --kubelet-* flags: upstream's defaults, and bad values refused at start with one line."""

from __future__ import annotations

import os
import tempfile

from twisted.python import usage
from twisted.trial import unittest

from kubeapi.options import Options
from kubeapi.proxy.kubelet import from_options


def parse(*args: str) -> Options:
    o = Options()
    o.parseOptions(["--advertise-address=10.1.2.3", *args])
    return o


class KubeletFlags(unittest.TestCase):
    def test_defaults(self) -> None:
        o = parse()
        self.assertEqual(o["kubelet-preferred-address-types"],
                         ["Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP"])
        self.assertEqual(o["kubelet-timeout"], 5.0)
        cfg = from_options(o)
        self.assertEqual((cfg.client_certificate, cfg.certificate_authority, cfg.timeout), (None, None, 5.0))

    def test_values(self) -> None:
        o = parse("--kubelet-preferred-address-types=InternalIP,Hostname", "--kubelet-timeout=2m30s")
        self.assertEqual(o["kubelet-preferred-address-types"], ["InternalIP", "Hostname"])
        self.assertEqual(o["kubelet-timeout"], 150.0)

    def test_refusals(self) -> None:
        cases = [
            (["--kubelet-preferred-address-types=InternalIP,Bogus"],
             "--kubelet-preferred-address-types: 'Bogus' is not a node address type"),
            (["--kubelet-preferred-address-types="], "--kubelet-preferred-address-types: at least one type is required"),
            (["--kubelet-timeout=soon"], "kubelet-timeout"),
            (["--kubelet-client-certificate=/nonexistent/c.crt"], "--kubelet-client-certificate: cannot read"),
            (["--kubelet-certificate-authority=/nonexistent/ca.crt"], "--kubelet-certificate-authority: cannot read"),
        ]
        for args, message in cases:
            with self.assertRaises(usage.UsageError) as e:
                parse(*args)
            self.assertIn(message, str(e.exception), args)

    def test_certificate_needs_its_key(self) -> None:
        with tempfile.NamedTemporaryFile(suffix=".crt") as f:
            with self.assertRaises(usage.UsageError) as e:
                parse(f"--kubelet-client-certificate={f.name}")
            self.assertEqual(str(e.exception),
                             "--kubelet-client-certificate and --kubelet-client-key must be given together")

    def test_unreadable_pem_fails_loading(self) -> None:
        d = tempfile.mkdtemp()
        self.addCleanup(__import__("shutil").rmtree, d)
        bad = os.path.join(d, "bad.pem")
        with open(bad, "w") as f:
            f.write("not a certificate")
        o = parse(f"--kubelet-client-certificate={bad}", f"--kubelet-client-key={bad}")
        from OpenSSL.crypto import Error

        self.assertRaises(Error, from_options, o)
