"""Micro-benchmark of the embedded store alone (no HTTP): N creates one after another,
N concurrent creates (group commit), N gets, one LIST of N keys, a paged LIST, and
watch delivery latency.  Not a test: it prints numbers and asserts nothing.

    python bench/storage_embedded.py [--n 1000] [--dir /path/on/real/disk]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twisted.internet import defer, task  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402

from kubeapi.storage.embedded import SQLiteStorage  # noqa: E402


def line(name: str, n: int, seconds: float) -> None:
    print(f"{name:<34} {n:>6}  {seconds * 1000:9.1f} ms  {n / seconds:10.0f} ops/s")


async def bench(n: int, folder: str) -> None:
    s = SQLiteStorage(os.path.join(folder, "bench.db"))
    await s.open()
    value = b'{"kind":"ConfigMap","data":{"k":"' + b"v" * 400 + b'"}}'
    try:
        t = time.perf_counter()
        for i in range(n):
            await s.create(f"/registry/configmaps/seq/cm-{i:06d}", value)
        line("create, sequential", n, time.perf_counter() - t)

        t = time.perf_counter()
        c0 = s.commits
        await defer.gatherResults([
            defer.ensureDeferred(s.create(f"/registry/configmaps/par/cm-{i:06d}", value))
            for i in range(n)])
        line(f"create, concurrent ({s.commits - c0} commits)", n, time.perf_counter() - t)

        t = time.perf_counter()
        for i in range(n):
            await s.get(f"/registry/configmaps/seq/cm-{i:06d}")
        line("get, sequential", n, time.perf_counter() - t)

        t = time.perf_counter()
        res = await s.list("/registry/configmaps/seq/")
        line(f"list {len(res.items)} keys", 1, time.perf_counter() - t)

        t = time.perf_counter()
        res = await s.list("/registry/configmaps/", limit=500)
        line("list limit=500 (of 2N, +remaining)", 1, time.perf_counter() - t)

        got: list[float] = []
        sent: dict[str, float] = {}

        def on_events(events: Any) -> None:
            now = time.perf_counter()
            for e in events:
                got.append(now - sent[e.kv.key])

        w = await s.watch("/registry/configmaps/w/", 0, on_events, lambda e: None)
        for i in range(200):
            key = f"/registry/configmaps/w/cm-{i}"
            sent[key] = time.perf_counter()
            await s.create(key, value)
        w.stop()
        got.sort()
        if got:
            print(f"{'watch latency (write start→event)':<34} p50 {got[len(got) // 2] * 1000:.2f} ms"
                  f"  p99 {got[int(len(got) * 0.99)] * 1000:.2f} ms")
    finally:
        await s.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--dir", default=None, help="folder for the database (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        task.react(lambda _r: Deferred.fromCoroutine(bench(args.n, folder)))


if __name__ == "__main__":
    main()
