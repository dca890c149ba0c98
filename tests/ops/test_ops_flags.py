"""The flags this work added: --logging-format, --enable-priority-and-fairness, and the
known --authorization-mode names."""

from __future__ import annotations

from twisted.python import usage
from twisted.trial import unittest

from kubeapi.options import AUTHORIZATION_MODES, Options


def parse(*args: str) -> Options:
    o = Options()
    o.parseOptions(["--advertise-address=127.0.0.1", *args])
    return o


class Flags(unittest.TestCase):
    def test_defaults(self) -> None:
        o = parse()
        self.assertEqual(o["logging-format"], "text")
        self.assertIs(o["enable-priority-and-fairness"], True)

    def test_values(self) -> None:
        self.assertEqual(parse("--logging-format=json")["logging-format"], "json")
        self.assertIs(parse("--enable-priority-and-fairness=false")["enable-priority-and-fairness"], False)
        self.assertIs(parse("--enable-priority-and-fairness")["enable-priority-and-fairness"], True)

    def test_bad_values_are_one_line(self) -> None:
        for args, message in [
            (["--logging-format=xml"], "--logging-format: 'xml' is not supported (one of text, json)"),
            (["--enable-priority-and-fairness=maybe"],
             "--enable-priority-and-fairness: 'maybe' is not a boolean (true or false)"),
            (["--authorization-mode=ABAC"], "--authorization-mode: 'ABAC' is not a valid mode"),
        ]:
            with self.assertRaises(usage.UsageError) as e:
                parse(*args)
            self.assertIn(message, str(e.exception))
            self.assertEqual(len(str(e.exception).splitlines()), 1)

    def test_known_modes(self) -> None:
        self.assertEqual(AUTHORIZATION_MODES, ("AlwaysAllow", "AlwaysDeny", "RBAC", "Node", "Webhook"))
        self.assertEqual(parse("--authorization-mode=Node,RBAC")["authorization-mode"], ["Node", "RBAC"])


class UnbuiltMode(unittest.TestCase):
    def test_known_but_unbuilt_mode_refuses_to_start(self) -> None:
        from kubeapi.auth.authorizer import AUTHORIZER_FACTORIES
        from kubeapi.service import KubeAPIService

        missing = [m for m in AUTHORIZATION_MODES if m not in AUTHORIZER_FACTORIES]
        if not missing:
            raise unittest.SkipTest("every known mode is built")
        import shutil
        import tempfile

        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp, True)
        o = parse(f"--authorization-mode={missing[0]}", f"--data-dir={tmp}/d", f"--cert-dir={tmp}/c")
        with self.assertRaises(SystemExit) as e:
            KubeAPIService(o)
        self.assertIn(f"--authorization-mode: mode {missing[0]!r} is not built into this kubeapi", str(e.exception))
