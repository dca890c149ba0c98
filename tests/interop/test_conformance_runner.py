"""The conformance runner's pieces that need no cluster: durations, the per-spec focus
regexes (from a dry run of e2e.test when it is built) and merging per-spec JUnit reports."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from twisted.trial import unittest

from tests.interop import conformance


def junit(cases: str) -> str:
    return f'<?xml version="1.0"?><testsuites><testsuite name="Kubernetes e2e suite">{cases}</testsuite></testsuites>'


class RunnerTests(unittest.TestCase):
    def test_go_duration(self) -> None:
        self.assertEqual(conformance.go_duration("90m"), 5400)
        self.assertEqual(conformance.go_duration("1h30m"), 5400)
        self.assertEqual(conformance.go_duration("45s"), 45)
        self.assertRaises(ValueError, conformance.go_duration, "")
        self.assertRaises(ValueError, conformance.go_duration, "5x")

    def test_merge_keeps_each_parts_own_spec(self) -> None:
        d = Path(tempfile.mkdtemp())
        a, b = d / "a.xml", d / "b.xml"
        # Each part lists every spec; the ones its focus left out are plain "skipped".
        a.write_text(junit('<testcase name="[SynchronizedBeforeSuite]"/>'
                           '<testcase name="[It] [sig-apps] A [Conformance] [sig-apps, Conformance]"/>'
                           '<testcase name="[It] [sig-apps] B [Conformance] [sig-apps, Conformance]"><skipped message="skipped"/></testcase>'))
        b.write_text(junit('<testcase name="[It] [sig-apps] A [Conformance] [sig-apps, Conformance]"><skipped message="skipped"/></testcase>'
                           '<testcase name="[It] [sig-apps] B [Conformance] [sig-apps, Conformance]"><failure message="boom"/></testcase>'
                           '<testcase name="[It] [sig-apps] C [Conformance] [sig-apps, Conformance]"><skipped message="skipped - no SSH"/></testcase>'))
        out = d / "all.xml"
        conformance.merge_reports([a, b, d / "missing.xml"], out)
        tally, failed = conformance.counts(out, r"\[sig-apps\].*\[Conformance\]")
        self.assertEqual(tally, {"passed": 1, "failed": 1, "skipped": 1})
        self.assertEqual(failed, ["[It] [sig-apps] B [Conformance] [sig-apps, Conformance]"])

    def test_focused_specs_are_exact(self) -> None:
        if not conformance.E2E.is_file():
            raise unittest.SkipTest(f"{conformance.E2E} missing: run interop/build.sh e2e.test")
        specs = conformance.focused_specs(r"\[sig-apps\] Job .*\[Conformance\]", "backoffLimitPerIndex",
                                          Path(tempfile.mkdtemp()))
        self.assertGreater(len(specs), 3)
        for regex, serial in specs:
            self.assertFalse(serial)
            self.assertTrue(regex.startswith("^Kubernetes") and regex.endswith("$"))
            self.assertNotIn("backoffLimitPerIndex", regex)
            # Each regex selects its own spec and no other.
            self.assertEqual(sum(bool(re.search(regex, "Kubernetes e2e suite " + r[len("^Kubernetes\\ e2e\\ suite\\ "):-1]
                                                .replace("\\", ""))) for r, _ in specs), 1)


class StageTests(unittest.TestCase):
    def test_pod_complete_leaves_pause_pods_running(self) -> None:
        from tests.interop import cluster

        files = [f for f in cluster.kwok_stage_files() if f.name == "pod-complete.yaml"]
        if not files:
            raise unittest.SkipTest("kwok's stage files are not in the Go module cache")
        out = cluster.pod_complete_stage(files[0].read_text())
        # kwok's own terms are all still there, and one more about the images.
        for line in files[0].read_text().splitlines():
            self.assertIn(line, out.splitlines())
        self.assertIn("    - key: '.spec.containers.[].image'\n      operator: 'NotIn'\n", out)
        self.assertIn("      - 'registry.k8s.io/pause:3.10.1'\n", out)
        self.assertRaises(ValueError, cluster.pod_complete_stage, "spec: {}\n")
