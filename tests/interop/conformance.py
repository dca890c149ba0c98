"""Upstream's conformance tests against kubeapi: ``python -m tests.interop.conformance``.

Starts the interop cluster (kubeapi on the embedded store, the real kube-scheduler and
kube-controller-manager, kwok nodes), runs ``e2e.test`` of k8s.io/kubernetes at the same
release (built into the interop cache by ``interop/build.sh e2e.test``) focused on one set of
Conformance specs, writes its JUnit report and prints the pass/fail/skip counts with the name
of every failure.  Not part of the trial suite: a full sig-api-machinery run takes tens of
minutes on two cores.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.interop.cluster import BIN, Cluster, missing_reason

E2E = BIN / "e2e.test"
FOCUS = r"\[sig-api-machinery\].*\[Conformance\]"
# Specs whose servers must run inside pods (admission webhooks, CRD conversion webhooks, which
# the field-selector spec deploys too, the sample aggregated API server): kwok runs no
# containers, so they cannot pass here.
NEEDS_CONTAINERS = (r"AdmissionWebhook|CustomResourceConversionWebhook|CustomResourceFieldSelectors|"
                    r"Aggregator Should be able to support the 1\.17 Sample API Server")

# Ginkgo's suite-level setup and report nodes, which the JUnit report lists beside the specs.
SUITE_NODES = ("[SynchronizedBeforeSuite]", "[SynchronizedAfterSuite]", "[ReportBeforeSuite]", "[ReportAfterSuite]")


def counts(junit: Path, focus: str) -> tuple[dict[str, int], list[str]]:
    """(passed/failed/skipped counts, names of the failed specs) from ginkgo's JUnit report.
    The report lists every spec of the binary; only the focused ones are counted as skipped."""
    tally = {"passed": 0, "failed": 0, "skipped": 0}
    failed: list[str] = []
    focused = re.compile(focus)
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        if not name or name.startswith(SUITE_NODES):
            continue
        if case.find("skipped") is not None:
            tally["skipped"] += 1 if focused.search(name) else 0
        elif case.find("failure") is not None or case.find("error") is not None:
            tally["failed"] += 1
            failed.append(name)
        else:
            tally["passed"] += 1
    return tally, failed


def run(focus: str, skip: str, junit: Path, timeout: str) -> int:
    why = missing_reason() or (None if E2E.is_file() else f"{E2E} missing: run interop/build.sh e2e.test")
    if why:
        print(f"conformance: skipped: {why}")
        return 2
    cluster = Cluster()
    cluster.keep_logs = True
    started = time.monotonic()
    try:
        cluster.start()
        cluster.wait_ready(timeout=180)
        argv = [str(E2E), f"--kubeconfig={cluster.server.kubeconfig}", "--provider=skeleton",
                f"--ginkgo.focus={focus}", f"--ginkgo.skip={skip}", f"--ginkgo.timeout={timeout}",
                f"--ginkgo.junit-report={junit}", "--ginkgo.no-color",
                f"--report-dir={cluster.dir}"]
        log = cluster.dir / "e2e.log"
        with open(log, "wb") as out:
            subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cluster.dir, env=cluster.env)
        tally, failed = counts(junit, focus)
        minutes = (time.monotonic() - started) / 60
        print(f"conformance ({focus}): {tally['passed']} passed, {tally['failed']} failed, "
              f"{tally['skipped']} skipped in {minutes:.0f} min; JUnit {junit}; logs {cluster.dir}")
        for name in failed:
            print(f"  FAILED {name}")
        return 1 if failed else 0
    finally:
        cluster.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--focus", default=FOCUS, help="ginkgo focus regex (default: sig-api-machinery Conformance)")
    p.add_argument("--skip", default=NEEDS_CONTAINERS, help="ginkgo skip regex")
    p.add_argument("--junit", type=Path, default=Path("conformance-junit.xml").resolve())
    p.add_argument("--timeout", default="90m", help="ginkgo's suite timeout")
    a = p.parse_args()
    sys.exit(run(a.focus, a.skip, a.junit.resolve(), a.timeout))


if __name__ == "__main__":
    main()
