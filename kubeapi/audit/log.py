"""The log backend: events as JSON lines (or the legacy format) in a file or on stdout.

All file I/O happens on one writer thread fed by a bounded queue, so the reactor never waits
on a disk.  Rotation follows lumberjack's scheme: when a write would pass ``maxsize`` MB the
file is renamed to ``name-2006-01-02T15-04-05.000.ext`` (UTC), optionally gzipped, and old
backups are pruned by count (``maxbackup``) and age (``maxage`` days).
"""

from __future__ import annotations

import glob
import gzip
import logging
import os
import queue
import shutil
import sys
import threading
import time
from datetime import UTC, datetime
from typing import IO, Any

from twisted.internet import defer

log = logging.getLogger(__name__)
MB = 1024 * 1024
_STOP = object()


class RotatingFile:
    """Append-only writer with size-based rotation; used from the writer thread only."""

    def __init__(self, path: str, maxsize_mb: int = 0, maxbackup: int = 0, maxage_days: int = 0,
                 compress: bool = False, max_bytes: int | None = None) -> None:
        self.path = path
        self.maxsize = max_bytes if max_bytes is not None else maxsize_mb * MB
        self.maxbackup = maxbackup
        self.maxage = maxage_days
        self.compress = compress
        self._f: IO[bytes] | None = None
        self._size = 0

    def _open(self) -> IO[bytes]:
        if self._f is None:
            d = os.path.dirname(self.path)
            if d:
                os.makedirs(d, mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._f = os.fdopen(fd, "ab")
            self._size = os.fstat(fd).st_size
        return self._f

    def write(self, data: bytes) -> None:
        f = self._open()
        if self.maxsize and self._size + len(data) > self.maxsize and self._size > 0:
            self.rotate()
            f = self._open()
        f.write(data)
        f.flush()
        self._size += len(data)

    def backup_name(self, when: datetime) -> str:
        base, ext = os.path.splitext(self.path)
        stamp = when.strftime("%Y-%m-%dT%H-%M-%S.") + f"{when.microsecond // 1000:03d}"
        return f"{base}-{stamp}{ext}"

    def rotate(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        name = self.backup_name(datetime.now(UTC))
        n = 1
        while os.path.exists(name) or os.path.exists(name + ".gz"):  # two rotations in one ms
            time.sleep(0.001)
            name = self.backup_name(datetime.now(UTC))
            n += 1
        os.rename(self.path, name)
        if self.compress:
            with open(name, "rb") as src, gzip.open(name + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.chmod(name + ".gz", 0o600)
            os.remove(name)
        self._prune()

    def backups(self) -> list[str]:
        base, ext = os.path.splitext(self.path)
        found = glob.glob(glob.escape(base) + "-????-??-??T??-??-??.???" + glob.escape(ext))
        found += glob.glob(glob.escape(base) + "-????-??-??T??-??-??.???" + glob.escape(ext) + ".gz")
        return sorted(found, reverse=True)  # newest first: the stamp sorts as time

    def _prune(self) -> None:
        old = self.backups()
        doomed: list[str] = []
        if self.maxbackup > 0:
            doomed += old[self.maxbackup:]
        if self.maxage > 0:
            cutoff = time.time() - self.maxage * 86400
            doomed += [p for p in old if os.path.getmtime(p) < cutoff]
        for p in set(doomed):
            try:
                os.remove(p)
            except OSError:
                pass

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


class StdoutSink:
    def write(self, data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    def close(self) -> None:
        return None


class WriterThread:
    """The one thread that writes; ``submit`` never blocks the caller.

    Each item is (data, deferred-or-None); a deferred fires on the reactor once its data is
    written (or errbacks with the OSError).  Queued items are grouped into one write of up to
    ``max_lines`` lines / ``max_bytes`` bytes, waiting up to ``max_wait`` seconds to fill a
    group, and optionally paced by a token bucket (``qps``/``burst``, groups per second).
    """

    def __init__(self, sink: Any, reactor: Any, capacity: int = 10000, max_lines: int = 1,
                 max_bytes: int = 0, max_wait: float = 0.0, qps: float = 0.0, burst: int = 0,
                 on_error: Any = None) -> None:
        self.sink = sink
        self.reactor = reactor
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self.max_lines = max(1, max_lines)
        self.max_bytes = max_bytes
        self.max_wait = max_wait
        self.qps, self.burst = qps, max(1, burst)
        self.on_error = on_error
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="audit-log-writer", daemon=True)
        self._thread.start()

    def submit(self, data: bytes, want_done: bool) -> defer.Deferred[None] | None:
        """Queue ``data``; returns a Deferred when ``want_done``.  Raises queue.Full when full."""
        d: defer.Deferred[None] | None = defer.Deferred() if want_done else None
        self.queue.put_nowait((data, d))
        return d

    def _write(self, group: list[Any]) -> None:
        data = b"".join(g[0] for g in group)
        err: BaseException | None = None
        try:
            self.sink.write(data)
        except OSError as e:
            err = e
        if err is not None and self.on_error is not None:
            self.reactor.callFromThread(self.on_error, len(group), err)
        for _, d in group:
            if d is not None:
                if err is None:
                    self.reactor.callFromThread(d.callback, None)
                else:
                    self.reactor.callFromThread(d.errback, err)

    def _run(self) -> None:
        tokens = float(self.burst)
        last = time.monotonic()
        while True:
            group = self._take_group()
            if group and group[0] is _STOP:
                break
            stopping = self._stopping
            if self.qps > 0:
                now = time.monotonic()
                tokens = min(float(self.burst), tokens + (now - last) * self.qps)
                last = now
                if tokens < 1:
                    time.sleep((1 - tokens) / self.qps)
                    tokens = 1.0
                    last = time.monotonic()
                tokens -= 1
            self._write(group)
            if stopping:
                break
        self.sink.close()

    def _take_group(self) -> list[Any]:
        first = self.queue.get()
        if first is _STOP:
            return [first]
        group = [first]
        size = len(first[0])
        deadline = time.monotonic() + self.max_wait
        while len(group) < self.max_lines:
            timeout = deadline - time.monotonic()
            if self.max_bytes and size >= self.max_bytes:
                break
            try:
                item = self.queue.get(timeout=timeout) if timeout > 0 else self.queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._stopping = True  # ends the thread after this group is written
                break
            group.append(item)
            size += len(item[0])
        return group

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the thread (called at shutdown, off the hot path)."""
        self.queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
