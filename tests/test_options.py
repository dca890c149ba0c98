"""`twistd kubeapi` flags: kube-apiserver's names and defaults, the --config file, bad values."""

from __future__ import annotations

import os
import tempfile

from twisted.python import usage
from twisted.trial import unittest

from kubeapi.options import Options
from kubeapi.timefmt import parse_duration


def parse(*args: str) -> Options:
    o = Options()
    o.parseOptions(list(args))
    return o


class DefaultsTests(unittest.TestCase):
    def test_upstream_defaults(self) -> None:
        o = parse("--advertise-address=10.1.2.3")
        self.assertEqual(o["secure-port"], 6443)
        self.assertEqual(o["bind-address"], "0.0.0.0")
        self.assertEqual(o["insecure-port"], 8080)
        self.assertEqual(o["insecure-bind-address"], "127.0.0.1")
        self.assertEqual(o["advertise-address"], "10.1.2.3")
        self.assertEqual(o["cert-dir"], "/var/run/kubernetes")
        self.assertEqual(o["service-cluster-ip-range"], "10.0.0.0/24")
        self.assertEqual(o.node_port_range(), (30000, 32767))
        self.assertEqual(o["etcd-prefix"], "/registry")
        self.assertEqual(o["etcd-servers"], [])
        self.assertEqual(o["etcd-compaction-interval"], 300.0)
        self.assertEqual(o["storage-media-type"], "application/json")
        self.assertEqual(o["data-dir"], "./data")
        self.assertEqual(o["authorization-mode"], ["AlwaysAllow"])
        self.assertIs(o["anonymous-auth"], True)
        self.assertEqual(o["max-requests-inflight"], 400)
        self.assertEqual(o["max-mutating-requests-inflight"], 200)
        self.assertEqual(o["request-timeout"], 60.0)
        self.assertEqual(o["min-request-timeout"], 1800)
        self.assertEqual(o["endpoint-reconciler-type"], "lease")
        self.assertIn("NamespaceLifecycle", o.admission_plugins())

    def test_storage_media_type_protobuf(self) -> None:
        o = parse("--storage-media-type=application/vnd.kubernetes.protobuf")
        self.assertEqual(o["storage-media-type"], "application/vnd.kubernetes.protobuf")

    def test_endpoint_reconciler_none(self) -> None:
        self.assertEqual(parse("--endpoint-reconciler-type=none")["endpoint-reconciler-type"], "none")

    def test_advertise_address_defaults_to_an_ipv4(self) -> None:
        addr = parse()["advertise-address"]
        self.assertRegex(addr, r"^\d+\.\d+\.\d+\.\d+$")

    def test_both_spellings_and_booleans(self) -> None:
        o = parse("--secure-port", "7443", "--insecure-port=0", "--anonymous-auth=false",
                  "--etcd-servers=http://127.0.0.1:2379,https://10.0.0.2:2379", "--request-timeout=1m30s",
                  "--authorization-mode=Node,RBAC", "--v=4")
        self.assertEqual((o["secure-port"], o["insecure-port"]), (7443, 0))
        self.assertIs(o["anonymous-auth"], False)
        self.assertEqual(o["etcd-servers"], ["http://127.0.0.1:2379", "https://10.0.0.2:2379"])
        self.assertEqual(o["request-timeout"], 90.0)
        self.assertEqual(o["authorization-mode"], ["Node", "RBAC"])
        self.assertEqual(o["v"], 4)
        self.assertIs(parse("--anonymous-auth")["anonymous-auth"], True)
        self.assertIs(parse("--anonymous-auth", "false")["anonymous-auth"], False)
        self.assertEqual(parse("--log-level=2")["v"], 2)

    def test_admission_enable_disable(self) -> None:
        o = parse("--enable-admission-plugins=NodeRestriction,AlwaysPullImages",
                  "--disable-admission-plugins=NamespaceLifecycle")
        plugins = o.admission_plugins()
        self.assertNotIn("NamespaceLifecycle", plugins)
        self.assertLess(plugins.index("NodeRestriction"), plugins.index("AlwaysPullImages"))

    def test_durations(self) -> None:
        for text, seconds in [("5m", 300), ("30s", 30), ("1h", 3600), ("1m0s", 60), ("1h30m", 5400),
                              ("500ms", 0.5), ("0", 0)]:
            self.assertAlmostEqual(parse_duration(text), seconds)


class ConfigFileTests(unittest.TestCase):
    def write(self, text: str) -> str:
        d = tempfile.mkdtemp(prefix="kubeapi-cfg-")
        with open(os.path.join(d, "kubeapi.yaml"), "w") as f:
            f.write(text)
        return d

    def test_file_values_and_cli_wins(self) -> None:
        d = self.write("secure-port: 7000\ninsecure-port: 0\nanonymous-auth: false\n"
                       "authorization-mode: [Node, RBAC]\nrequest-timeout: 2m\n")
        o = parse("--config", d, "--secure-port=7001")
        self.assertEqual(o["secure-port"], 7001)
        self.assertEqual(o["insecure-port"], 0)
        self.assertIs(o["anonymous-auth"], False)
        self.assertEqual(o["authorization-mode"], ["Node", "RBAC"])
        self.assertEqual(o["request-timeout"], 120.0)
        # Order on the command line does not matter: the command line still wins.
        self.assertEqual(parse("--secure-port=7002", f"--config={d}")["secure-port"], 7002)

    def test_shipped_config_parses(self) -> None:
        etc = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "etc")
        o = parse("--config", etc)
        self.assertEqual(o["secure-port"], 6443)
        self.assertEqual(o["data-dir"], "./data")  # the README's first command runs as any user
        self.assertEqual(o["cert-dir"], "./certs")

    def test_bad_files(self) -> None:
        cases = [
            (self.write("bogus-key: 1\n"), "unknown key 'bogus-key'"),
            (self.write("secure-port: [1\n"), "is not valid YAML"),
            (self.write("- a\n- b\n"), "must be a mapping"),
            (self.write("secure-port: 99999\n"), "--secure-port: 99999 must be between 1 and 65535"),
            (tempfile.mkdtemp(), "cannot read"),
        ]
        for d, message in cases:
            with self.assertRaises(usage.UsageError) as cm:
                parse("--config", d)
            self.assertIn(message, str(cm.exception))
            self.assertNotIn("\n", str(cm.exception))


class BadValueTests(unittest.TestCase):
    CASES = [
        (["--secure-port=70000"], "--secure-port: 70000 must be between 1 and 65535, inclusive"),
        (["--secure-port=0"], "--secure-port: 0 must be between 1 and 65535"),
        (["--insecure-port=-1"], "--insecure-port: -1 must be between 0 and 65535"),
        (["--secure-port=https"], 'invalid argument "https" for "--secure-port" flag: strconv.ParseInt: parsing "https": invalid syntax'),
        (["--bind-address=example"], "--bind-address: 'example' is not a valid IP address"),
        (["--service-cluster-ip-range=10.0.0.0/33"], "--service-cluster-ip-range: '10.0.0.0/33' is not a valid CIDR"),
        (["--service-cluster-ip-range=10.0.0.0/31"], "too small"),
        (["--service-node-port-range=32767-30000"], "--service-node-port-range: '32767-30000' is not a valid port range"),
        (["--service-node-port-range=abc"], "is not a valid port range"),
        (["--authorization-mode=AlwaysAllow,Magic"], "--authorization-mode: 'Magic' is not a valid mode"),
        (["--enable-admission-plugins=Nope"], "--enable-admission-plugins: plugin 'Nope' is unknown"),
        (["--request-timeout=5 minutes"], 'invalid argument "5 minutes" for "--request-timeout" flag: time: invalid duration "5 minutes"'),
        (["--etcd-compaction-interval=5x"], 'for "--etcd-compaction-interval" flag: time: invalid duration "5x"'),
        (["--anonymous-auth=maybe"], 'invalid argument "maybe" for "--anonymous-auth" flag: strconv.ParseBool'),
        (["--tls-cert-file=/nonexistent/a.crt", "--tls-private-key-file=/nonexistent/a.key"],
         "--tls-cert-file: cannot read /nonexistent/a.crt"),
        (["--client-ca-file=/nonexistent/ca.crt"], "--client-ca-file: cannot read"),
        (["--storage-media-type=application/yaml"], "--storage-media-type: 'application/yaml' is not supported"),
        (["--etcd-servers=127.0.0.1:2379"], "--etcd-servers: '127.0.0.1:2379' is not a URL"),
        (["--endpoint-reconciler-type=magic"], "--endpoint-reconciler-type: 'magic' is not supported"),
        (["--max-requests-inflight=-3"], "--max-requests-inflight: -3 must not be negative"),
        (["--no-such-flag=1"], "unknown flag: --no-such-flag"),
        (["--secure-port"], "--secure-port requires argument"),
        (["stray"], "Wrong number of arguments"),
    ]

    def test_each_bad_value_is_one_clear_line(self) -> None:
        for args, message in self.CASES:
            with self.subTest(args=args):
                with self.assertRaises(usage.UsageError) as cm:
                    parse("--advertise-address=127.0.0.1", *args)
                self.assertIn(message, str(cm.exception))
                self.assertNotIn("\n", str(cm.exception))
