"""The serving certificate, the TLS listener, and `twistd kubeapi` as a user starts it."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import SSL4ServerEndpoint
from twisted.internet.threads import deferToThread
from twisted.trial import unittest
from twisted.web.resource import Resource
from twisted.web.server import Site

from kubeapi.server import certs
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[1]
TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"


class SelfSignedCertTests(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="kubeapi-certs-")

    def test_generated_once_with_sans_and_private_key(self) -> None:
        names = certs.serving_names("192.168.7.7", "10.0.0.1")
        cert_path, key_path = certs.ensure_self_signed(self.dir, names)
        self.assertEqual(os.path.basename(cert_path), "apiserver.crt")
        self.assertEqual(os.path.basename(key_path), "apiserver.key")
        self.assertEqual(stat.S_IMODE(os.stat(key_path).st_mode), 0o600)
        sans = set(certs.cert_names(cert_path))
        self.assertEqual(sans, {"localhost", "127.0.0.1", "192.168.7.7", "10.0.0.1", "kubernetes",
                                "kubernetes.default", "kubernetes.default.svc",
                                "kubernetes.default.svc.cluster.local"})
        before = Path(cert_path).read_bytes(), Path(key_path).read_bytes()
        again = certs.ensure_self_signed(self.dir, certs.serving_names("10.9.9.9", "10.0.0.1"))
        self.assertEqual(again, (cert_path, key_path))
        self.assertEqual((Path(cert_path).read_bytes(), Path(key_path).read_bytes()), before)

    def test_unparsable_files_are_replaced(self) -> None:
        Path(self.dir, "apiserver.crt").write_text("garbage")
        Path(self.dir, "apiserver.key").write_text("garbage")
        cert_path, _ = certs.ensure_self_signed(self.dir, certs.serving_names("127.0.0.1", "10.0.0.1"))
        self.assertIn("kubernetes.default.svc", certs.cert_names(cert_path))


def _make_client_ca(directory: str) -> tuple[str, str, str]:
    """A CA file, and a client cert+key (CN=alice, O=devs) signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "devs")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, n) for n in ("ca.crt", "client.crt", "client.key")]
    Path(paths[0]).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    Path(paths[1]).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(paths[2]).write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    return paths[0], paths[1], paths[2]


class WhoAmI(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        cert = certs.verified_client_certificate(request.transport)
        presented = certs.peer_certificate(request.transport) is not None
        user, groups = certs.client_identity(cert) if cert is not None else ("", ())
        return json.dumps({"user": user, "groups": list(groups), "presented": presented}).encode()


class TLSListenerTests(unittest.TestCase):
    def setUp(self) -> Deferred[None]:  # type: ignore[override]
        self.dir = tempfile.mkdtemp(prefix="kubeapi-tls-")
        self.ca, self.client_cert, self.client_key = _make_client_ca(self.dir)
        self.cert, self.key = certs.ensure_self_signed(self.dir, certs.serving_names("127.0.0.1", "10.0.0.1"))
        factory = certs.ServerTLSContextFactory(self.cert, self.key, self.ca)
        d = SSL4ServerEndpoint(reactor, 0, factory, interface="127.0.0.1").listen(Site(WhoAmI()))

        def listening(port: Any) -> None:
            self.port = port
            self.addCleanup(port.stopListening)

        return d.addCallback(listening)

    def _get(self, context: ssl.SSLContext) -> tuple[dict[str, Any], str | None, str | None]:
        """Blocking HTTPS GET (run in a thread): (body, ALPN protocol, TLS version)."""
        port = self.port.getHost().port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
                alpn, version = tls.selected_alpn_protocol(), tls.version()
        body = data.split(b"\r\n\r\n", 1)[1]
        if b"transfer-encoding: chunked" in data.lower().split(b"\r\n\r\n")[0]:
            size, rest = body.split(b"\r\n", 1)
            body = rest[: int(size, 16)]
        return json.loads(body), alpn, version

    def _context(self, with_client_cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.cert)  # trust the self-signed serving cert
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        if with_client_cert:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx

    def test_client_cert_verified_against_client_ca(self) -> Deferred[None]:
        def check(result: tuple[dict[str, Any], str | None, str | None]) -> None:
            body, alpn, version = result
            self.assertEqual(body, {"user": "alice", "groups": ["devs"], "presented": True})
            self.assertEqual(alpn, "http/1.1")
            self.assertIn(version, ("TLSv1.2", "TLSv1.3"))

        return deferToThread(self._get, self._context(True)).addCallback(check)

    def test_no_client_cert_is_allowed(self) -> Deferred[None]:
        def check(result: tuple[dict[str, Any], str | None, str | None]) -> None:
            self.assertEqual(result[0], {"user": "", "groups": [], "presented": False})

        return deferToThread(self._get, self._context(False)).addCallback(check)

    def test_untrusted_client_cert_is_not_an_identity(self) -> Deferred[None]:
        other = tempfile.mkdtemp(prefix="kubeapi-other-")
        _, cert, key = _make_client_ca(other)  # same subject, different CA
        ctx = self._context(False)
        ctx.load_cert_chain(cert, key)

        def check(result: tuple[dict[str, Any], str | None, str | None]) -> None:
            self.assertEqual(result[0], {"user": "", "groups": [], "presented": True})

        return deferToThread(self._get, ctx).addCallback(check)

    def test_tls_1_1_refused(self) -> Deferred[None]:
        ctx = self._context(False)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        d: Deferred[Any] = deferToThread(self._get, ctx)
        return self.assertFailure(d, ssl.SSLError, OSError)


# ---------------------------------------------------------------------------------------------
# `twistd -n kubeapi` as a subprocess.


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
        ctx = ssl.create_default_context(cafile=os.path.join(cert_dir, "apiserver.crt"))
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
                          "(valid: AlwaysAllow, AlwaysDeny, RBAC, Node, Webhook)"])

    def test_python_m_kubeapi_is_twistd_kubeapi(self) -> Deferred[None]:
        return deferToThread(self._python_m_kubeapi)
