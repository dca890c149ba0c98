"""Start the real server (`twistd -n kubeapi`) in a subprocess and drive it as users do.

The server is a separate process, so the tests may block on kubectl and on the official
Python client without starving it.  One server is shared per test module (started on first
use, stopped at interpreter exit); every test works in its own namespace.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
KUBECTL_133 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"


def kubectl_binary() -> str:
    """$KUBEAPI_E2E_KUBECTL if set (to try another version), else the newest kubectl we have
    (1.33 matches our API level), else the one on PATH."""
    chosen = os.environ.get("KUBEAPI_E2E_KUBECTL")
    if chosen:
        return chosen
    return KUBECTL_133 if os.path.exists(KUBECTL_133) else KUBECTL


class ServerProcess:
    def __init__(self, *extra_args: str, data_dir: str | None = None, cert_dir: str | None = None,
                 etcd_servers: list[str] | None = None) -> None:
        self.tmp = tempfile.mkdtemp(prefix="kubeapi-e2e-")
        self.etcd_servers = list(etcd_servers or [])
        self.etcd_cluster: Any = None  # the tests.support.etcd.EtcdCluster behind it, if any
        if self.etcd_servers:
            extra_args = (f"--etcd-servers={','.join(self.etcd_servers)}", *extra_args)
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.cert_dir = cert_dir or os.path.join(self.tmp, "certs")
        self.secure_port = free_port()
        self.insecure_port = free_port()
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(self.tmp, "server.log")
        # Not tmp/kubeconfig: the server writes its admin kubeconfig there (beside the data dir).
        self.kubeconfig = os.path.join(self.tmp, "e2e.kubeconfig")
        self._write_kubeconfig()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.insecure_port}"

    @property
    def secure_url(self) -> str:
        return f"https://127.0.0.1:{self.secure_port}"

    def command(self) -> list[str]:
        return [
            sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=", "kubeapi",
            f"--secure-port={self.secure_port}", "--bind-address=127.0.0.1",
            f"--insecure-port={self.insecure_port}", "--insecure-bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--data-dir={self.data_dir}", f"--cert-dir={self.cert_dir}",
            *self.extra_args,
        ]

    def start(self, timeout: float = 30.0) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                message = f"server exited with {self.proc.returncode}:\n{self.log()}"
                self.cleanup()
                raise RuntimeError(message)
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        message = f"server not ready in {timeout}s:\n{self.log()}"
        self.cleanup()
        raise RuntimeError(message)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def _write_kubeconfig(self) -> None:
        cfg = {
            "apiVersion": "v1", "kind": "Config", "current-context": "plain",
            "clusters": [
                {"name": "plain", "cluster": {"server": self.url}},
                # Verified TLS with the admin client certificate the first start writes.
                {"name": "tls", "cluster": {"server": self.secure_url,
                                            "certificate-authority": os.path.join(self.cert_dir, "ca.crt")}},
            ],
            "users": [{"name": "admin", "user": {}},
                      {"name": "tls-admin", "user": {
                          "client-certificate": os.path.join(self.cert_dir, "admin.crt"),
                          "client-key": os.path.join(self.cert_dir, "admin.key")}}],
            "contexts": [
                {"name": "plain", "context": {"cluster": "plain", "user": "admin"}},
                {"name": "tls", "context": {"cluster": "tls", "user": "tls-admin"}},
            ],
        }
        Path(self.kubeconfig).write_text(json.dumps(cfg))

    # -- driving it --------------------------------------------------------------------------

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, context: str = "plain",
                timeout: float = 60.0, env: dict[str, str] | None = None,
                binary: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [binary or kubectl_binary(), f"--kubeconfig={self.kubeconfig}", f"--context={context}", *args]
        full_env = dict(os.environ, HOME=self.tmp, **(env or {}))
        full_env.pop("KUBECONFIG", None)
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=full_env,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd[1:])} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def kubectl_json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json", **kw).stdout)

    def client(self) -> Any:
        """An ApiClient of the official `kubernetes` package, pointed at the insecure port."""
        from kubernetes import client

        conf = client.Configuration()
        conf.host = self.url
        return client.ApiClient(conf)

    def raw(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        if data is not None and "Content-Type" not in (headers or {}):
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


_shared: ServerProcess | None = None


def shared_server() -> ServerProcess:
    """One server for every e2e test in this process; stopped when the interpreter exits."""
    global _shared
    if _shared is None:
        server = ServerProcess()
        server.start()
        atexit.register(server.cleanup)
        _shared = server
    return _shared


_shared_etcd: ServerProcess | None = None


def shared_etcd_server() -> ServerProcess:
    """Like ``shared_server`` but on a real single-member etcd (one etcd + one kubeapi per
    process), so the same suites run on the etcd backend; both stop at interpreter exit."""
    global _shared_etcd
    if _shared_etcd is None:
        from tests.support.etcd import EtcdCluster

        cluster = EtcdCluster(1).start_blocking()
        atexit.register(cluster.stop)
        server = ServerProcess(etcd_servers=cluster.endpoints)
        try:
            server.start()
        except BaseException:
            server.cleanup()
            raise
        atexit.register(server.cleanup)  # runs before cluster.stop (atexit is LIFO)
        server.etcd_cluster = cluster
        _shared_etcd = server
    return _shared_etcd


def etcdctl(endpoints: list[str], *args: str, timeout: float = 30.0,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the shipped ``etcdctl`` (API v3) against ``endpoints``."""
    cmd = ["etcdctl", f"--endpoints={','.join(endpoints)}", "--command-timeout=10s", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, ETCDCTL_API="3"))
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def unique_namespace(server: ServerProcess, prefix: str = "e2e") -> str:
    ns = f"{prefix}-{uuid.uuid4().hex[:8]}"
    server.kubectl("create", "namespace", ns)
    return ns
