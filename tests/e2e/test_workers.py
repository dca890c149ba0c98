"""``--workers 2`` on one etcd, as a user runs it: both processes answer on the one port, a
write through either is seen by both, shared allocations stay unique, a worker that dies
is started again, and stopping (or killing) worker 0 ends them all.

Which worker answered is told apart by ``process_start_time_seconds`` in ``/metrics``,
read over a new connection each time (the kernel picks the worker per connection).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from twisted.trial import unittest

from tests.e2e.harness import REPO, ServerProcess, etcdctl
from tests.support.etcd import EtcdCluster
from tests.support.waiting import wait_until


def call(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """(status, JSON body or text) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
    finally:
        conn.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw.decode(errors="replace")


def start_time(port: int) -> str:
    """Which process answered this connection: its process_start_time_seconds."""
    status, text = call(port, "GET", "/metrics")
    assert status == 200, text
    return next(line.split()[1] for line in text.splitlines() if line.startswith("process_start_time_seconds "))


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False


class WorkersTests(unittest.TestCase):
    def setUp(self) -> None:
        self.etcd = EtcdCluster(1).start_blocking()
        self.addCleanup(self.etcd.stop)
        self.server = ServerProcess("--workers=2", etcd_servers=self.etcd.endpoints)
        self.addCleanup(self.server.cleanup)
        self.server.start()  # worker 0 is ready; worker 1 starts after it
        self.port = self.server.insecure_port
        self.assertTrue(self.both_serving(), self.server.log())

    def both_serving(self, timeout: float = 30.0) -> bool:
        seen: set[str] = set()

        def two() -> bool:
            seen.add(start_time(self.port))
            return len(seen) >= 2
        return wait_until(two, timeout, interval=0.02)

    def worker_pids(self) -> list[int]:
        assert self.server.proc is not None
        return children(self.server.proc.pid)

    def test_both_workers_serve_and_see_each_others_writes(self) -> None:
        ns = "workers"
        self.assertEqual(call(self.port, "POST", "/api/v1/namespaces",
                              {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})[0], 201)
        path = f"/api/v1/namespaces/{ns}/configmaps"
        names = [f"cm-{i}" for i in range(30)]
        for name in names:  # each on a new connection, so both workers take some
            status, body = call(self.port, "POST", path, {"metadata": {"name": name}, "data": {"n": name}})
            self.assertEqual(status, 201, body)
        answered: set[str] = set()
        for _ in range(12):  # every worker's read (its own watch cache) has every write
            answered.add(start_time(self.port))
            status, body = call(self.port, "GET", path)
            self.assertEqual(status, 200, body)
            self.assertEqual(sorted(i["metadata"]["name"] for i in body["items"]), sorted(names))
        self.assertEqual(len(answered), 2, "one worker answered every connection")
        out = self.server.kubectl("--context=tls", "get", "configmaps", "-n", ns, "-o", "name").stdout
        self.assertEqual(sorted(out.split()), sorted(f"configmap/{n}" for n in names))

    def test_cluster_ips_stay_unique_across_workers(self) -> None:
        ips: list[str] = []
        failures: list[Any] = []

        def create(i: int) -> None:
            status, body = call(self.port, "POST", "/api/v1/namespaces/default/services", {
                "metadata": {"name": f"svc-{i}"}, "spec": {"ports": [{"port": 80}]}})
            if status == 201:
                ips.append(body["spec"]["clusterIP"])
            else:
                failures.append((status, body))

        threads = [threading.Thread(target=create, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(failures, [])
        self.assertEqual(len(ips), 24)
        self.assertEqual(len(set(ips)), 24, sorted(ips))

    def test_a_worker_that_dies_is_started_again_and_the_lease_stays(self) -> None:
        [worker] = self.worker_pids()
        os.kill(worker, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: self.worker_pids() not in ([], [worker]), 20), self.server.log())
        self.assertTrue(self.both_serving(), self.server.log())
        [again] = self.worker_pids()
        os.kill(again, signal.SIGTERM)  # a graceful stop of one worker keeps the shared lease
        self.assertTrue(wait_until(lambda: not alive(again), 20))
        status, ep = call(self.port, "GET", "/api/v1/namespaces/default/endpoints/kubernetes")
        self.assertEqual(status, 200, ep)
        self.assertEqual([a["ip"] for s in ep["subsets"] for a in s["addresses"]], ["127.0.0.1"])
        keys = etcdctl(self.etcd.endpoints, "get", "--prefix", "--keys-only", "/registry/masterleases/").stdout
        self.assertEqual(keys.split(), ["/registry/masterleases/127.0.0.1"])

    def test_stopping_worker_zero_stops_every_worker_and_removes_the_lease(self) -> None:
        [worker] = self.worker_pids()
        self.server.stop()
        assert self.server.proc is not None
        # twistd ends by re-raising the signal that stopped it, after a clean shutdown
        self.assertEqual(self.server.proc.returncode, -signal.SIGTERM, self.server.log())
        self.assertIn("Server Shut Down", self.server.log())
        self.assertTrue(wait_until(lambda: not alive(worker), 15))
        keys = etcdctl(self.etcd.endpoints, "get", "--prefix", "--keys-only", "/registry/masterleases/").stdout
        self.assertEqual(keys.split(), [])

    def test_killing_worker_zero_outright_ends_the_others(self) -> None:
        [worker] = self.worker_pids()
        self.server.stop(signal.SIGKILL)
        self.assertTrue(wait_until(lambda: not alive(worker), 15), "worker 1 outlived worker 0")


class WorkersFlagTests(unittest.TestCase):
    def test_more_than_one_worker_needs_etcd(self) -> None:
        p = subprocess.run([sys.executable, "-m", "kubeapi", "--workers=2"], capture_output=True, text=True,
                           timeout=60, cwd=str(REPO), env=dict(os.environ, PYTHONPATH=str(REPO)))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("--workers: more than one worker needs --etcd-servers", p.stderr)
