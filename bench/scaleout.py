"""Scale-out: one kubeapi process against ``--workers N`` on the same machine and one etcd.

For each worker count a fresh etcd and server start; wrk (another process) then runs GETs
of one ConfigMap and creates, 16 connections each; the table gives requests/s, the ratio
to one worker, the cores kubeapi's processes used and the cores busy on the whole machine.
The servers, etcd and wrk all share this machine's cores, so on 2 cores the ceiling is
below 2×: the last column shows how close to all of them a run came.

    python bench/scaleout.py [--workers 1,2] [--seconds 6] [--connections 16]

Not a test: it asserts nothing but that the requests succeeded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.create import LUA, wrk_creates  # noqa: E402
from bench.get import wrk  # noqa: E402
from bench.run import print_timed, serving  # noqa: E402
from tests.support.procstat import process_cpu_seconds  # noqa: E402


def answering(url: str, want: int, timeout: float = 60.0) -> None:
    """Until ``want`` distinct processes have answered (one connection per request)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < want:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(seen)} of {want} workers answered")
        with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("process_start_time_seconds "):
                    seen.add(line.split()[1])


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its children (the workers)."""
    total = process_cpu_seconds(pid)
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            total += sum(process_cpu_seconds(int(c)) for c in f.read().split())
    except OSError:
        pass
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    """How many of the machine's cores were busy between two machine_busy() readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total * (os.cpu_count() or 1) if total else 0.0


def measure(workers: int, seconds: float, connections: int, tmp: str, script: str) -> dict[str, float]:
    own = os.path.join(tmp, f"workers-{workers}")  # a fresh etcd data dir per run
    os.makedirs(own)
    with serving("etcd", own, f"--workers={workers}") as (server, _):
        assert server.proc is not None
        answering(server.url, workers)
        req = urllib.request.Request(server.url + "/api/v1/namespaces/default/configmaps", method="POST",
                                     data=b'{"metadata":{"name":"one"},"data":{"k":"v"}}',
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()
        cpu0, m0 = tree_cpu(server.proc.pid), machine_busy()
        get_rate, get_p99 = wrk(server.url + "/api/v1/namespaces/default/configmaps/one", connections, seconds,
                                {"Accept": "application/json"})
        cpu1, m1 = tree_cpu(server.proc.pid), machine_busy()
        created = wrk_creates(server.url + "/api/v1/namespaces/default/configmaps", connections, seconds, script)
        cpu2, m2 = tree_cpu(server.proc.pid), machine_busy()
    return {"get": get_rate, "get_p99": get_p99, "get_cpu": (cpu1 - cpu0) / max(get_rate * seconds, 1) * 1e6,
            "create": created["rate"], "create_p99": created["p99"],
            "create_cpu": (cpu2 - cpu1) / max(created["rate"] * seconds, 1) * 1e6,
            "get_cores": (cpu1 - cpu0) / seconds, "create_cores": (cpu2 - cpu1) / seconds,
            "get_busy": busy_share(m0, m1), "create_busy": busy_share(m1, m2)}


def table(workers: tuple[int, ...] = (1, 2), seconds: float = 6, connections: int = 16) -> list[str]:
    tmp = tempfile.mkdtemp(prefix="kubeapi-bench-scaleout-")
    script = os.path.join(tmp, "post.lua")
    Path(script).write_text(LUA)
    rows = ["| workers | GET req/s | GET p99 ms | GET ratio | create/s | create p99 ms | create ratio |"
            " kubeapi CPU µs per GET / create | cores used by kubeapi, GET / create |"
            " cores busy on the machine, GET / create |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    base: dict[str, float] = {}
    try:
        for n in workers:
            got = measure(n, seconds, connections, tmp, script)
            base = base or got
            rows.append(f"| {n} | {got['get']:,.0f} | {got['get_p99']:.1f} | {got['get'] / base['get']:.2f} |"
                        f" {got['create']:,.0f} | {got['create_p99']:.1f} | {got['create'] / base['create']:.2f} |"
                        f" {got['get_cpu']:,.0f} / {got['create_cpu']:,.0f} |"
                        f" {got['get_cores']:.2f} / {got['create_cores']:.2f} |"
                        f" {got['get_busy']:.2f} / {got['create_busy']:.2f} of {os.cpu_count()} |")
            print(rows[-1], file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--connections", type=int, default=16)
    a = ap.parse_args()
    print_timed(lambda: table(tuple(int(w) for w in a.workers.split(",")), a.seconds, a.connections))


if __name__ == "__main__":
    main()
