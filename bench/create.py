"""Creates, side by side with their baselines, in one run:

- kubeapi on its embedded store against the embedded store alone (SQLiteStorage.create of the
  same stored bytes, the same number in flight, in its own process);
- kubeapi on etcd against raw etcd puts through our own client at the same concurrency
  (`bench/backends.py`'s child process).

HTTP load comes from wrk in another process (`-c` connections, each one create in flight).

    python bench/create.py [--seconds 6] [--concurrency 16] [--backend embedded,etcd]

Not a test: it asserts nothing but that the creates succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.backends import VALUE, measure_raw  # noqa: E402
from bench.run import print_timed, serving  # noqa: E402
from tests.support.procstat import process_cpu_seconds  # noqa: E402

LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"metadata":{"name":"cm-' .. wrk.thread_id .. '-' .. counter .. '"},"data":{"key":"VALUE"}}'
  return wrk.format("POST", nil, {["Content-Type"]="application/json"}, body)
end
setup = function(thread) thread:set("id", math.random(1000000000)) end
init = function() wrk.thread_id = id end
""".replace("VALUE", VALUE)


def wrk_creates(url: str, connections: int, seconds: float, script: str) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None or "Non-2xx" in out:
        raise SystemExit(f"wrk: creates failed\n{out}")
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return {"rate": float(rate.group(1)), "p99": float(p99.group(1)) * scale[p99.group(2)] if p99 else 0.0}


def embedded_alone(n: int, concurrency: int) -> dict[str, float]:
    """The embedded store's own create rate for values like kubeapi stores, in a child process."""
    code = f"""
import json, sys, tempfile, time
sys.path.insert(0, {str(REPO)!r})
from twisted.internet import defer, task
from kubeapi.storage.embedded import SQLiteStorage
async def go(reactor):
    d = tempfile.mkdtemp()
    s = SQLiteStorage(d + "/db.sqlite", reactor=reactor)
    await s.open()
    value = json.dumps({{"kind": "ConfigMap", "apiVersion": "v1", "metadata": {{"name": "cm-x",
        "namespace": "default", "uid": "7264a31d-1f3d-4e95-b5d0-ee51da1d02d5",
        "creationTimestamp": "2026-12-03T12:00:00Z"}}, "data": {{"key": {VALUE!r}}}}}).encode()
    counter = iter(range({n}))
    async def worker():
        for i in counter:
            await s.create(f"/registry/configmaps/default/cm-{{i}}", value)
    t0 = time.perf_counter()
    await defer.gatherResults([defer.Deferred.fromCoroutine(worker()) for _ in range({concurrency})])
    print(json.dumps({{"rate": {n} / (time.perf_counter() - t0)}}))
    await s.close()
task.react(lambda r: defer.Deferred.fromCoroutine(go(r)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(backend: str, seconds: float, concurrency: int, tmp: str, script: str) -> str:
    with serving(backend, tmp) as (server, url):
        assert server.proc is not None
        before = process_cpu_seconds(server.proc.pid)
        got = wrk_creates(server.url + "/api/v1/namespaces/default/configmaps", concurrency, seconds, script)
        cpu_us = (process_cpu_seconds(server.proc.pid) - before) / max(got["rate"] * seconds, 1) * 1e6
        if backend == "etcd":
            base, base_name = measure_raw(url, 3000, concurrency)["rate"], "raw etcd puts (our client)"
        else:
            base, base_name = embedded_alone(3000, concurrency)["rate"], "embedded store alone"
    return (f"| create configmap, {backend} | {concurrency} | {got['rate']:,.0f}/s | {got['p99']:.1f} |"
            f" {cpu_us:,.0f} | {base_name} {base:,.0f}/s | {got['rate'] / base:.2f} |")


def table(seconds: float = 6, concurrency: int = 16, backends: tuple[str, ...] = ("embedded", "etcd")) -> list[str]:
    tmp = tempfile.mkdtemp(prefix="kubeapi-bench-create-")
    script = os.path.join(tmp, "post.lua")
    Path(script).write_text(LUA)
    rows = ["| case | in flight | kubeapi | p99 ms | kubeapi CPU µs/create | baseline | ratio |",
            "|---|---|---|---|---|---|---|"]
    try:
        for b in backends:
            rows.append(measure(b, seconds, concurrency, tmp, script))
            print(rows[-1], file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--backend", default="embedded,etcd")
    a = ap.parse_args()
    print_timed(lambda: table(a.seconds, a.concurrency, tuple(a.backend.split(","))))


if __name__ == "__main__":
    main()
