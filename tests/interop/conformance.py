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
import json
import queue
import re
import signal
import subprocess
import sys
import threading
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


def focused_specs(focus: str, skip: str, workdir: Path) -> list[tuple[str, bool]]:
    """(exact focus regex, is it [Serial]) of every spec ``focus``/``skip`` select, from a dry
    run of e2e.test (no cluster needed).  The regex is what ginkgo matches: the suite's
    description, a space and the spec's full text, anchored at both ends."""
    report = workdir / "dry-run.json"
    subprocess.run([str(E2E), "--provider=skeleton", "--ginkgo.dry-run", "--ginkgo.no-color",
                    f"--ginkgo.focus={focus}", f"--ginkgo.skip={skip}", f"--ginkgo.json-report={report}"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir, check=False)
    suite = json.loads(report.read_text())[0]
    specs = []
    for r in suite["SpecReports"]:
        if r.get("LeafNodeType") != "It" or r.get("State") == "skipped":
            continue
        text = " ".join([*r["ContainerHierarchyTexts"], r["LeafNodeText"]])
        serial = "[Serial]" in text or "Serial" in (r.get("LeafNodeLabels") or [])
        specs.append(("^" + re.escape(f"{suite['SuiteDescription']} {text}") + "$", serial))
    return specs


def merge_reports(parts: list[Path], out: Path) -> None:
    """One JUnit file from the per-spec reports: each part's spec that ran (the others in a
    part are listed as skipped by the focus and are left out), plus the focused specs that
    skipped themselves."""
    suite = ET.Element("testsuite", name="Kubernetes e2e suite")
    for part in parts:
        try:
            root = ET.parse(part).getroot()
        except (OSError, ET.ParseError):
            continue
        for case in root.iter("testcase"):
            name = case.get("name", "")
            skipped = case.find("skipped")
            if name.startswith(SUITE_NODES) or (skipped is not None and skipped.get("message") == "skipped"):
                continue
            suite.append(case)
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.ElementTree(suites).write(out, encoding="utf-8", xml_declaration=True)


def run_parallel(cluster: Cluster, argv: list[str], focus: str, skip: str, junit: Path, procs: int,
                 spec_timeout: str, deadline: float) -> list[str]:
    """Each focused spec in its own e2e.test process against the one cluster, ``procs`` at a
    time; the [Serial] ones afterwards, one by one with nothing else running (as ginkgo's own
    parallel mode does).  Returns the specs never started because ``deadline`` passed."""
    specs = focused_specs(focus, skip, cluster.dir)
    parts_dir = cluster.dir / "specs"
    parts_dir.mkdir(exist_ok=True)
    parts: list[Path] = []
    not_reached: list[str] = []
    lock = threading.Lock()
    running: set[subprocess.Popen[bytes]] = set()

    def one(i: int, regex: str) -> None:
        text = regex[1:-1].replace("\\", "")
        if time.monotonic() > deadline:
            with lock:
                not_reached.append(regex)
            return
        part = parts_dir / f"{i:03d}"
        part.mkdir()
        cmd = [*argv, f"--ginkgo.focus={regex}", f"--ginkgo.timeout={spec_timeout}",
               f"--ginkgo.junit-report={part / 'junit.xml'}", f"--report-dir={part}"]
        with open(part / "e2e.log", "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=part, env=cluster.env)
            with lock:
                running.add(proc)
            rc = proc.wait()
            with lock:
                running.discard(proc)
        if not (part / "junit.xml").is_file():  # e2e.test died before writing its report
            case = ET.Element("testcase", name=f"[It] {text}")
            ET.SubElement(case, "failure", message=f"e2e.test exited {rc} without a report; see {part / 'e2e.log'}")
            suite = ET.SubElement(ET.Element("testsuites"), "testsuite")
            suite.append(case)
            ET.ElementTree(suite).write(part / "junit.xml", encoding="utf-8")
        with lock:
            parts.append(part / "junit.xml")

    def worker(q: queue.Queue[tuple[int, str]]) -> None:
        while True:
            try:
                i, regex = q.get_nowait()
            except queue.Empty:
                return
            one(i, regex)

    numbered = list(enumerate(specs))
    q: queue.Queue[tuple[int, str]] = queue.Queue()
    for i, (regex, serial) in numbered:
        if not serial:
            q.put((i, regex))
    threads = [threading.Thread(target=worker, args=(q,)) for _ in range(procs)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
        for i, (regex, serial) in numbered:
            if serial:
                one(i, regex)
    except KeyboardInterrupt:  # stop: start nothing more, end the specs running
        while not q.empty():
            q.get_nowait()
        with lock:
            for proc in running:
                proc.kill()
        for t in threads:
            t.join()
        raise
    merge_reports(sorted(parts), junit)
    return not_reached


def run(focus: str, skip: str, junit: Path, timeout: str, procs: int = 1, spec_timeout: str = "15m") -> int:
    why = missing_reason() or (None if E2E.is_file() else f"{E2E} missing: run interop/build.sh e2e.test")
    if why:
        print(f"conformance: skipped: {why}")
        return 2
    cluster = Cluster()
    cluster.keep_logs = True
    started = time.monotonic()
    not_reached: list[str] = []
    try:
        cluster.start()
        cluster.wait_ready(timeout=180)
        argv = [str(E2E), f"--kubeconfig={cluster.server.kubeconfig}", "--provider=skeleton",
                f"--ginkgo.skip={skip}", "--ginkgo.no-color"]
        if procs > 1:
            deadline = started + go_duration(timeout)
            not_reached = run_parallel(cluster, argv, focus, skip, junit, procs, spec_timeout, deadline)
        else:
            with open(cluster.dir / "e2e.log", "wb") as out:
                subprocess.run([*argv, f"--ginkgo.focus={focus}", f"--ginkgo.timeout={timeout}",
                                f"--ginkgo.junit-report={junit}", f"--report-dir={cluster.dir}"],
                               stdout=out, stderr=subprocess.STDOUT, cwd=cluster.dir, env=cluster.env)
        tally, failed = counts(junit, focus)
        minutes = (time.monotonic() - started) / 60
        extra = f", {len(not_reached)} not reached" if not_reached else ""
        print(f"conformance ({focus}): {tally['passed']} passed, {tally['failed']} failed, "
              f"{tally['skipped']} skipped{extra} in {minutes:.0f} min; JUnit {junit}; logs {cluster.dir}")
        for name in failed:
            print(f"  FAILED {name}")
        return 1 if failed or not_reached else 0
    finally:
        cluster.stop()


def go_duration(text: str) -> float:
    """Seconds in a Go duration of hours/minutes/seconds (``90m``, ``1h30m``, ``45s``)."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not parts or not text:
        raise ValueError(f"not a duration: {text!r}")
    h, m, s = (int(x or 0) for x in parts.groups())
    return h * 3600 + m * 60 + s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--focus", default=FOCUS, help="ginkgo focus regex (default: sig-api-machinery Conformance)")
    p.add_argument("--skip", default=NEEDS_CONTAINERS, help="ginkgo skip regex")
    p.add_argument("--junit", type=Path, default=Path("conformance-junit.xml").resolve())
    p.add_argument("--timeout", default="90m",
                   help="ginkgo's suite timeout; with --procs, no spec starts after it")
    p.add_argument("--procs", type=int, default=1,
                   help="run each spec in its own e2e.test process, this many at a time ([Serial] ones alone, last)")
    p.add_argument("--spec-timeout", default="15m", help="with --procs: ginkgo's timeout for each spec's process")
    a = p.parse_args()

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # A run started in the background (SIGINT ignored) or told to stop (SIGTERM) still ends
    # its e2e.test processes and the cluster.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    sys.exit(run(a.focus, a.skip, a.junit.resolve(), a.timeout, a.procs, a.spec_timeout))


if __name__ == "__main__":
    main()
