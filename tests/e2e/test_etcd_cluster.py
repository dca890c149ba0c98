"""Two kubeapi processes on a 3-member etcd cluster: cross-server watches, and a member
killed mid-load.

The property under test is what a client may rely on when etcd loses a member: no write
acknowledged with 201 is lost, every watcher sees every committed create exactly once
with increasing resourceVersions, and requests caught in the election fail cleanly
(503/504 ``Status``), never hang and never 500.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from typing import Any

from twisted.trial import unittest

from tests.e2e.harness import ServerProcess, etcdctl
from tests.support.etcd import EtcdCluster
from tests.support.waiting import wait_until


def call(port: int, method: str, path: str, body: Any = None, timeout: float = 30.0
         ) -> tuple[int, Any, float]:
    """(status, decoded JSON body or raw text, seconds taken) for one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.monotonic()
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                       "Accept": "application/json"})
        r = conn.getresponse()
        raw = r.read()
    finally:
        conn.close()
    try:
        doc: Any = json.loads(raw)
    except ValueError:
        doc = raw.decode(errors="replace")
    return r.status, doc, time.monotonic() - start


class Watcher(threading.Thread):
    """Reads watch events for ``path`` from ``port`` until ``stop()``."""

    def __init__(self, port: int, path: str, resource_version: str, *, resume: bool = True) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.rv = resource_version
        self.resume = resume
        self.events: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []  # ERROR events (their Status objects)
        self.reopens = 0
        self.open_statuses: list[int] = []  # HTTP status of every (re)open
        self.ended = threading.Event()  # set when the reader gives up for good
        self.connected = threading.Event()
        self._halt = threading.Event()
        self._conn: http.client.HTTPConnection | None = None
        self.lock = threading.Lock()

    def names(self, kind: str = "ADDED") -> list[str]:
        with self.lock:
            return [e["object"]["metadata"]["name"] for e in self.events if e["type"] == kind]

    def stop(self) -> None:
        self._halt.set()
        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(2)
            except OSError:
                pass

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                self._stream_once()
                if not self.resume or self.errors:
                    break
                self.reopens += 1
                time.sleep(0.2)
        finally:
            self.ended.set()

    def _stream_once(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self._conn = conn
        sep = "&" if "?" in self.path else "?"
        try:
            conn.request("GET", f"{self.path}{sep}watch=1&resourceVersion={self.rv}"
                                f"&allowWatchBookmarks=false&timeoutSeconds=300")
            r = conn.getresponse()
            self.open_statuses.append(r.status)
            if r.status != 200:
                r.read()
                time.sleep(0.3)
                return
            self.connected.set()
            while not self._halt.is_set():
                line = r.readline()
                if not line:
                    return
                if not line.strip():
                    continue
                ev = json.loads(line)
                with self.lock:
                    if ev["type"] == "ERROR":
                        self.errors.append(ev["object"])
                        return
                    self.events.append(ev)
                    self.rv = ev["object"]["metadata"]["resourceVersion"]
        except (OSError, http.client.HTTPException, ValueError):
            return
        finally:
            conn.close()
            self._conn = None


def assert_clean_failure(test: unittest.TestCase, status: int, body: Any, what: str) -> None:
    """A request etcd could not serve: 503 or 504 with a matching ``kind: Status`` body."""
    test.assertIn(status, (503, 504), f"{what}: {status} {body!r}")
    test.assertIsInstance(body, dict, f"{what}: body is not JSON: {body!r}")
    test.assertEqual((body.get("kind"), body.get("apiVersion"), body.get("status"), body.get("code")),
                     ("Status", "v1", "Failure", status), f"{what}: {body!r}")
    test.assertEqual(body.get("reason"), {503: "ServiceUnavailable", 504: "Timeout"}[status], what)


def configmap(name: str, i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"i": str(i)}}


def move_leader_to(cluster: EtcdCluster, index: int) -> bool:
    """Best effort: make member ``index`` the raft leader, so killing it forces an election."""
    try:
        statuses = json.loads(etcdctl(cluster.endpoints, "endpoint", "status", "-w", "json").stdout)
        target = cluster.members[index].client_url
        ids = {s["Endpoint"]: s["Status"]["header"]["member_id"] for s in statuses}
        leader = statuses[0]["Status"]["leader"]
        if leader == ids[target]:
            return True
        leader_url = next(url for url, mid in ids.items() if mid == leader)
        etcdctl([leader_url], "move-leader", format(ids[target], "x"))
        statuses = json.loads(etcdctl(cluster.endpoints, "endpoint", "status", "-w", "json").stdout)
        return bool(statuses[0]["Status"]["leader"] == ids[target])
    except (AssertionError, KeyError, StopIteration, ValueError):
        return False


class EtcdClusterTests(unittest.TestCase):
    def setUp(self) -> None:
        self.cluster = EtcdCluster(3).start_blocking()
        self.addCleanup(self.cluster.stop)
        self.a = ServerProcess(etcd_servers=self.cluster.endpoints)
        self.addCleanup(self.a.cleanup)
        self.a.start()
        # B advertises another loopback address: both must show in the kubernetes Endpoints.
        self.b = ServerProcess("--advertise-address=127.0.0.2", etcd_servers=self.cluster.endpoints)
        self.addCleanup(self.b.cleanup)
        self.b.start()
        self.ns = "reliability"
        status, body, _ = call(self.a.insecure_port, "POST", "/api/v1/namespaces",
                               {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}})
        self.assertEqual(status, 201, body)
        self.path = f"/api/v1/namespaces/{self.ns}/configmaps"

    def list_rv(self, server: ServerProcess) -> tuple[str, set[str]]:
        status, body, _ = call(server.insecure_port, "GET", self.path)
        self.assertEqual(status, 200, body)
        return body["metadata"]["resourceVersion"], {i["metadata"]["name"] for i in body["items"]}

    def watch(self, server: ServerProcess, rv: str) -> Watcher:
        w = Watcher(server.insecure_port, self.path, rv)
        w.start()
        self.addCleanup(w.stop)
        self.assertTrue(w.connected.wait(10), f"watch on {server.url} did not open: {w.open_statuses}")
        return w

    def test_write_through_one_server_is_seen_by_a_watch_on_the_other(self) -> None:
        rv, _ = self.list_rv(self.b)
        w = self.watch(self.b, rv)
        status, created, _ = call(self.a.insecure_port, "POST", self.path, configmap("across", 1))
        self.assertEqual(status, 201, created)
        self.assertTrue(wait_until(lambda: w.names() == ["across"], 10), w.events)
        event = w.events[0]
        self.assertEqual(event["object"]["data"], {"i": "1"})
        self.assertEqual(event["object"]["metadata"]["uid"], created["metadata"]["uid"])
        self.assertEqual(event["object"]["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"])
        # and the other way round: B writes, A reads it back at once
        status, _, _ = call(self.b.insecure_port, "POST", self.path, configmap("back", 2))
        self.assertEqual(status, 201)
        status, got, _ = call(self.a.insecure_port, "GET", f"{self.path}/back")
        self.assertEqual((status, got["data"]), (200, {"i": "2"}))

    def test_kubernetes_endpoints_list_every_server(self) -> None:
        def addresses() -> list[str]:
            status, ep, _ = call(self.a.insecure_port, "GET", "/api/v1/namespaces/default/endpoints/kubernetes")
            return [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]

        self.assertTrue(wait_until(lambda: addresses() == ["127.0.0.1", "127.0.0.2"], 20), addresses())
        self.b.stop()  # a graceful stop takes its address out at once
        self.assertTrue(wait_until(lambda: addresses() == ["127.0.0.1"], 10), addresses())

    def test_member_killed_mid_load_loses_no_acknowledged_write_or_event(self) -> None:
        total, kill_after, workers = 400, 100, 4
        leader_moved = move_leader_to(self.cluster, 0)
        rv, before = self.list_rv(self.a)
        self.assertEqual(before, set())
        watchers = {"A": self.watch(self.a, rv), "B": self.watch(self.b, rv)}

        results: dict[str, tuple[int | str, Any, float]] = {}
        lock = threading.Lock()
        acked = threading.Event()
        next_index = iter(range(total))

        def create_loop() -> None:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                name = f"cm-{i:04d}"
                try:
                    status, body, took = call(self.a.insecure_port, "POST", self.path, configmap(name, i),
                                              timeout=30)
                    outcome: tuple[int | str, Any, float] = (status, body, took)
                except TimeoutError:
                    outcome = ("hang", None, 30.0)
                except (OSError, http.client.HTTPException) as e:
                    outcome = (f"connection error: {e!r}", None, 0.0)
                with lock:
                    results[name] = outcome
                    if sum(1 for r in results.values() if r[0] == 201) >= kill_after:
                        acked.set()

        threads = [threading.Thread(target=create_loop, daemon=True) for _ in range(workers)]
        for t in threads:
            t.start()
        self.assertTrue(acked.wait(60), "load did not reach the kill point")
        killed_at = time.monotonic()
        self.cluster.kill(0)
        for t in threads:
            t.join(90)
        self.assertFalse(any(t.is_alive() for t in threads), "a create loop hung")
        load_done = time.monotonic()

        ok = sorted(n for n, r in results.items() if r[0] == 201)
        failed = {n: r for n, r in results.items() if r[0] != 201}
        for name, (status, body, took) in failed.items():
            self.assertIsInstance(status, int, f"{name}: {status}")
            assert isinstance(status, int)
            assert_clean_failure(self, status, body, f"create {name}")
            self.assertLess(took, 30, f"{name} took {took:.1f}s")

        # Nothing acknowledged is lost: a fresh LIST through either server has all of them.
        committed: set[str] = set()
        for server in (self.a, self.b):
            got: set[str] = set()

            def listed(s: ServerProcess = server) -> bool:
                nonlocal got
                status, body, _ = call(s.insecure_port, "GET", self.path)
                got = {i["metadata"]["name"] for i in body["items"]} if status == 200 else set()
                return status == 200
            self.assertTrue(wait_until(listed, 20, 0.2), f"LIST via {server.url} never succeeded")
            self.assertEqual(set(ok) - got, set(), f"acknowledged creates missing via {server.url}")
            self.assertLessEqual(got, set(results), "objects nobody created")
            committed = got if not committed else committed
            self.assertEqual(got, committed, "the two servers disagree on the committed set")

        # Each watcher sees every committed create exactly once, in resourceVersion order.
        for label, w in watchers.items():
            self.assertTrue(wait_until(lambda w=w: set(w.names()) >= committed, 30, 0.1),
                            f"watcher {label} missed {sorted(committed - set(w.names()))[:10]} "
                            f"(reopens={w.reopens}, errors={w.errors})")
            names = w.names()
            self.assertEqual(len(names), len(set(names)),
                             f"watcher {label} saw duplicates: {[n for n in set(names) if names.count(n) > 1]}")
            self.assertEqual(set(names), committed, f"watcher {label} saw uncommitted creates")
            self.assertEqual(w.errors, [], f"watcher {label} got ERROR events")
            rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in w.events]
            self.assertEqual(rvs, sorted(set(rvs)), f"watcher {label}: resourceVersions not increasing")
            self.assertEqual({e["type"] for e in w.events}, {"ADDED"})

        # Both servers are still serving reads and writes on the remaining two members.
        for server in (self.a, self.b):
            status, body, _ = call(server.insecure_port, "POST", self.path, configmap(f"after-{server.insecure_port}", 0))
            self.assertEqual(status, 201, body)
        codes: dict[str, int] = {}
        for _, (status, _, _) in failed.items():
            codes[str(status)] = codes.get(str(status), 0) + 1
        slowest = max((r[2] for r in results.values()), default=0.0)
        print(f"\n[etcd member kill] leader moved to killed member: {leader_moved}; "
              f"{len(ok)}/{total} created (201), failed: {codes or 'none'}, "
              f"committed though failed: {len(committed) - len(ok)}, slowest request {slowest:.2f}s, "
              f"load finished {load_done - killed_at:.1f}s after the kill, watch reopens "
              f"A={watchers['A'].reopens} B={watchers['B'].reopens}", file=sys.stderr)
