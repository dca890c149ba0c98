"""Real kubectl (1.33) against the real server reaching a fake kubelet in a TestHost:
``kubectl logs [-f]``, ``kubectl exec [-it]``, ``kubectl get --raw .../proxy/...``,
``kubectl proxy``; RBAC refuses exec before anything reaches the kubelet."""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import time
import urllib.request
from typing import Any

from twisted.trial import unittest

from tests.e2e.harness import ServerProcess, kubectl_binary
from tests.support.kubelethost import KubeletHost, skip_reason
from tests.support.net import free_port
from tests.support.ptysession import PtySession

_env: tuple[ServerProcess, KubeletHost] | None = None
_skip: str | None = None


def env() -> tuple[ServerProcess, KubeletHost]:
    global _env
    if _env is None:
        kubelet = KubeletHost()
        atexit.register(kubelet.close)
        s = ServerProcess("--authorization-mode=Node,RBAC", f"--kubelet-client-certificate={kubelet.client_cert}",
                          f"--kubelet-client-key={kubelet.client_key}",
                          f"--kubelet-certificate-authority={kubelet.ca}")
        s.start()
        atexit.register(s.cleanup)
        _prepare(s, kubelet)
        _env = (s, kubelet)
    return _env


def _put_status(s: ServerProcess, path: str, status: dict[str, Any]) -> None:
    code, _, body = s.raw("GET", path)
    obj = json.loads(body)
    obj["status"] = status
    code, _, body = s.raw("PUT", path + "/status", obj)
    assert code == 200, body


def _prepare(s: ServerProcess, kubelet: KubeletHost) -> None:
    node = kubelet.node("n1")
    s.kubectl("create", "-f", "-", input=json.dumps(node))
    _put_status(s, "/api/v1/nodes/n1", node["status"])  # type: ignore[arg-type]
    s.kubectl("create", "namespace", "kp")
    pods = [("p", "n1", ["c"]), ("two", "n1", ["a", "b"]), ("pending", "", ["c"])]
    for name, node_name, containers in pods:
        spec: dict[str, Any] = {"containers": [{"name": c, "image": "fake"} for c in containers]}
        if node_name:
            spec["nodeName"] = node_name
        s.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Pod",
                                                          "metadata": {"name": name, "namespace": "kp"},
                                                          "spec": spec}))
        if node_name:
            _put_status(s, f"/api/v1/namespaces/kp/pods/{name}", {
                "phase": "Running", "podIP": kubelet.address, "podIPs": [{"ip": kubelet.address}]})
    # bob may read pods (and their logs) but not exec into them.
    s.kubectl("create", "role", "reader", "-n", "kp", "--verb=get,list", "--resource=pods,pods/log")
    s.kubectl("create", "rolebinding", "reader", "-n", "kp", "--role=reader", "--user=bob")
    # carol has only "get" on pods/exec: in v1.34 that suffices for a websocket exec (a GET);
    # "create" is what the POST of SPDY needs (v1.35 starts asking "create" for both).
    s.kubectl("create", "role", "execget", "-n", "kp", "--verb=get", "--resource=pods,pods/exec")
    s.kubectl("create", "rolebinding", "execget", "-n", "kp", "--role=execget", "--user=carol")


class KubectlThroughTheHub(unittest.TestCase):
    def setUp(self) -> None:
        global _skip
        if _skip is None:
            _skip = skip_reason() or ""
        if _skip:
            raise unittest.SkipTest(_skip)
        self.s, self.kubelet = env()

    def kubectl(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.s.kubectl("-n", "kp", *args, **kw)

    def exec_requests(self) -> int:
        seen = json.loads(self.s.kubectl("get", "--raw", "/api/v1/nodes/n1/proxy/debug/requests").stdout)
        return sum(1 for r in seen if r["path"].startswith("/exec/"))

    def test_logs(self) -> None:
        out = self.kubectl("logs", "p").stdout
        self.assertEqual(out, "".join(f"c line {i}\n" for i in range(1, 6)))
        self.assertEqual(self.kubectl("logs", "p", "--tail=1").stdout, "c line 5\n")
        self.assertEqual(self.kubectl("logs", "two", "-c", "b", "--tail=1").stdout, "b line 5\n")

    def test_logs_needs_a_container_among_several(self) -> None:
        # kubectl logs picks the first container itself ("Defaulted container"); the API does not.
        p = self.kubectl("logs", "two")
        self.assertEqual((p.stdout.splitlines()[0], p.stderr.strip()), ("a line 1", 'Defaulted container "a" out of: a, b'))
        p = self.s.kubectl("get", "--raw", "/api/v1/namespaces/kp/pods/two/log", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("a container name must be specified for pod two, choose one of: [a b]", p.stderr)

    def test_logs_follow_streams_until_stopped(self) -> None:
        cmd = [kubectl_binary(), f"--kubeconfig={self.s.kubeconfig}", "--context=plain", "-n", "kp",
               "logs", "-f", "p"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ,
                                HOME=self.s.tmp))
        try:
            lines = []
            deadline = time.monotonic() + 20
            assert proc.stdout is not None
            while time.monotonic() < deadline and "c tick 3" not in lines:
                ready, _, _ = select.select([proc.stdout], [], [], 1.0)
                if ready:
                    line = proc.stdout.readline().decode()
                    if not line:
                        break
                    lines.append(line.strip())
            self.assertEqual(lines[:6], ["c line 1", "c line 2", "c line 3", "c line 4", "c line 5", "c tick 1"])
            self.assertIn("c tick 3", lines)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        open_streams = {}
        for _ in range(50):  # the server lets go of the kubelet once kubectl is gone
            open_streams = json.loads(self.s.kubectl("get", "--raw", "/api/v1/nodes/n1/proxy/debug/open").stdout)
            if open_streams["follow"] == 0:
                break
            time.sleep(0.1)
        self.assertEqual(open_streams["follow"], 0)

    def test_exec(self) -> None:
        self.assertEqual(self.kubectl("exec", "p", "--", "echo", "hi", "there").stdout, "hi there\n")
        p = self.kubectl("exec", "p", "--", "false", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("command terminated with exit code 1", p.stderr)

    def test_exec_interactive_under_a_pty(self) -> None:
        session = PtySession([kubectl_binary(), f"--kubeconfig={self.s.kubeconfig}", "--context=plain", "-n", "kp",
                              "exec", "-it", "p", "--", "sh"], self.s.tmp)
        try:
            time.sleep(1.0)  # let kubectl put the terminal in raw mode and connect
            session.write(b"hello pty\r")
            self.assertIn(b"HELLO PTY", session.read_until(b"HELLO PTY"))  # the fake's answer, not a local echo
            session.write(b"exit\r")
            status = session.wait()
            self.assertIsNotNone(status)
            assert status is not None
            self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, session.seen))
            seen_requests = json.loads(self.s.kubectl("get", "--raw", "/api/v1/nodes/n1/proxy/debug/requests").stdout)
            last_exec = [r for r in seen_requests if r["path"].startswith("/exec/")][-1]
            self.assertEqual(last_exec["query"], {"command": ["sh"], "input": ["1"], "output": ["1"], "tty": ["1"]})
        finally:
            session.close()

    def test_exec_needs_a_node(self) -> None:
        p = self.kubectl("exec", "pending", "--", "echo", "x", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("pod pending does not have a host assigned", p.stderr)

    def test_exec_forbidden_before_the_kubelet(self) -> None:
        before = self.exec_requests()
        p = self.kubectl("exec", "p", "--as=bob", "--", "echo", "hi", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('User "bob" cannot', p.stderr)
        self.assertIn('"pods/exec"', p.stderr)
        self.assertEqual(self.exec_requests(), before)
        self.assertEqual(self.kubectl("logs", "p", "--as=bob", "--tail=1").stdout, "c line 5\n")

    def test_websocket_exec_is_authorized_as_get_in_v134(self) -> None:
        self.assertEqual(self.kubectl("exec", "p", "--as=carol", "--", "echo", "as", "carol").stdout, "as carol\n")
        self.assertEqual(self.kubectl("auth", "can-i", "create", "pods/exec", "--as=carol", check=False).stdout.strip(),
                         "no")

    def test_get_raw_node_proxy(self) -> None:
        self.assertEqual(self.s.kubectl("get", "--raw", "/api/v1/nodes/n1/proxy/healthz").stdout, "ok")
        p = self.s.kubectl("get", "--raw", "/api/v1/nodes/nosuch/proxy/healthz", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('nodes "nosuch" not found', p.stderr)

    def test_kubectl_proxy_then_curl(self) -> None:
        port = free_port()
        cmd = [kubectl_binary(), f"--kubeconfig={self.s.kubeconfig}", "--context=plain", "proxy",
               f"--port={port}"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=dict(os.environ, HOME=self.s.tmp))
        try:
            body = b""
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/nodes/n1/proxy/healthz",
                                                timeout=5) as r:
                        body = r.read()
                        break
                except OSError:
                    time.sleep(0.1)
            self.assertEqual(body, b"ok")
            out = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/api/v1/namespaces/kp/pods/p/log?tailLines=2"],
                                 capture_output=True, timeout=30)
            self.assertEqual(out.stdout, b"c line 4\nc line 5\n")
        finally:
            proc.terminate()
            proc.wait(10)
