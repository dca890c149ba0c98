"""kubeapi benchmarks: the hot paths, measured against a real server process.

    python bench/run.py --all          every figure the README quotes, each beside its baseline
    python bench/run.py [--backend embedded|etcd|both] [--n 1000]   the sequential table below

`--all` runs, in one go on this machine: GET against a bare twisted.web resource
(`bench/get.py`), creates against the storage underneath (`bench/create.py`), LIST against
orjson alone (`bench/listing.py`), watch fan-out (`bench/watch_http.py` when present),
start-up (`bench/start.py`), GET and create against the Go kube-apiserver
(`bench/reference.py`, when interop/build.sh has built it) and `--workers 2` against one
process (`bench/scaleout.py`); each prints its ratio.  The sequential table:

Runs the server as users do (`twistd -n kubeapi` on loopback), then drives it over
keep-alive HTTP/1.1 from this process: create N configmaps, GET one object, LIST N
configmaps, and watch delivery latency (time from a write's response to the event on an
open watch).  Prints a table; the README quotes it.  Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import ServerProcess, free_port  # noqa: E402


class Conn:
    def __init__(self, port: int) -> None:
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self.c.request(method, path, body=data, headers=headers)
        r = self.c.getresponse()
        return r.status, r.read()


def print_timed(rows: Callable[[], list[str]]) -> None:
    """A bench's table on stdout, then how long it took."""
    t0 = time.monotonic()
    for line in rows():
        print(line)
    print(f"\n({time.monotonic() - t0:.0f} s)")


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))] if s else float("nan")


def row(name: str, samples: list[float], total: float | None = None) -> str:
    ms = [x * 1000 for x in samples]
    rate = f"{len(samples) / total:,.0f}/s" if total else ""
    return (f"| {name} | {len(samples)} | {statistics.mean(ms):.2f} | {pct(ms, 0.5):.2f} | "
            f"{pct(ms, 0.99):.2f} | {rate} |")


def start_etcd(tmp: str) -> tuple[subprocess.Popen[bytes], str]:
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    proc = subprocess.Popen(
        ["etcd", "--data-dir", os.path.join(tmp, "etcd"), "--listen-client-urls", url,
         "--advertise-client-urls", url, "--listen-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"default=http://127.0.0.1:{peer}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", client), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, url


@contextlib.contextmanager
def serving(backend: str, tmp: str, *extra: str) -> Iterator[tuple[ServerProcess, str]]:
    """A started kubeapi on `backend` (its own one-member etcd for "etcd"), stopped after;
    yields the server and the etcd URL ("" for the embedded store)."""
    etcd, url = start_etcd(tmp) if backend == "etcd" else (None, "")
    server = ServerProcess(*([f"--etcd-servers={url}"] if etcd else []), *extra)
    try:
        server.start()
        yield server, url
    finally:
        server.cleanup()
        if etcd is not None:
            etcd.terminate()
            etcd.wait(10)


def bench(backend: str, n: int) -> list[str]:
    tmp = tempfile.mkdtemp(prefix="kubeapi-bench-")
    out: list[str] = []
    with serving(backend, tmp) as (server, _):
        ns = "bench"
        c = Conn(server.insecure_port)
        c.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
        base = f"/api/v1/namespaces/{ns}/configmaps"

        # create
        lat = []
        t0 = time.perf_counter()
        for i in range(n):
            s = time.perf_counter()
            code, _ = c.request("POST", base, {"metadata": {"name": f"cm-{i:05d}", "labels": {"i": str(i % 10)}},
                                               "data": {"key": "x" * 64}})
            lat.append(time.perf_counter() - s)
            assert code == 201, code
        out.append(row("create configmap", lat, time.perf_counter() - t0))

        # get
        lat = []
        t0 = time.perf_counter()
        for i in range(n):
            s = time.perf_counter()
            code, _ = c.request("GET", f"{base}/cm-{i % n:05d}")
            lat.append(time.perf_counter() - s)
        out.append(row("get configmap", lat, time.perf_counter() - t0))

        # list
        lat = []
        t0 = time.perf_counter()
        for _ in range(20):
            s = time.perf_counter()
            code, body = c.request("GET", base)
            lat.append(time.perf_counter() - s)
            assert code == 200 and len(json.loads(body)["items"]) == n
        out.append(row(f"list {n} configmaps", lat, time.perf_counter() - t0))

        # watch delivery latency
        wc = http.client.HTTPConnection("127.0.0.1", server.insecure_port, timeout=30)
        wc.request("GET", f"{base}?watch=1&labelSelector=w%3D1")
        resp = wc.getresponse()
        arrivals: dict[str, float] = {}
        done = threading.Event()

        def reader() -> None:
            while len(arrivals) < 200:
                line = resp.readline()
                if not line:
                    break
                ev = json.loads(line)
                arrivals[ev["object"]["metadata"]["name"]] = time.perf_counter()
            done.set()

        threading.Thread(target=reader, daemon=True).start()
        time.sleep(0.3)
        sent: dict[str, float] = {}
        for i in range(200):
            name = f"w-{i:04d}"
            sent[name] = time.perf_counter()  # from the write's request to the event on the watch
            code, _ = c.request("POST", base, {"metadata": {"name": name, "labels": {"w": "1"}}})
        done.wait(30)
        lat = [max(0.0, arrivals[k] - sent[k]) for k in sent if k in arrivals]
        out.append(row("watch delivery (write sent → event read)", lat))
        wc.close()

        from bench import crd_apply

        out.extend(crd_apply.rows(server.insecure_port))
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def _watch_rows() -> list[str]:
    script = Path(__file__).with_name("watch_http.py")
    out = subprocess.run([sys.executable, str(script), "--watchers", "0,1000", "--writes", "10"],
                         capture_output=True, text=True, timeout=900)
    return [line for line in out.stdout.splitlines() if line.startswith("|")] or [f"(failed: {out.stderr[-300:]})"]


def run_all() -> None:
    from bench import create, get, listing, reference, scaleout, start

    sections: list[tuple[str, Any]] = [
        ("GET one ConfigMap: kubeapi vs a bare twisted.web resource serving the same bytes (wrk)",
         lambda: get.table(5, (1, 16), tls=True, protobuf=True)),
        ("Creates at 16 in flight (wrk) vs the storage below", lambda: create.table(6, 16)),
        ("LIST 1,000 ConfigMaps vs orjson.dumps of the same list", lambda: listing.table(1000)),
        ("Start-up on the embedded store", lambda: start.table(10000)),
        ("kubeapi beside the Go kube-apiserver v1.34.4, each on its own etcd (wrk)",
         lambda: reference.table(5, 16)),
        ("Scale-out on one etcd: --workers 2 vs one process, 16 connections (wrk)",
         lambda: scaleout.table((1, 2), 6, 16)),
    ]
    sections.insert(3, ("Watch fan-out over HTTP: PATCH acknowledgement and delivery, 0 and 1,000 watchers "
                        "(`bench/watch_http.py --watchers 0,1000 --writes 10`)", _watch_rows))
    t0 = time.monotonic()
    print(f"kubeapi benchmarks, {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    for title, run in sections:
        print(f"\n### {title}\n", flush=True)
        for line in run():
            print(line, flush=True)
    print(f"\n(all in {time.monotonic() - t0:.0f} s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="embedded", choices=["embedded", "etcd", "both"])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--audit", action="store_true", help="also run bench/audit.py (GET latency, audit off vs on)")
    ap.add_argument("--all", action="store_true", help="every README figure with its baseline and ratio")
    a = ap.parse_args()
    if a.all:
        run_all()
        return
    backends = ["embedded", "etcd"] if a.backend == "both" else [a.backend]
    for b in backends:
        print(f"\n### backend: {b}\n")
        print("| operation | count | mean ms | p50 ms | p99 ms | throughput |")
        print("|---|---|---|---|---|---|")
        for line in bench(b, a.n):
            print(line)
    if a.audit:
        from bench import audit

        print("\n### audit: GET latency, audit off vs. Metadata level to a file\n")
        for line in audit.table(a.n):
            print(line)


if __name__ == "__main__":
    main()
