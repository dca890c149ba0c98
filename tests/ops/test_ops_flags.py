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
             'invalid argument "maybe" for "--enable-priority-and-fairness" flag: strconv.ParseBool: parsing "maybe": invalid syntax'),
            (["--authorization-mode=ABAC"], "--authorization-mode: ABAC is not supported by kubeapi"),
        ]:
            with self.assertRaises(usage.UsageError) as e:
                parse(*args)
            self.assertIn(message, str(e.exception))
            self.assertEqual(len(str(e.exception).splitlines()), 1)

    def test_known_modes(self) -> None:
        self.assertEqual(AUTHORIZATION_MODES, ("AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node"))
        self.assertEqual(parse("--authorization-mode=Node,RBAC")["authorization-mode"], ["Node", "RBAC"])
