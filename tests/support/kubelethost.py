"""A fake kubelet (tests.support.fakekubelet) running in its own TestHost, with the PKI the
API server needs to reach it: a kubelet CA and serving certificate for the host's address,
and a client certificate (own CA) that the fake kubelet requires."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time

from cryptography.hazmat.primitives import serialization

from kubeapi.auth.authn.pki import issue, make_ca
from tests.support.testhosts import TestHost, skip_reason

__all__ = ["KubeletHost", "skip_reason"]
PORT = 10250


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return path


def _pem(cert: object, key: object) -> tuple[bytes, bytes]:
    c = cert.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined]
    k = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,  # type: ignore[attr-defined]
                          serialization.NoEncryption())
    return c, k


class KubeletHost:
    """``address``:``port`` serves the fake kubelet; ``ca``/``client_cert``/``client_key`` are
    what --kubelet-certificate-authority / --kubelet-client-certificate / -key take."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="fake-kubelet-")
        self.host = TestHost.create()
        self.address = self.host.address
        self.port = PORT
        kubelet_ca = make_ca("fake-kubelet-ca")
        client_ca = make_ca("apiserver-kubelet-client-ca")
        self.ca = _write(os.path.join(self.dir, "kubelet-ca.crt"), _pem(*kubelet_ca)[0])
        client_ca_path = _write(os.path.join(self.dir, "client-ca.crt"), _pem(*client_ca)[0])
        cert, key = _pem(*issue(kubelet_ca, "fake-kubelet", server_names=[self.address]))
        serving_cert = _write(os.path.join(self.dir, "kubelet.crt"), cert)
        serving_key = _write(os.path.join(self.dir, "kubelet.key"), key)
        cert, key = _pem(*issue(client_ca, "kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",)))
        self.client_cert = _write(os.path.join(self.dir, "client.crt"), cert)
        self.client_key = _write(os.path.join(self.dir, "client.key"), key)
        self.proc = self.host.spawn_python(
            "tests.support.fakekubelet", "--address", self.address, "--port", str(self.port),
            "--cert", serving_cert, "--key", serving_key, "--client-ca", client_ca_path,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        seen = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                seen += line
                if line.strip() == b"ready":
                    return
            if self.proc.poll() is not None:
                break
        self.close()
        raise RuntimeError(f"fake kubelet did not start:\n{seen.decode(errors='replace')}")

    def node(self, name: str, address_type: str = "InternalIP", address: str | None = None) -> dict[str, object]:
        """A Node object pointing at this kubelet."""
        return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                "status": {"addresses": [{"type": address_type, "address": address or self.address}],
                           "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}}}}

    def close(self) -> None:
        self.host.close()
        shutil.rmtree(self.dir, ignore_errors=True)
