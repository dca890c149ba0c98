"""The log backend's file handling (rotation, gzip, pruning, modes) and the batch/blocking modes."""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import sys
import tempfile
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry
from twisted.internet import defer, task
from twisted.trial import unittest

from kubeapi.audit.auditor import AuditMetrics, LogBackend, make_log_backend
from kubeapi.audit.batch import TRUNCATED, Truncator
from kubeapi.audit.log import RotatingFile, StdoutSink, WriterThread
from tests.audit.helpers import read_events
from tests.server.support import reactor

BACKUP = re.compile(r"^audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log(\.gz)?$")


def ev(i: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": f"id-{i}", "stage": "ResponseComplete",
            "verb": "get", "requestURI": "/", "user": {}, "requestReceivedTimestamp": "2026-01-01T00:00:00.000000Z",
            **extra}


def counter(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels or None) or 0.0


class Rotation(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="kubeapi-auditlog-")
        self.path = os.path.join(self.dir, "audit.log")

    def test_rotates_with_lumberjack_names_and_keeps_every_line(self) -> None:
        f = RotatingFile(self.path, max_bytes=1000)
        for i in range(100):
            f.write(f'{{"auditID":"id-{i}","pad":"{"x" * 60}"}}\n'.encode())
        f.close()
        names = sorted(os.listdir(self.dir))
        backups = [n for n in names if n != "audit.log"]
        self.assertGreater(len(backups), 5)
        for n in backups:
            self.assertRegex(n, BACKUP)
            self.assertLessEqual(os.path.getsize(os.path.join(self.dir, n)), 1000)
        self.assertEqual([e["auditID"] for e in read_events(self.path)], [f"id-{i}" for i in range(100)])
        for n in names:
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.dir, n)).st_mode), 0o600)

    def test_compress_and_maxbackup(self) -> None:
        f = RotatingFile(self.path, max_bytes=300, maxbackup=2, compress=True)
        for i in range(40):
            f.write(f'{{"auditID":"id-{i}","pad":"{"y" * 40}"}}\n'.encode())
        f.close()
        backups = sorted(n for n in os.listdir(self.dir) if n != "audit.log")
        self.assertEqual(len(backups), 2)
        for n in backups:
            self.assertTrue(n.endswith(".log.gz"), n)
            gzip.open(os.path.join(self.dir, n)).read()  # real gzip
        ids = [e["auditID"] for e in read_events(self.path)]
        self.assertEqual(ids[-1], "id-39")
        self.assertNotIn("id-0", ids)  # pruned with the oldest backups

    def test_maxage_prunes_old_backups(self) -> None:
        old = os.path.join(self.dir, "audit-2020-01-01T00-00-00.000.log")
        with open(old, "w") as fh:
            fh.write("{}\n")
        os.utime(old, (time.time() - 3 * 86400, time.time() - 3 * 86400))
        f = RotatingFile(self.path, max_bytes=10, maxage_days=2)
        f.write(b"0123456789\n")
        f.write(b"0123456789\n")
        f.close()
        self.assertFalse(os.path.exists(old))
        self.assertEqual(len(os.listdir(self.dir)), 2)

    def test_maxsize_is_megabytes(self) -> None:
        self.assertEqual(RotatingFile(self.path, 3).maxsize, 3 * 1024 * 1024)

    def test_stdout(self) -> None:
        class Out:
            buffer = io.BytesIO()
        saved = sys.stdout
        sys.stdout = Out()  # type: ignore[assignment]
        try:
            StdoutSink().write(b"line\n")
            self.assertEqual(Out.buffer.getvalue(), b"line\n")
        finally:
            sys.stdout = saved


class Gate:
    """A sink that holds every write until released: a disk that is stuck."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.data = b""

    def write(self, data: bytes) -> None:
        self.open.wait(10)
        self.data += data

    def close(self) -> None:
        return None


class Modes(unittest.TestCase):
    def test_blocking_waits_for_the_write(self) -> defer.Deferred[None]:
        async def go() -> None:
            gate = Gate()
            reg = CollectorRegistry()
            backend = LogBackend(WriterThread(gate, reactor), "json", "blocking", AuditMetrics(reg))
            self.addCleanup(backend.stop)
            d = backend.process(ev(1))
            assert d is not None
            self.assertFalse(d.called)
            gate.open.set()
            await d
            self.assertIn(b'"auditID":"id-1"', gate.data)

        return defer.ensureDeferred(go())

    def test_batch_never_waits_and_counts_drops(self) -> defer.Deferred[None]:
        async def go() -> None:
            gate = Gate()
            reg = CollectorRegistry()
            backend = LogBackend(WriterThread(gate, reactor, capacity=5), "json", "batch", AuditMetrics(reg))
            self.addCleanup(backend.stop)
            results = [backend.process(ev(i)) for i in range(20)]
            self.assertEqual(set(results), {None})
            dropped = counter(reg, "apiserver_audit_error_total", plugin="log")
            self.assertGreaterEqual(dropped, 14)  # 5 queued, at most one taken by the writer
            gate.open.set()
            for _ in range(100):
                if gate.data.count(b"\n") + dropped >= 20:
                    break
                await task.deferLater(reactor, 0.02, lambda: None)
            self.assertEqual(gate.data.count(b"\n") + dropped, 20)

        return defer.ensureDeferred(go())

    def test_failed_write_is_counted_and_strict_fails(self) -> defer.Deferred[None]:
        class Broken:
            def write(self, data: bytes) -> None:
                raise OSError(28, "No space left on device")

            def close(self) -> None:
                return None

        async def go() -> None:
            reg = CollectorRegistry()
            backend = LogBackend(WriterThread(Broken(), reactor), "json", "blocking-strict", AuditMetrics(reg))
            self.addCleanup(backend.stop)
            d = backend.process(ev(1))
            assert d is not None
            with self.assertRaises(OSError):
                await d
            self.assertEqual(counter(reg, "apiserver_audit_error_total", plugin="log"), 1)

        return defer.ensureDeferred(go())

    def test_batch_groups_lines(self) -> defer.Deferred[None]:
        async def go() -> None:
            sizes: list[int] = []

            class Counting:
                def write(self, data: bytes) -> None:
                    sizes.append(data.count(b"\n"))

                def close(self) -> None:
                    return None
            gate_writer = WriterThread(Counting(), reactor, capacity=100, max_lines=10, max_wait=0.2)
            backend = LogBackend(gate_writer, "json", "batch", AuditMetrics(CollectorRegistry()))
            for i in range(25):
                backend.process(ev(i))
            backend.stop()
            self.assertEqual(sum(sizes), 25)
            self.assertLessEqual(max(sizes), 10)
            self.assertLess(len(sizes), 25)

        return defer.ensureDeferred(go())


class Truncation(unittest.TestCase):
    def test_truncates_objects_then_drops(self) -> None:
        t = Truncator(max_event_size=600, max_batch_size=1500)
        big = ev(1, requestObject={"data": "z" * 2000})
        small, size = t.event(big)
        assert small is not None
        self.assertNotIn("requestObject", small)
        self.assertEqual(small["annotations"][TRUNCATED], "true")
        self.assertLessEqual(size, 600)
        huge = ev(2, annotations={"a": "q" * 2000})
        self.assertIsNone(t.event(huge)[0])
        batches, dropped = t.split([ev(i, pad="p" * 300) for i in range(10)] + [huge])
        self.assertEqual(dropped, 1)
        self.assertEqual(sum(len(b) for b in batches), 10)
        self.assertGreater(len(batches), 1)

    def test_log_backend_truncates(self) -> defer.Deferred[None]:
        async def go() -> None:
            path = os.path.join(tempfile.mkdtemp(prefix="kubeapi-auditlog-"), "a.log")
            reg = CollectorRegistry()
            backend = make_log_backend(path, reactor, AuditMetrics(reg), truncator=Truncator(600, 600))
            self.addCleanup(backend.stop)
            await backend.process(ev(1, responseObject={"data": "z" * 5000}))
            self.assertIsNone(backend.process(ev(2, annotations={"a": "q" * 2000})))
            events = read_events(path)
            self.assertEqual([e["auditID"] for e in events], ["id-1"])
            self.assertEqual(events[0]["annotations"], {TRUNCATED: "true"})
            self.assertEqual(counter(reg, "apiserver_audit_error_total", plugin="truncate"), 1)

        return defer.ensureDeferred(go())
