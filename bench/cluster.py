"""A real cluster on kubeapi and on the Go kube-apiserver, side by side in one run.

    python bench/cluster.py [--nodes 10] [--replicas 100] [--servers kubeapi,reference] [--profile FILE]

For each server: a fresh single-member etcd, the server on it, the real kube-scheduler,
kube-controller-manager and kwok (from ``interop/build.sh``) with ``--nodes`` simulated
nodes.  Once the nodes are Ready and the leaders elected, one Deployment of ``--replicas``
is created and timed until ``status.availableReplicas`` reaches it (``kubectl rollout
status``).  Reported per server: that time, the API requests served meanwhile (from its
``apiserver_request_total``), requests per second, and the server's CPU seconds per pod
(user+system of its process, from /proc).  Everything shares the same CPUs.  Not a test.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.interop.cluster import BIN, Cluster, missing_reason  # noqa: E402
from tests.interop.reference import ReferenceServer  # noqa: E402
from tests.support.etcd import EtcdCluster  # noqa: E402
from tests.support.procstat import process_cpu_seconds  # noqa: E402

REQUESTS = re.compile(r'^apiserver_request_total\{[^}]*\} ([0-9.e+]+)$', re.M)


def requests_served(server: Any) -> float:
    if isinstance(server, ReferenceServer):
        text = server.metrics()
    else:
        with urllib.request.urlopen(server.url + "/metrics", timeout=30) as r:
            text = r.read().decode()
    return sum(float(v) for v in REQUESTS.findall(text))


def run_one(kind: str, nodes: int, replicas: int, profile: str = "") -> dict[str, Any]:
    etcd = EtcdCluster(1).start_blocking()
    server = ReferenceServer(etcd.endpoints) if kind == "reference" else None
    cluster = Cluster(etcd_servers=etcd.endpoints, nodes=nodes, server=server)
    cluster.cleanups.append(etcd.stop)
    try:
        t_start = time.monotonic()
        cluster.start()
        cluster.wait_ready(timeout=300)
        ready = time.monotonic() - t_start
        pid = cluster.server.proc.pid  # type: ignore[union-attr]
        cpu0, req0 = process_cpu_seconds(pid), requests_served(cluster.server)
        spy = None
        if profile and kind == "kubeapi":  # py-spy samples the server through the rollout
            spy = subprocess.Popen(["py-spy", "record", "-r", "100", "-f", "raw", "-o", profile,
                                    "--pid", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        cluster.kubectl("create", "deployment", "bench", "--image=nginx", f"--replicas={replicas}")
        cluster.kubectl("rollout", "status", "deployment/bench", "--timeout=900s", timeout=930)
        elapsed = time.monotonic() - t0
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        cpu1, req1 = process_cpu_seconds(pid), requests_served(cluster.server)
        available = cluster.get("deployment", "bench")["status"].get("availableReplicas")
        if available != replicas:
            raise RuntimeError(f"{kind}: {available}/{replicas} available after rollout status")
        return {"server": kind, "cluster_up_s": ready, "deployment_s": elapsed, "requests": req1 - req0,
                "rps": (req1 - req0) / elapsed, "cpu_s": cpu1 - cpu0, "cpu_ms_per_pod": 1000 * (cpu1 - cpu0) / replicas}
    except BaseException:
        cluster.keep_logs = True
        print(f"{kind}: failed; logs kept: {' '.join(cluster.log_paths())}", file=sys.stderr)
        raise
    finally:
        cluster.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--servers", default="kubeapi,reference")
    ap.add_argument("--profile", default="", help="py-spy raw profile of kubeapi during the rollout, to FILE")
    args = ap.parse_args()
    why = missing_reason()
    kinds = args.servers.split(",")
    if why is None and "reference" in kinds and not (BIN / "kube-apiserver").exists():
        why = f"kube-apiserver missing in {BIN}: run interop/build.sh"
    if why:
        sys.exit(f"bench/cluster.py: {why}")
    rows, failed = [], []
    for k in kinds:  # one server's failure is reported, and the other still runs
        try:
            rows.append(run_one(k, args.nodes, args.replicas, args.profile))
            print(f"{k}: {rows[-1]}", flush=True)
        except Exception as e:
            failed.append(f"{k}: did not converge: {str(e).splitlines()[-1][:300]}")
    print(f"\n{args.replicas}-replica Deployment on {args.nodes} kwok nodes (etcd, one member):")
    print(f"{'server':<10} {'cluster up':>11} {'available':>10} {'requests':>9} {'req/s':>7} {'CPU s':>7} "
          f"{'CPU ms/pod':>11}")
    for r in rows:
        print(f"{r['server']:<10} {r['cluster_up_s']:>10.1f}s {r['deployment_s']:>9.1f}s {r['requests']:>9.0f} "
              f"{r['rps']:>7.1f} {r['cpu_s']:>7.2f} {r['cpu_ms_per_pod']:>11.1f}")
    for line in failed:
        print(line)
    if len(rows) == 2:
        a, b = rows
        print(f"time ratio {a['server']}/{b['server']}: {a['deployment_s'] / b['deployment_s']:.2f}; "
              f"CPU per pod ratio: {a['cpu_ms_per_pod'] / max(b['cpu_ms_per_pod'], 1e-9):.2f}")


if __name__ == "__main__":
    main()
