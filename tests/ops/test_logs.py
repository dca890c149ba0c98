"""Log lines: klog-style text and JSON, --v filtering, failures as one line below --v=4."""

from __future__ import annotations

import io
import json
import re

from twisted.logger import LogLevel
from twisted.python.failure import Failure
from twisted.trial import unittest

from kubeapi.logs import KlogObserver, startup_failure_line
from kubeapi.server.statustext import reason_phrase
from kubeapi.storage.interface import UnavailableError


def _event(fmt: str, level: LogLevel = LogLevel.info, ns: str = "kubeapi.service", **kw: object) -> dict:
    return {"log_format": fmt, "log_level": level, "log_namespace": ns, "log_time": 1700000000.25, **kw}


def _failure() -> Failure:
    try:
        raise UnavailableError("etcd: no etcd endpoint reachable: dial http://127.0.0.1:1: refused")
    except UnavailableError:
        return Failure()


class Text(unittest.TestCase):
    def lines(self, v: int, *events: dict, fmt: str = "text") -> list[str]:
        out = io.StringIO()
        obs = KlogObserver(out, v, fmt)
        for e in events:
            obs(e)
        return out.getvalue().splitlines()

    def test_klog_header(self) -> None:
        [line] = self.lines(0, _event("Serving securely on {a}", a="127.0.0.1:6443"))
        self.assertRegex(line, r"^I\d{4} \d\d:\d\d:\d\d\.250000 +\d+ kubeapi\.service\] Serving securely on "
                               r"127\.0\.0\.1:6443$")
        [warn] = self.lines(0, _event("x", LogLevel.warn))
        self.assertTrue(warn.startswith("W"))

    def test_verbosity(self) -> None:
        events = [_event("always"), _event("at three", log_v=3), _event("Starting factory", ns="twisted.web")]
        self.assertEqual([ln.split("] ")[1] for ln in self.lines(0, *events)], ["always"])
        self.assertEqual([ln.split("] ")[1] for ln in self.lines(3, *events)],
                         ["always", "at three", "Starting factory"])

    def test_key_values(self) -> None:
        [line] = self.lines(3, _event("{msg}", msg='"HTTP"', log_v=3, log_caller="httplog",
                                      log_kv={"verb": "GET", "audit-ID": "abc", "resp": 200}))
        self.assertTrue(line.endswith('httplog] "HTTP" verb="GET" audit-ID="abc" resp=200'), line)

    def test_failure_is_one_line_below_v4(self) -> None:
        f = _failure()
        event = _event("{line}", LogLevel.error, line=startup_failure_line(f.value), log_failure=f)
        lines = self.lines(0, event)
        self.assertEqual(len(lines), 1)
        self.assertIn("kubeapi: failed to start: etcd: no etcd endpoint reachable", lines[0])
        self.assertIn("(check --etcd-servers", lines[0])
        self.assertGreater(len(self.lines(4, event)), 3)
        self.assertTrue(any("Traceback" in ln for ln in self.lines(4, event)))

    def test_json(self) -> None:
        [line] = self.lines(0, _event("hello {who}", who="you", log_kv={"n": 1}), fmt="json")
        obj = json.loads(line)
        self.assertEqual((obj["msg"], obj["v"], obj["n"], obj["caller"]), ("hello you", 0, 1, "kubeapi.service"))
        self.assertEqual(obj["ts"], 1700000000250.0)


class ReasonPhrases(unittest.TestCase):
    def test_go_texts(self) -> None:
        self.assertEqual(reason_phrase(422), b"Unprocessable Entity")
        self.assertEqual(reason_phrase(429), b"Too Many Requests")
        self.assertEqual(reason_phrase(431), b"Request Header Fields Too Large")
        self.assertEqual(reason_phrase(504), b"Gateway Timeout")
        self.assertEqual(reason_phrase(599), b"status code 599")
        self.assertTrue(re.match(rb"^[ -~]+$", reason_phrase(418)))
