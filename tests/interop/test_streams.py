"""kubectl's streaming commands against kwok's own kubelet server, through kubeapi.

kwok v0.8.0 serves the kubelet API with upstream's streaming code (k8s.io/cri-streaming):
logs, exec, attach and port-forward, configured here by ClusterLogs / ClusterExec /
ClusterAttach / ClusterPortForward objects in a ``--config`` file.  Upstream (and kubeapi)
refuse to proxy to loopback, so kwok listens on the gateway end of a TestHost (an ordinary
10.x address of the root namespace, private to this machine) and its nodes report that
InternalIP and port.  kwok's serving certificate is signed by a test CA which kubeapi is given
as ``--kubelet-certificate-authority``.  A small HTTP server on the same address is the
target of kwok's port-forward, so ``kubectl port-forward`` + curl reaches it.

Skips with one line when the interop binaries or test hosts are missing.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from tests.e2e.harness import ServerProcess, kubectl_binary
from tests.interop.cluster import NODE_LABEL, Cluster, Component
from tests.interop.cluster import skip_reason as cluster_skip_reason
from tests.support.net import free_port
from tests.support.ptysession import PtySession
from tests.support.testhosts import TestHost
from tests.support.testhosts import skip_reason as hosts_skip_reason

KUBELET_PORT = 10250
TARGET_PORT = 8080  # the pod port kubectl forwards; kwok tunnels it to the test's HTTP server
MARKER = "hello from the port-forward target\n"
NS = "streams"
POD = "web"


def _log_line(text: str) -> str:
    """One line in the CRI log format kwok reads (k8s.io/cri-client/pkg/logs)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000000Z"
    return f"{now} stdout F {text}\n"


class StreamsCluster(Cluster):
    """The interop cluster whose kwok serves the kubelet API at ``host.gateway``."""

    def __init__(self, host: TestHost, files: Path, ca: Path, cert: Path, key: Path) -> None:
        server = ServerProcess("--enable-namespace-controller=false", "--authorization-mode=Node,RBAC",
                               f"--kubelet-certificate-authority={ca}")
        super().__init__(nodes=1, server=server)
        self.host, self.files, self.cert, self.key = host, files, cert, key

    def kwok(self, name: str, annotation_value: str) -> Component:
        c = super().kwok(name, annotation_value)
        gw = self.host.gateway
        c.argv = [a for a in c.argv if not a.startswith("--node-ip=")] + [
            f"--node-ip={gw}", f"--node-port={KUBELET_PORT}", f"--server-address={gw}:{KUBELET_PORT}",
            f"--tls-cert-file={self.cert}", f"--tls-private-key-file={self.key}",
            f"--config={self.files / 'kwok-streams.yaml'}"]
        return c


class Env:
    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization

        from kubeapi.auth.authn.pki import issue, make_ca

        self.files = Path(tempfile.mkdtemp(prefix="kwok-streams-"))
        self.host = TestHost.create()
        gw = self.host.gateway
        ca = make_ca("kwok-kubelet-ca")
        cert, key = issue(ca, "kwok-kubelet", server_names=[gw])
        (self.files / "ca.crt").write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
        (self.files / "kubelet.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (self.files / "kubelet.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self.log_file = self.files / "pod.log"
        self.log_file.write_text("".join(_log_line(f"line {i}") for i in range(1, 4)))
        self.attach_file = self.files / "attach.log"
        self.attach_file.write_text(_log_line("before attach"))
        (self.files / "www").mkdir()
        (self.files / "www" / "index.html").write_text(MARKER)
        self.http_port = free_port()
        self.http = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.http_port), "--bind", gw,
             "--directory", str(self.files / "www")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        docs = [
            {"kind": "ClusterLogs", "apiVersion": "kwok.x-k8s.io/v1alpha1", "metadata": {"name": "logs"},
             "spec": {"logs": [{"logsFile": str(self.log_file), "follow": True}]}},
            {"kind": "ClusterAttach", "apiVersion": "kwok.x-k8s.io/v1alpha1", "metadata": {"name": "attach"},
             "spec": {"attaches": [{"logsFile": str(self.attach_file)}]}},
            {"kind": "ClusterExec", "apiVersion": "kwok.x-k8s.io/v1alpha1", "metadata": {"name": "exec"},
             "spec": {"execs": [{"local": {"workDir": str(self.files),
                                           "envs": [{"name": "KWOK_STREAMS", "value": "yes"}]}}]}},
            {"kind": "ClusterPortForward", "apiVersion": "kwok.x-k8s.io/v1alpha1", "metadata": {"name": "pf"},
             "spec": {"forwards": [{"ports": [TARGET_PORT],
                                    "target": {"address": gw, "port": self.http_port}}]}},
        ]
        (self.files / "kwok-streams.yaml").write_text("\n---\n".join(json.dumps(d) for d in docs) + "\n")
        self.cluster = StreamsCluster(self.host, self.files, self.files / "ca.crt",
                                      self.files / "kubelet.crt", self.files / "kubelet.key")
        try:
            self.cluster.start()
            self.cluster.wait_ready(timeout=180)
            self._pod()
        except BaseException:
            self.cluster.keep_logs = True
            sys.stderr.write(f"\nkwok streams: cluster did not come up; logs kept: {self.cluster.log_paths()}\n")
            self.close()
            raise

    def _pod(self) -> None:
        c = self.cluster
        c.kubectl("create", "namespace", NS)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD, "namespace": NS},
               "spec": {"nodeSelector": {NODE_LABEL[0]: NODE_LABEL[1]},
                        "containers": [{"name": "c", "image": "fake",
                                        "ports": [{"containerPort": TARGET_PORT}]}]}}
        c.kubectl("create", "-f", "-", input=json.dumps(pod))
        c.wait_for("the pod Running on a kwok node", lambda: c.get(
            "pod", "-n", NS, POD, check=False).get("status", {}).get("phase") == "Running", 120)

    def close(self) -> None:
        if self.http.poll() is None:
            self.http.kill()
        self.http.wait(10)
        if os.environ.get("KUBEAPI_INTEROP_KEEP"):
            self.cluster.keep_logs = True
        self.cluster.stop()
        self.host.close()
        if not self.cluster.keep_logs:
            import shutil
            shutil.rmtree(self.files, ignore_errors=True)


_env: Env | BaseException | None = None


def env() -> Env:
    global _env
    if _env is None:
        try:
            _env = Env()
            atexit.register(_env.close)
        except BaseException as e:  # noqa: BLE001 - every test reports the same cause
            _env = e
    if isinstance(_env, BaseException):
        raise AssertionError(f"the kwok streams cluster did not come up: {_env}")
    return _env


def _skip() -> str | None:
    return cluster_skip_reason() or hosts_skip_reason()


SKIP = _skip()


class KubectlStreamsOnKwok(unittest.TestCase):
    skip = SKIP

    def setUp(self) -> None:
        self.env = env()
        self.c = self.env.cluster

    def kubectl(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.c.kubectl("-n", NS, *args, **kw)

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        s = self.c.server
        cmd = [kubectl_binary(), f"--kubeconfig={s.kubeconfig}", "--context=plain", "-n", NS, *args]
        # Unbuffered: readline() after select() must not leave lines in a Python-side buffer
        # that select() cannot see.
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                                env=dict(os.environ, HOME=s.tmp), start_new_session=True)

    def node(self) -> str:
        return str(self.c.get("pod", "-n", NS, POD)["spec"]["nodeName"])

    def test_node_reports_the_kwok_server(self) -> None:
        node = self.c.get("node", self.node())
        self.assertIn({"type": "InternalIP", "address": self.env.host.gateway}, node["status"]["addresses"])
        self.assertEqual(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], KUBELET_PORT)

    def test_get_raw_node_proxy_healthz(self) -> None:
        self.assertEqual(self.c.kubectl("get", "--raw", f"/api/v1/nodes/{self.node()}/proxy/healthz").stdout, "ok")

    def test_logs(self) -> None:
        self.assertEqual(self.kubectl("logs", POD).stdout, "line 1\nline 2\nline 3\n")
        self.assertEqual(self.kubectl("logs", POD, "--tail=1").stdout, "line 3\n")

    def test_logs_follow(self) -> None:
        proc = self.popen("logs", "-f", POD)
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            deadline = time.monotonic() + 30
            appended = False
            while time.monotonic() < deadline and "followed 2" not in lines:
                if len(lines) >= 3 and not appended:
                    with open(self.env.log_file, "a") as f:
                        f.write(_log_line("followed 1"))
                        f.flush()
                        time.sleep(0.5)
                        f.write(_log_line("followed 2"))
                    appended = True
                ready, _, _ = select.select([proc.stdout], [], [], 0.5)
                if ready:
                    line = proc.stdout.readline().decode()
                    if not line:
                        break
                    lines.append(line.strip())
            self.assertEqual(lines, ["line 1", "line 2", "line 3", "followed 1", "followed 2"])
            self.assertIsNone(proc.poll())  # still following
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate(timeout=10)

    def test_exec(self) -> None:
        self.assertEqual(self.kubectl("exec", POD, "--", "echo", "hi").stdout, "hi\n")
        # kwok runs the command locally with the ClusterExec's environment and directory.
        out = self.kubectl("exec", POD, "--", "sh", "-c", 'echo "$KWOK_STREAMS $(pwd)"').stdout
        self.assertEqual(out, f"yes {self.env.files}\n")
        # kwok limit: its exec wraps the command's *exec.ExitError (utils/exec: "cmd wait: ...: %w"),
        # and k8s.io/cri-streaming recognises an exit code only by a type assertion on the error it
        # gets, so a non-zero exit arrives as an internal error (kubectl exits 1), not as upstream's
        # NonZeroExitCode status ("command terminated with exit code 3").
        p = self.kubectl("exec", POD, "--", "sh", "-c", "exit 3", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("error executing command in container: cmd wait: sh -c exit 3: exit status 3", p.stderr)

    def test_exec_interactive_under_a_pty(self) -> None:
        s = self.c.server
        session = PtySession([kubectl_binary(), f"--kubeconfig={s.kubeconfig}", "--context=plain", "-n", NS,
                              "exec", "-it", POD, "--", "sh"], s.tmp)
        try:
            time.sleep(1.0)  # let kubectl put the terminal in raw mode and connect
            # The shell under kwok's pty computes the answer: a local echo could not contain 42.
            session.write(b"echo tty=$(tty | cut -c1-8) sum=$((40+2))\r")
            self.assertIn(b"tty=/dev/pts sum=42", session.read_until(b"sum=42"))
            session.write(b"exit 0\r")
            status = session.wait()
            self.assertIsNotNone(status)
            assert status is not None
            self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, session.seen))
        finally:
            session.close()

    def test_attach(self) -> None:
        # kwok's attach follows its ClusterAttach logs file from its end (tail 0): only lines
        # written after kubectl attached arrive; the test writes one until kubectl prints it.
        proc = self.popen("attach", POD)
        try:
            assert proc.stdout is not None
            ready: list[Any] = []
            deadline = time.monotonic() + 30
            while not ready and time.monotonic() < deadline:
                with open(self.env.attach_file, "a") as f:
                    f.write(_log_line("attached"))
                ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            self.assertTrue(ready, "nothing from kubectl attach")
            self.assertEqual(proc.stdout.readline().decode(), "attached\n")
            self.assertIsNone(proc.poll())  # still attached
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate(timeout=10)

    def test_port_forward_then_curl(self) -> None:
        local = free_port()
        proc = self.popen("port-forward", f"pod/{POD}", f"{local}:{TARGET_PORT}")
        try:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            self.assertTrue(ready, "kubectl port-forward printed nothing")
            self.assertEqual(proc.stdout.readline().decode().strip(),
                             f"Forwarding from 127.0.0.1:{local} -> {TARGET_PORT}")
            for _ in range(2):  # two connections through the same forward
                out = subprocess.run(["curl", "-sS", "--max-time", "20", f"http://127.0.0.1:{local}/"],
                                     capture_output=True, timeout=30)
                self.assertEqual((out.returncode, out.stdout.decode()), (0, MARKER), out.stderr)
            # kubectl's websocket (SPDY/3.1+portforward.k8s.io) was tunnelled by kubeapi as SPDY to
            # kwok: a websocket reaching kwok would have been refused there (its websocket
            # port-forward wants ?port=, logged as NewV4Options) and kubectl would have fallen back.
            self.assertNotIn('"msg":"NewV4Options"', self.c.components["kwok"].log())
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate(timeout=10)

    def test_kubectl_proxy_then_curl(self) -> None:
        s = self.c.server
        port = free_port()
        cmd = [kubectl_binary(), f"--kubeconfig={s.kubeconfig}", "--context=plain", "proxy", f"--port={port}"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=dict(os.environ, HOME=s.tmp), start_new_session=True)
        try:
            body = b""
            for _ in range(100):
                try:
                    with urllib.request.urlopen(
                            f"http://127.0.0.1:{port}/api/v1/nodes/{self.node()}/proxy/healthz", timeout=5) as r:
                        body = r.read()
                        break
                except OSError:
                    time.sleep(0.2)
            self.assertEqual(body, b"ok")
            out = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{port}/api/v1/namespaces/{NS}/pods/{POD}/log"],
                                 capture_output=True, timeout=30)
            self.assertEqual(out.stdout.decode().splitlines()[:3], ["line 1", "line 2", "line 3"])
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate(timeout=10)
