"""The reference Go kube-apiserver (v1.34, from ``interop/build.sh``) in a subprocess.

It stands in for ``tests.e2e.harness.ServerProcess`` where a run compares kubeapi with
upstream side by side (``bench/cluster.py``): same etcd, same components, same kubectl.
kube-apiserver has no insecure port, so every client (kubectl and the components) uses a
static admin token over HTTPS without verifying the self-signed serving certificate.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.harness import ServerProcess
from tests.interop.cluster import BIN, _die_with_parent, write_service_account_keys

TOKEN = "interop-admin-token"


class ReferenceServer(ServerProcess):
    """kube-apiserver on ``etcd_servers`` with AlwaysAllow and a ``system:masters`` token."""

    def __init__(self, etcd_servers: list[str]) -> None:
        super().__init__(etcd_servers=etcd_servers)
        Path(self.tmp, "tokens.csv").write_text(f'{TOKEN},admin,admin,"system:masters"\n')

    @property
    def url(self) -> str:
        return self.secure_url

    def command(self) -> list[str]:
        sa = Path(self.tmp)
        return [
            str(BIN / "kube-apiserver"), f"--etcd-servers={','.join(self.etcd_servers)}",
            f"--secure-port={self.secure_port}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--cert-dir={self.cert_dir}", f"--token-auth-file={sa / 'tokens.csv'}",
            "--authorization-mode=AlwaysAllow", "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={sa / 'sa.pub'}", f"--service-account-signing-key-file={sa / 'sa.key'}",
        ]

    def component_user(self, component: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"server": self.secure_url, "insecure-skip-tls-verify": True}, {"token": TOKEN}

    def _write_kubeconfig(self) -> None:
        cfg = {
            "apiVersion": "v1", "kind": "Config", "current-context": "plain",
            "clusters": [{"name": "tls", "cluster": {"server": self.secure_url, "insecure-skip-tls-verify": True}}],
            "users": [{"name": "admin", "user": {"token": TOKEN}}],
            "contexts": [{"name": n, "context": {"cluster": "tls", "user": "admin"}} for n in ("plain", "tls")],
        }
        Path(self.kubeconfig).write_text(json.dumps(cfg))

    def start(self, timeout: float = 60.0) -> None:
        if not Path(self.tmp, "sa.key").exists():  # a Cluster writes them first; alone, we do
            write_service_account_keys(Path(self.tmp))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        log.close()
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kube-apiserver exited with {self.proc.returncode}:\n{self.log()}")
            req = urllib.request.Request(self.secure_url + "/readyz", headers={"Authorization": f"Bearer {TOKEN}"})
            try:
                with urllib.request.urlopen(req, timeout=2, context=ctx) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"kube-apiserver not ready in {timeout}s:\n{self.log()}")

    def metrics(self) -> str:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        req = urllib.request.Request(self.secure_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
            return r.read().decode()
