"""Watch fan-out through the watch cache over the embedded store (no HTTP): W client
watches on one resource, N writes, every event delivered to every watcher.  Prints the
total time until the last watcher has the last event and the per-event latency (from
the write being issued to a watcher receiving it).  Not a test: it asserts nothing
beyond counting what arrived.

    python bench/watch_fanout.py [--watchers 1000] [--writes 1000] [--concurrent] [--no-cache]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twisted.internet import defer, task  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402

from bench.run import pct  # noqa: E402
from kubeapi.storage.cache import WatchCache  # noqa: E402
from kubeapi.storage.embedded import SQLiteStorage  # noqa: E402
from kubeapi.storage.interface import Event, Storage, StorageError  # noqa: E402

PREFIX = "/registry/configmaps/"



class Receiver:
    """One client watch: records how long each event took to reach it."""

    def __init__(self, sent: dict[str, float], latencies: list[float], done: Deferred[None],
                 expected: int) -> None:
        self.sent = sent
        self.latencies = latencies
        self.done = done
        self.expected = expected
        self.count = 0
        self.errors: list[StorageError] = []

    def on_events(self, events: Sequence[Event]) -> None:
        now = time.perf_counter()
        for e in events:
            self.latencies.append(now - self.sent[e.kv.key])
        self.count += len(events)
        if self.count >= self.expected and not self.done.called:
            self.done.callback(None)

    def on_error(self, err: StorageError) -> None:
        self.errors.append(err)
        if not self.done.called:
            self.done.callback(None)


async def bench(watchers: int, writes: int, concurrent: bool, folder: str, capacity: int,
                use_cache: bool) -> None:
    backend = SQLiteStorage(os.path.join(folder, "fanout.db"))
    await backend.open()
    cache: Storage = backend
    if use_cache:
        cache = WatchCache(backend, [PREFIX], capacity=capacity)
        await cache.start()
    value = b'{"kind":"ConfigMap","data":{"k":"' + b"v" * 400 + b'"}}'
    sent: dict[str, float] = {}
    latencies: list[float] = []
    receivers = []
    try:
        for i in range(watchers):
            done: Deferred[None] = Deferred()
            r = Receiver(sent, latencies, done, writes)
            prefix = PREFIX if i % 2 == 0 else PREFIX + "bench/"
            await cache.watch(prefix, 0, r.on_events, r.on_error)
            receivers.append(r)
        await task.deferLater(_reactor(), 0, lambda: None)  # let the watches go live
        keys = [f"{PREFIX}bench/cm-{i:06d}" for i in range(writes)]
        t0 = time.perf_counter()
        if concurrent:
            ds = []
            for key in keys:
                sent[key] = time.perf_counter()
                ds.append(defer.ensureDeferred(cache.create(key, value)))
            await defer.gatherResults(ds, consumeErrors=True)
        else:
            for key in keys:
                sent[key] = time.perf_counter()
                await cache.create(key, value)
        t_written = time.perf_counter() - t0
        await defer.gatherResults([r.done for r in receivers], consumeErrors=True)
        total = time.perf_counter() - t0
        errors = sum(len(r.errors) for r in receivers)
        got = sum(r.count for r in receivers)
        ms = [x * 1000 for x in latencies]
        mode = "concurrent" if concurrent else "sequential"
        via = f"the watch cache (capacity {capacity})" if use_cache else "backend watches (no cache)"
        print(f"watch fan-out via {via}, embedded store, {mode} writes")
        print(f"  watchers {watchers}, writes {writes}, deliveries {got} "
              f"(expected {watchers * writes}), watchers cut off {errors}")
        print(f"  writes done in {t_written * 1000:.0f} ms; all delivered in {total * 1000:.0f} ms "
              f"({got / total:,.0f} deliveries/s)")
        if ms:
            print(f"  per-event latency: p50 {pct(ms, 0.5):.2f} ms, p99 {pct(ms, 0.99):.2f} ms, "
                  f"max {max(ms):.2f} ms")
    finally:
        await cache.close()


def _reactor() -> Any:
    from twisted.internet import reactor
    return reactor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--writes", type=int, default=1000)
    ap.add_argument("--capacity", type=int, default=1024)
    ap.add_argument("--concurrent", action="store_true", help="issue all writes at once")
    ap.add_argument("--no-cache", action="store_true", help="watch the store directly, for comparison")
    ap.add_argument("--dir", default=None, help="where the database goes (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        task.react(lambda _r: Deferred.fromCoroutine(
            bench(args.watchers, args.writes, args.concurrent, folder, args.capacity,
                  not args.no_cache)))


if __name__ == "__main__":
    main()
