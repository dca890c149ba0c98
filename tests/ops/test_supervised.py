"""kubeapi as a supervisor (systemd, runit, a test harness) sees it: the real server in a
subprocess; exit statuses and the first log lines.  Then what a first contact sees over
the wire: reason phrases, plain HTTP on the TLS port, missing parents, /metrics, logs."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.e2e.harness import ServerProcess
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]


class Supervisor:
    """Runs ``twistd -n kubeapi`` like a supervisor: records exit status and output."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp

    def command(self, *flags: str) -> list[str]:
        return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
                "kubeapi", f"--secure-port={free_port()}", "--bind-address=127.0.0.1", "--insecure-port=0",
                "--advertise-address=127.0.0.1", f"--data-dir={os.path.join(self.tmp, 'data')}",
                f"--cert-dir={os.path.join(self.tmp, 'certs')}", *flags]

    def run(self, *flags: str, timeout: float = 60) -> tuple[int, list[str]]:
        p = subprocess.run(self.command(*flags), cwd=str(REPO), env=dict(os.environ, PYTHONPATH=str(REPO)),
                           capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace").strip().splitlines()


def _dead_port() -> int:
    with socket.socket() as s:  # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FailedStarts(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="kubeapi-ops-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.sup = Supervisor(self.tmp)

    def _etcd_unreachable(self) -> None:
        port = _dead_port()
        code, lines = self.sup.run(f"--etcd-servers=http://127.0.0.1:{port}")
        self.assertEqual(code, 1)
        failed = [ln for ln in lines if "failed to start" in ln]
        self.assertEqual(len(failed), 1, lines)
        self.assertIn(f"no etcd endpoint reachable: dial http://127.0.0.1:{port}", failed[0])
        self.assertIn("check --etcd-servers", failed[0])
        self.assertTrue(failed[0].startswith("E"), failed[0])  # klog severity
        self.assertFalse(any("Traceback" in ln for ln in lines), lines)
        # --v=4 adds the traceback.
        code, lines = self.sup.run(f"--etcd-servers=http://127.0.0.1:{port}", "--v=4")
        self.assertEqual(code, 1)
        self.assertTrue(any("Traceback" in ln for ln in lines), lines)

    def test_unreachable_etcd_exits_1_with_one_line(self) -> Deferred[None]:
        return deferToThread(self._etcd_unreachable)

    def _unknown_mode(self) -> None:
        code, lines = self.sup.run("--authorization-mode=Magic")
        self.assertEqual(code, 1)
        self.assertEqual(lines, ["kubeapi: --authorization-mode: 'Magic' is not a valid mode "
                                 "(valid: AlwaysAllow, AlwaysDeny, ABAC, Webhook, RBAC, Node)"])

    def test_unknown_authorization_mode_refuses_to_start(self) -> Deferred[None]:
        return deferToThread(self._unknown_mode)

    def _json_logs(self) -> None:
        code, lines = self.sup.run(f"--etcd-servers=http://127.0.0.1:{_dead_port()}", "--logging-format=json")
        self.assertEqual(code, 1)
        records = [json.loads(ln) for ln in lines]
        failed = [r for r in records if "failed to start" in r["msg"]]
        self.assertEqual(len(failed), 1)
        self.assertIn("ts", failed[0])

    def test_json_logs(self) -> Deferred[None]:
        return deferToThread(self._json_logs)


_serving: ServerProcess | None = None


def serving() -> ServerProcess:
    """One real server (embedded store, --v=3) for this module; stopped at interpreter exit."""
    global _serving
    if _serving is None:
        import atexit

        server = ServerProcess("--v=3")
        server.start()
        atexit.register(server.cleanup)
        _serving = server
    return _serving


class Serving(unittest.TestCase):
    @property
    def server(self) -> ServerProcess:
        return serving()

    def _first_lines(self) -> None:
        s = self.server
        lines = Path(s.log_path).read_text().splitlines()
        serving = [ln for ln in lines if "API URLs:" in ln]
        self.assertEqual(len(serving), 1)
        self.assertIn(f"https://127.0.0.1:{s.secure_port} http://127.0.0.1:{s.insecure_port}", serving[0])
        self.assertFalse(any("Traceback" in ln for ln in lines))
        s.stop()  # SIGTERM: graceful stop, twistd re-raises the signal
        assert s.proc is not None
        self.assertIn(s.proc.returncode, (0, -signal.SIGTERM))
        s.start()

    def test_first_log_lines_and_clean_stop(self) -> Deferred[None]:
        return deferToThread(self._first_lines)

    def _status_lines(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.insecure_port, timeout=10)
        body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Not_Valid"}})
        conn.request("POST", "/api/v1/namespaces", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        self.assertEqual((r.status, r.reason), (422, "Unprocessable Entity"))
        conn.close()

    def test_go_reason_phrases(self) -> Deferred[None]:
        return deferToThread(self._status_lines)

    def _plain_http_on_tls(self) -> None:
        with socket.create_connection(("127.0.0.1", self.server.secure_port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        self.assertEqual(data, b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
        # TLS still works on the same port.
        p = self.server.kubectl("get", "--raw", "/healthz", context="tls")
        self.assertEqual(p.stdout.strip(), "ok")

    def test_plain_http_on_the_tls_port(self) -> Deferred[None]:
        return deferToThread(self._plain_http_on_tls)

    def _missing_parent(self) -> None:
        for sub in ("log", "exec", "proxy"):
            code, _, body = self.server.raw("GET", f"/api/v1/namespaces/default/pods/nosuch/{sub}")
            status = json.loads(body)
            self.assertEqual((code, status["reason"], status["message"]), (404, "NotFound", 'pods "nosuch" not found'))
        p = self.server.kubectl("logs", "nosuch", check=False)
        self.assertIn('pods "nosuch" not found', p.stderr)

    def test_subresource_of_missing_object_names_it(self) -> Deferred[None]:
        return deferToThread(self._missing_parent)

    def _metrics(self) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        s = self.server
        s.kubectl("get", "namespaces")
        s.kubectl("get", "pods", "-A")
        text = s.kubectl("get", "--raw", "/metrics").stdout
        families = {f.name: f for f in text_string_to_metric_families(text)}
        samples = [x for f in families.values() for x in f.samples]
        self.assertFalse([x.name for x in samples if x.name.endswith("_created")])
        for name in ("apiserver_request", "apiserver_request_duration_seconds", "apiserver_response_sizes",
                     "apiserver_storage_objects", "etcd_request_duration_seconds",
                     "apiserver_flowcontrol_dispatched_requests", "apiserver_flowcontrol_nominal_limit_seats"):
            self.assertIn(name, families)
        lists = [x for x in families["apiserver_request"].samples
                 if x.labels.get("verb") == "LIST" and x.labels.get("resource") == "namespaces"]
        self.assertEqual(lists[0].labels, {"verb": "LIST", "dry_run": "", "group": "", "version": "v1",
                                           "resource": "namespaces", "subresource": "", "scope": "cluster",
                                           "component": "apiserver", "code": "200"})
        buckets = sorted({float(x.labels["le"]) for x in families["apiserver_request_duration_seconds"].samples
                          if x.name.endswith("_bucket")})
        self.assertEqual(buckets[:3] + buckets[-2:], [0.005, 0.025, 0.05, 60.0, float("inf")])
        objects = {x.labels["resource"]: x.value for x in families["apiserver_storage_objects"].samples}
        self.assertGreaterEqual(objects["namespaces"], 0)  # counted at start, then every minute

    def test_metrics_parse_with_upstream_names(self) -> Deferred[None]:
        return deferToThread(self._metrics)

    def _audit_id(self) -> None:
        s = self.server
        req = urllib.request.Request(s.url + "/api/v1/namespaces/default", headers={"User-Agent": "ops-test"})
        with urllib.request.urlopen(req, timeout=10) as r:
            audit_id = r.headers["Audit-Id"]
            self.assertTrue(r.headers["X-Kubernetes-PF-FlowSchema-UID"])
        deadline = time.monotonic() + 10
        lines: list[str] = []
        while time.monotonic() < deadline:
            lines = [ln for ln in Path(s.log_path).read_text().splitlines() if audit_id in ln]
            if lines:
                break
            time.sleep(0.1)
        self.assertEqual(len(lines), 1)
        self.assertIn('"HTTP" verb="GET" URI="/api/v1/namespaces/default"', lines[0])
        self.assertIn('userAgent="ops-test"', lines[0])
        self.assertIn("resp=200", lines[0])

    def test_request_log_line_carries_audit_id(self) -> Deferred[None]:
        return deferToThread(self._audit_id)

