"""Micro-benchmark of the embedded store alone (no HTTP): N creates one after another,
N concurrent creates (group commit), N gets, one LIST of N keys, a paged LIST, and
watch delivery latency; then paging through a big prefix (--big keys, kubectl's
limit=500): the first page, a page in the middle, the last page and a full unlimited
list.  Not a test: it prints numbers and asserts nothing.

    python bench/storage_embedded.py [--n 1000] [--big 20000] [--dir /path/on/real/disk]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twisted.internet import defer, task  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402

from kubeapi.storage.embedded import SQLiteStorage  # noqa: E402


def line(name: str, n: int, seconds: float) -> None:
    print(f"{name:<40} {n:>6}  {seconds * 1000:9.1f} ms  {n / seconds:10.0f} ops/s")


async def best_of(runs: int, fn: Callable[[], Awaitable[Any]]) -> float:
    """Fastest of ``runs`` timed calls (the least disturbed by the rest of the machine)."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t)
    return min(times)


async def bench_big(s: SQLiteStorage, big: int, value: bytes) -> None:
    """Paging through one prefix holding ``big`` keys (each written twice, so the log holds
    history too) next to a sibling prefix of the same size."""
    prefix = "/registry/configmaps/big/"
    keys = [f"{prefix}cm-{i:06d}" for i in range(big)]
    t = time.perf_counter()
    for other in ("/registry/configmaps/big-sibling/", None):
        for lo in range(0, big, 1000):
            chunk = keys[lo:lo + 1000] if other is None else [
                f"{other}cm-{i:06d}" for i in range(lo, min(lo + 1000, big))]
            kvs = await defer.gatherResults(
                [defer.ensureDeferred(s.create(k, value)) for k in chunk])
            if other is None:
                await defer.gatherResults([
                    defer.ensureDeferred(s.update(kv.key, value, kv.mod_revision)) for kv in kvs])
    print(f"(loaded {big} keys x2 revisions + {big} sibling keys"
          f" in {time.perf_counter() - t:.1f} s)")

    for name, after in (("first page", None), ("middle page", keys[big // 2]),
                        ("last page", keys[-250])):
        res = await s.list(prefix, limit=500, start_after=after)
        secs = await best_of(5, partial(s.list, prefix, limit=500, start_after=after))
        line(f"list limit=500, {name} (rem {res.remaining})", len(res.items), secs)
    res = await s.list(prefix)
    secs = await best_of(3, lambda: s.list(prefix))
    line(f"list {len(res.items)} keys, unlimited", len(res.items), secs)
    rev = res.revision
    secs = await best_of(5, lambda: s.list(prefix, revision=rev, limit=500,
                                           start_after=keys[big // 2]))
    line("list limit=500, middle, at revision", 500, secs)


async def bench(n: int, big: int, folder: str) -> None:
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
        if big:
            await bench_big(s, big, value)
    finally:
        await s.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--big", type=int, default=20000,
                    help="keys in the one big prefix for the paging numbers (0: skip)")
    ap.add_argument("--dir", default=None, help="folder for the database (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        task.react(lambda _r: Deferred.fromCoroutine(bench(args.n, args.big, folder)))


if __name__ == "__main__":
    main()
