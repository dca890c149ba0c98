"""kubeapi create throughput on etcd and on the embedded store, against raw etcd puts.

    python bench/backends.py [--n 2000] [--concurrency 16]

One etcd (``bench/run.py``'s ``start_etcd``: one member, default settings, fsync on) is
measured twice on the same machine:

1. raw put throughput: our own ``EtcdClient`` doing N puts with ``--concurrency`` in
   flight over its one HTTP/2 connection, in a child process (its own reactor, no GIL
   sharing with the HTTP load).  ``etcdctl check perf`` is not used: it drives a fixed
   target rate for 60 s and reports pass/fail, not the ceiling.
2. kubeapi on that etcd: N ConfigMap creates over ``--concurrency`` keep-alive HTTP/1.1
   connections (one thread each).

Then the same HTTP load against kubeapi on its embedded store.  Prints a table and each
create rate as a fraction of the raw put rate.  Not a test: it asserts only that creates
succeed.  Everything (etcd, servers, client threads) shares the same CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run import Conn, pct, start_etcd  # noqa: E402
from tests.e2e.harness import ServerProcess  # noqa: E402

VALUE = "x" * 200  # a ConfigMap of about 300 bytes stored, close to the raw put's value size


def raw_etcd_puts(url: str, n: int, concurrency: int) -> None:
    """N puts through EtcdClient, ``concurrency`` in flight; prints the result as one JSON
    line and exits (the child process's whole job: ``react`` ends the process)."""
    from twisted.internet import defer, task

    from kubeapi.storage.etcd.client import EtcdClient

    async def go(reactor: object) -> None:
        client = EtcdClient([url], reactor=reactor)
        value = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "raw", "namespace": "bench"},
                            "data": {"key": VALUE}}).encode()
        await client.put(b"/bench-raw/warmup", value)
        counter = iter(range(n))
        latencies: list[float] = []

        async def worker() -> None:
            for i in counter:
                s = time.perf_counter()
                await client.put(f"/bench-raw/k-{i:06d}".encode(), value)
                latencies.append(time.perf_counter() - s)

        t0 = time.perf_counter()
        await defer.gatherResults([defer.Deferred.fromCoroutine(worker()) for _ in range(concurrency)])
        elapsed = time.perf_counter() - t0
        await client.close()
        ms = [x * 1000 for x in latencies]
        print(json.dumps({"n": n, "seconds": elapsed, "rate": n / elapsed, "p50": pct(ms, 0.5),
                          "p99": pct(ms, 0.99)}), flush=True)

    task.react(lambda reactor: defer.Deferred.fromCoroutine(go(reactor)))


def measure_raw(url: str, n: int, concurrency: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--raw-etcd", url, "--n", str(n),
                          "--concurrency", str(concurrency)],
                         capture_output=True, text=True, timeout=600, cwd=str(REPO))
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not line:
        raise RuntimeError(f"raw etcd put run failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(line[-1])  # type: ignore[no-any-return]


def http_creates(server: ServerProcess, n: int, concurrency: int) -> dict[str, float]:
    """N ConfigMap creates, ``concurrency`` keep-alive connections, one thread each."""
    ns = "bench"
    code, body = Conn(server.insecure_port).request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    assert code in (201, 409), (code, body)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    counter = iter(range(n))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[tuple[int, bytes]] = []

    def worker() -> None:
        conn = Conn(server.insecure_port)
        conn.request("GET", path + "?limit=1")  # open the keep-alive connection before timing
        start.wait()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            s = time.perf_counter()
            code, body = conn.request("POST", path, {"metadata": {"name": f"cm-{i:06d}"}, "data": {"key": VALUE}})
            took = time.perf_counter() - s
            with lock:
                latencies.append(took)
                if code != 201:
                    failures.append((code, body[:200]))

    start = threading.Event()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t0 = time.perf_counter()
    start.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{len(failures)} creates failed, first: {failures[0]}")
    ms = [x * 1000 for x in latencies]
    return {"n": n, "seconds": elapsed, "rate": n / elapsed, "p50": pct(ms, 0.5), "p99": pct(ms, 0.99)}


def row(name: str, r: dict[str, float], raw_rate: float) -> str:
    return (f"| {name} | {int(r['n'])} | {r['seconds']:.2f} | {r['rate']:,.0f}/s | {r['p50']:.2f} | "
            f"{r['p99']:.2f} | {r['rate'] / raw_rate:.1%} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--raw-etcd", help=argparse.SUPPRESS)  # internal: the child process's job
    a = ap.parse_args()
    if a.raw_etcd:
        raw_etcd_puts(a.raw_etcd, a.n, a.concurrency)
        return

    tmp = tempfile.mkdtemp(prefix="kubeapi-bench-backends-")
    etcd, url = start_etcd(tmp)
    servers: list[ServerProcess] = []
    try:
        raw = measure_raw(url, a.n, a.concurrency)
        on_etcd = ServerProcess(etcd_servers=[url])
        servers.append(on_etcd)
        on_etcd.start()
        etcd_creates = http_creates(on_etcd, a.n, a.concurrency)
        on_etcd.cleanup()
        embedded = ServerProcess()
        servers.append(embedded)
        embedded.start()
        embedded_creates = http_creates(embedded, a.n, a.concurrency)
    finally:
        for s in servers:
            s.cleanup()
        etcd.terminate()
        etcd.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{os.cpu_count()} CPUs shared by etcd, kubeapi and the load; {a.concurrency} in flight\n")
    print("| what | count | seconds | throughput | p50 ms | p99 ms | of raw etcd puts |")
    print("|---|---|---|---|---|---|---|")
    print(row("raw etcd put (EtcdClient, one h2 connection)", raw, raw["rate"]))
    print(row("kubeapi create configmap, etcd backend", etcd_creates, raw["rate"]))
    print(row("kubeapi create configmap, embedded store", embedded_creates, raw["rate"]))
    print(f"\nkubeapi on etcd creates at {etcd_creates['rate'] / raw['rate']:.1%} of raw etcd put throughput")


if __name__ == "__main__":
    main()
