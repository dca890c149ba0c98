"""LIST of N ConfigMaps beside its baseline: the time orjson alone takes to serialise the
very list kubeapi answered (the floor for a server that has the objects in memory), and
a bare twisted.web resource answering the same bytes over the same kind of connection
(the floor once the HTTP exchange and the client's read are counted).

    python bench/listing.py [--n 1000] [--backend embedded,etcd] [--reps 30]

Rows for a plain LIST (a consistent read) and for `resourceVersion=0` (any recent state;
served from the watch cache on etcd), sequential requests over one keep-alive connection;
the client parses each answer before it asks again, for both servers.  Beside the times, each
server's own CPU per request.
Not a test: it asserts only that every item came back.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import Conn, pct, serving  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.procstat import process_cpu_seconds  # noqa: E402


def _timed(conn: Conn, path: str, n: int, reps: int, pid: int) -> tuple[list[float], bytes, float]:
    """(seconds per request, the last body, the server's CPU seconds per request)."""
    samples, body = [], b""
    conn.request("GET", path)  # warm: the first LIST after the creates encodes every item
    cpu = process_cpu_seconds(pid)
    for _ in range(reps):
        s = time.perf_counter()
        code, body = conn.request("GET", path)
        samples.append(time.perf_counter() - s)
        if code != 200 or len(orjson.loads(body)["items"]) != n:
            raise SystemExit(f"LIST {path}: {code} {body[:200]!r}")
    return samples, body, (process_cpu_seconds(pid) - cpu) / reps


def bare_fetches(body: bytes, reps: int) -> tuple[list[float], float]:
    """The same GET, timed the same way, from a bare twisted.web resource answering with these
    bytes (bench/bare.py): what the HTTP exchange itself costs, in the client too."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "body")
        path.write_bytes(body)
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("bare.py")), str(port), str(path),
                                 "application/json"])
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            conn = Conn(port)
            samples = []
            cpu = process_cpu_seconds(proc.pid)
            for _ in range(reps):
                s = time.perf_counter()
                code, got = conn.request("GET", "/")
                samples.append(time.perf_counter() - s)
                assert code == 200 and got == body
                orjson.loads(got)  # the client's work between requests, as for kubeapi
            return samples, (process_cpu_seconds(proc.pid) - cpu) / reps
        finally:
            proc.terminate()
            proc.wait(10)


def measure(backend: str, n: int, reps: int) -> list[str]:
    rows = []
    with serving(backend, tempfile.mkdtemp(prefix="kubeapi-bench-list-")) as (server, _):
        conn = Conn(server.insecure_port)
        base = "/api/v1/namespaces/default/configmaps"
        for i in range(n):
            conn.request("POST", base, {"metadata": {"name": f"cm-{i:05d}", "labels": {"i": str(i % 10)}},
                                        "data": {"key": "x" * 64}})
        assert server.proc is not None
        for label, query in (("LIST", ""), ("LIST resourceVersion=0", "?resourceVersion=0")):
            samples, body, cpu = _timed(conn, base + query, n, reps, server.proc.pid)
            parsed = orjson.loads(body)
            floor = []
            for _ in range(reps):
                s = time.perf_counter()
                orjson.dumps(parsed)
                floor.append(time.perf_counter() - s)
            ours, theirs = statistics.median(samples) * 1e3, statistics.median(floor) * 1e3
            bare_samples, bare_cpu = bare_fetches(body, reps)
            bare = statistics.median(bare_samples) * 1e3
            rows.append(f"| {label} {n} configmaps, {backend} | {ours:.2f} | {pct([x * 1e3 for x in samples], 0.99):.2f}"
                        f" | {cpu * 1e3:.2f} | {theirs:.3f} | {ours / theirs:.1f}× | {bare:.2f} | {ours / bare:.1f}×"
                        f" | {bare_cpu * 1e3:.2f} |")
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def table(n: int = 1000, backends: tuple[str, ...] = ("embedded", "etcd"), reps: int = 30) -> list[str]:
    rows = ["| case | kubeapi median ms | kubeapi p99 ms | kubeapi CPU ms | orjson.dumps ms | ratio |"
            " bare twisted.web, same bytes, median ms | ratio to bare | bare CPU ms |",
            "|---|---|---|---|---|---|---|---|---|"]
    for b in backends:
        rows += measure(b, n, reps)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--backend", default="embedded,etcd")
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    for line in table(a.n, tuple(a.backend.split(",")), a.reps):
        print(line)


if __name__ == "__main__":
    main()
