"""What auditing costs a GET: latency with audit off vs. Metadata level to a log file.

    python bench/audit.py [--n 2000]

Three server processes in turn (`twistd -n kubeapi` on loopback, embedded store): no audit
policy; a Metadata-level policy with ``--audit-log-mode=blocking`` (each request waits for
its events to be written by the writer thread); the same with ``--audit-log-mode=batch``.
Each: N sequential GETs of one ConfigMap over one keep-alive connection after a warm-up.
Prints a table (the README quotes it).  Not a test: it asserts only that GETs succeed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import Conn, row  # noqa: E402
from tests.e2e.harness import ServerProcess  # noqa: E402

POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"
PATH = "/api/v1/namespaces/default/configmaps/bench-audit"


def measure(flags: list[str], n: int) -> tuple[list[float], float, int]:
    """(latencies, wall time, bytes of audit log written)."""
    s = ServerProcess(*flags)
    try:
        s.start()
        c = Conn(s.insecure_port)
        code, _ = c.request("POST", "/api/v1/namespaces/default/configmaps",
                            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bench-audit"},
                             "data": {"k": "v"}})
        assert code == 201, code
        for _ in range(200):
            c.request("GET", PATH)
        lat: list[float] = []
        start = time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            code, _ = c.request("GET", PATH)
            lat.append(time.perf_counter() - t)
            assert code == 200, code
        wall = time.perf_counter() - start
        log = next((f.split("=", 1)[1] for f in flags if f.startswith("--audit-log-path=")), "")
        return lat, wall, os.path.getsize(log) if log and os.path.exists(log) else 0
    finally:
        s.cleanup()


def table(n: int) -> list[str]:
    tmp = tempfile.mkdtemp(prefix="kubeapi-bench-audit-")
    try:
        policy = os.path.join(tmp, "policy.yaml")
        with open(policy, "w") as f:
            f.write(POLICY)
        runs = [("GET, audit off", [])]
        for mode in ("blocking", "batch"):
            runs.append((f"GET, Metadata to file ({mode})",
                         [f"--audit-policy-file={policy}", f"--audit-log-path={tmp}/{mode}.log",
                          f"--audit-log-mode={mode}"]))
        out = ["| operation | count | mean ms | p50 ms | p99 ms | throughput |", "|---|---|---|---|---|---|"]
        for name, flags in runs:
            lat, wall, size = measure(flags, n)
            label = f"{name}, {size / 1024:.0f} KiB logged" if size else name
            out.append(row(label, lat, wall))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    a = ap.parse_args()
    for line in table(a.n):
        print(line)


if __name__ == "__main__":
    main()
