"""One kubeapi on a single etcd member: the member goes away and comes back; history is
compacted under an open server.

What a user sees: while etcd is down requests fail fast with 503/504 ``Status`` bodies and
``/readyz`` says ``[-]etcd failed``; once etcd is back on the same port and data the same
server process recovers by itself; a watch either carries on without losing an event or
ends (410 ERROR or a close) so the client relists.  A watch from a compacted
resourceVersion gets the ERROR event 410 Expired.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from typing import Any

from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from twisted.internet.defer import Deferred
from twisted.trial import unittest

from tests.e2e.harness import ServerProcess, etcdctl
from tests.e2e.test_etcd_cluster import Watcher, assert_clean_failure, call, configmap
from tests.support.etcd import EtcdCluster
from tests.support.waiting import wait_until

FAST = 15.0  # seconds within which a request must fail while etcd is down ("not a hang")
PRE_SERVER_WRITES = 10  # etcd revisions written before kubeapi starts: history older than it


def readyz(server: ServerProcess) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.url + "/readyz?verbose", timeout=FAST) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class EtcdOutageTests(unittest.TestCase):
    def setUp(self) -> None:
        self.cluster = EtcdCluster(1).start_blocking()
        self.addCleanup(self.cluster.stop)
        for i in range(PRE_SERVER_WRITES):
            etcdctl(self.cluster.endpoints, "put", f"/kubeapi-test/filler-{i}", "x")
        self.server = ServerProcess(etcd_servers=self.cluster.endpoints)
        self.addCleanup(self.server.cleanup)
        self.server.start()
        self.port = self.server.insecure_port
        self.ns = "outage"
        status, body, _ = call(self.port, "POST", "/api/v1/namespaces",
                               {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}})
        self.assertEqual(status, 201, body)
        self.path = f"/api/v1/namespaces/{self.ns}/configmaps"

    def create(self, name: str, i: int = 0) -> dict[str, Any]:
        status, body, _ = call(self.port, "POST", self.path, configmap(name, i))
        self.assertEqual(status, 201, body)
        return body  # type: ignore[no-any-return]

    def test_outage_fails_fast_and_server_recovers_without_restart(self) -> Deferred[None]:
        return Deferred.fromCoroutine(self._outage())

    async def _outage(self) -> None:
        status, listed, _ = call(self.port, "GET", self.path)
        self.assertEqual(status, 200, listed)
        w = Watcher(self.port, self.path, listed["metadata"]["resourceVersion"], resume=False)
        w.start()
        self.addCleanup(w.stop)
        self.assertTrue(w.connected.wait(10))
        self.create("before", 1)
        self.assertTrue(wait_until(lambda: w.names() == ["before"], 10), w.events)

        self.cluster.kill(0)
        timings: dict[str, float] = {}
        for what, method, path, body in (
            ("GET", "GET", f"{self.path}/before", None),
            ("LIST", "GET", self.path, None),
            ("CREATE", "POST", self.path, configmap("during", 2)),
        ):
            status, doc, took = call(self.port, method, path, body, timeout=FAST + 5)
            assert_clean_failure(self, status, doc, f"{what} with etcd down")
            self.assertLess(took, FAST, f"{what} took {took:.1f}s with etcd down")
            timings[what] = took

        seen: list[tuple[int, str]] = []

        def not_ready() -> bool:
            seen.append(readyz(self.server))
            return seen[-1][0] == 500 and "[-]etcd failed" in seen[-1][1]
        self.assertTrue(wait_until(not_ready, FAST, 0.2), f"/readyz while etcd is down: {seen[-1:]}")
        self.assertIn("readyz check failed", seen[-1][1])
        self.assertIsNone(self.server.proc.poll() if self.server.proc else 0, "server exited")

        await self.cluster.restart(0)  # same port, same data directory
        recovered_at = time.monotonic()
        self.assertTrue(wait_until(lambda: readyz(self.server)[0] == 200, 30, 0.2),
                        f"/readyz after etcd came back: {readyz(self.server)}")
        self.assertIn("[+]etcd ok", readyz(self.server)[1])

        results: list[tuple[int, Any]] = []

        def created() -> bool:
            status, doc, _ = call(self.port, "POST", self.path, configmap("after", 3))
            results.append((status, doc))
            return status == 201
        self.assertTrue(wait_until(created, 20, 0.2), f"create after recovery: {results[-1:]}")
        for status, doc in results[:-1]:
            assert_clean_failure(self, status, doc, "create while recovering")
        status, doc, _ = call(self.port, "GET", f"{self.path}/before")
        self.assertEqual((status, doc.get("data")), (200, {"i": "1"}))

        # The open watch: carried on with nothing lost, or ended so that the client relists.
        self.assertTrue(wait_until(lambda: "after" in w.names() or w.ended.is_set(), 20, 0.1),
                        f"watch neither delivered the new object nor ended: {w.events}")
        if "after" in w.names():
            outcome = "resumed"
            self.assertEqual(w.names(), ["before", "after"])
            self.assertEqual(w.errors, [])
        else:
            outcome = "ended with 410 ERROR" if w.errors else "closed"
            for err in w.errors:
                self.assertEqual((err["kind"], err["code"], err["reason"]), ("Status", 410, "Expired"), err)
            self.assertEqual(w.names(), ["before"])
            status, relisted, _ = call(self.port, "GET", self.path)
            self.assertEqual(status, 200)
            self.assertEqual(sorted(i["metadata"]["name"] for i in relisted["items"]), ["after", "before"])
        print(f"\n[etcd outage] fail times {json.dumps({k: round(v, 2) for k, v in timings.items()})}; "
              f"create ok {time.monotonic() - recovered_at:.1f}s after etcd healthy "
              f"({len(results) - 1} clean failures first); open watch {outcome}", file=sys.stderr)

    def test_watch_from_compacted_revision_is_410_expired(self) -> None:
        first = self.create("c0")
        for i in range(1, 5):
            self.create(f"c{i}", i)
        statuses = json.loads(etcdctl(self.cluster.endpoints, "endpoint", "status", "-w", "json").stdout)
        head = int(statuses[0]["Status"]["header"]["revision"])
        self.assertGreaterEqual(head, int(first["metadata"]["resourceVersion"]))
        etcdctl(self.cluster.endpoints, "compact", str(head))

        old = str(PRE_SERVER_WRITES // 2)  # compacted in etcd, and older than the server itself
        w = Watcher(self.port, self.path, old, resume=False)
        w.start()
        self.addCleanup(w.stop)
        self.assertTrue(w.ended.wait(15), "watch from a compacted resourceVersion stayed open")
        self.assertEqual(w.open_statuses, [200])
        self.assertEqual(w.events, [])
        self.assertEqual(len(w.errors), 1, w.errors)
        err = w.errors[0]
        self.assertEqual((err["kind"], err["apiVersion"], err["status"], err["code"], err["reason"]),
                         ("Status", "v1", "Failure", 410, "Expired"), err)
        self.assertTrue(err["message"], err)

        # The official client turns that event into ApiException(410) for its caller to relist.
        api = self.server.client()
        self.addCleanup(api.close)
        core = client.CoreV1Api(api)
        with self.assertRaises(ApiException) as caught:
            for _ in watch.Watch().stream(core.list_namespaced_config_map, self.ns, resource_version=old,
                                          timeout_seconds=10):
                pass
        self.assertEqual(caught.exception.status, 410)
        self.assertIn("Expired", str(caught.exception.reason))

        # A relist and a watch from its resourceVersion work as usual after compaction.
        status, listed, _ = call(self.port, "GET", self.path)
        self.assertEqual(status, 200)
        self.assertEqual(len(listed["items"]), 5)
        w2 = Watcher(self.port, self.path, listed["metadata"]["resourceVersion"], resume=False)
        w2.start()
        self.addCleanup(w2.stop)
        self.assertTrue(w2.connected.wait(10))
        self.create("c5", 5)
        self.assertTrue(wait_until(lambda: w2.names() == ["c5"], 10), w2.events)
