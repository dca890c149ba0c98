"""The serving certificate, the TLS listener, and `twistd kubeapi` as a user starts it."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[1]
TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"


class TwistdTests(unittest.TestCase):
    """Launch the real command on free loopback ports; every wait is bounded."""

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="kubeapi-svc-")
        self.procs: list[subprocess.Popen[bytes]] = []

    def tearDown(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)

    def command(self, *args: str) -> list[str]:
        """`twistd -n kubeapi ...` with this interpreter (twisted.scripts.twistd has no __main__)."""
        return [sys.executable, "-c", TWISTD, "-n", "--pidfile=", "kubeapi", *args]

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = open(os.path.join(self.tmp, "server.log"), "ab")
        self.addCleanup(log.close)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        p = subprocess.Popen(self.command(*args), cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def log(self) -> str:
        return Path(self.tmp, "server.log").read_text(errors="replace")

    def _wait_ready(self, p: subprocess.Popen[bytes], url: str, timeout: float = 30.0,
                    context: ssl.SSLContext | None = None) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if p.poll() is not None:
                self.fail(f"server exited with {p.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                last = (e.code, e.read().decode(errors="replace"))
            except OSError as e:
                last = e
            time.sleep(0.1)
        self.fail(f"{url} not ready in {timeout}s (last: {last}):\n{self.log()}")

    def _run_server(self) -> None:
        secure, insecure = free_port(), free_port()
        cert_dir = os.path.join(self.tmp, "certs")
        p = self.start(f"--secure-port={secure}", "--bind-address=127.0.0.1", f"--insecure-port={insecure}",
                       "--insecure-bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                       f"--data-dir={os.path.join(self.tmp, 'data')}", f"--cert-dir={cert_dir}")
        code, _ = self._wait_ready(p, f"http://127.0.0.1:{insecure}/readyz")
        self.assertEqual(code, 200)
        ctx = ssl.create_default_context(cafile=os.path.join(cert_dir, "ca.crt"))  # the generated cluster CA
        # AlwaysAllow turns anonymous off (as upstream): the generated admin certificate it is.
        ctx.load_cert_chain(os.path.join(cert_dir, "admin.crt"), os.path.join(cert_dir, "admin.key"))
        code, body = self._wait_ready(p, f"https://127.0.0.1:{secure}/readyz?verbose", context=ctx)
        self.assertEqual(code, 200)
        self.assertIn("poststarthook/bootstrap-controller ok", body)
        with urllib.request.urlopen(f"http://127.0.0.1:{insecure}/api/v1/namespaces/default/services/kubernetes",
                                    timeout=5) as r:
            svc = json.loads(r.read())
        self.assertEqual(svc["spec"]["clusterIP"], "10.0.0.1")
        self.assertEqual(svc["spec"]["ports"][0]["targetPort"], secure)
        log = self.log()
        self.assertIn(f"Serving securely on 127.0.0.1:{secure}", log)
        self.assertIn(f"Serving insecurely on 127.0.0.1:{insecure}", log)
        p.terminate()
        # twistd stops gracefully, then re-raises SIGTERM so the exit status tells why.
        self.assertIn(p.wait(15), (0, -signal.SIGTERM))
        self.assertIn("kubeapi: shutting down", self.log())
        self.assertIn("Server Shut Down.", self.log())

    def test_serves_readyz_on_both_ports(self) -> Deferred[None]:
        return deferToThread(self._run_server)

    def _bad_flag(self) -> None:
        port = free_port()
        p = subprocess.run(self.command(f"--insecure-port={port}", "--secure-port=70000"), cwd=str(REPO),
                           env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        out = (p.stdout + p.stderr).decode()
        self.assertEqual(out.strip().splitlines(),
                         ["kubeapi: --secure-port: 70000 must be between 1 and 65535, inclusive"])
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", port)), 0)  # nothing listens

    def test_bad_flag_exits_with_one_line(self) -> Deferred[None]:
        return deferToThread(self._bad_flag)

    def _port_in_use(self) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            p = subprocess.run(
                self.command(f"--secure-port={port}", "--bind-address=127.0.0.1", "--insecure-port=0",
                             "--advertise-address=127.0.0.1", f"--data-dir={os.path.join(self.tmp, 'd')}",
                             f"--cert-dir={os.path.join(self.tmp, 'c')}"),
                cwd=str(REPO), env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        last = (p.stdout + p.stderr).decode().strip().splitlines()[-1]
        self.assertIn(f"cannot listen on 127.0.0.1:{port}", last)

    def test_port_in_use_fails_at_start(self) -> Deferred[None]:
        return deferToThread(self._port_in_use)

    def _python_m_kubeapi(self) -> None:
        p = subprocess.run([sys.executable, "-m", "kubeapi", "--authorization-mode=Magic"], cwd=str(REPO),
                           env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertEqual((p.stdout + p.stderr).decode().strip().splitlines(),
                         ["kubeapi: --authorization-mode: 'Magic' is not a valid mode "
                          "(valid: AlwaysAllow, AlwaysDeny, ABAC, Webhook, RBAC, Node)"])

    def test_python_m_kubeapi_is_twistd_kubeapi(self) -> Deferred[None]:
        return deferToThread(self._python_m_kubeapi)
