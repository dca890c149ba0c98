"""Helpers for the authentication end-to-end tests: certificates, curl, a TokenReview webhook."""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import os
import ssl
import subprocess
import threading
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubeapi.auth.authn import pki


def write_pair(directory: str, base: str, cert: x509.Certificate, key: Any) -> tuple[str, str]:
    crt, k = os.path.join(directory, base + ".crt"), os.path.join(directory, base + ".key")
    with open(crt, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(k, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(k, 0o600)
    return crt, k


def load_ca(cert_dir: str) -> tuple[x509.Certificate, Any]:
    with open(os.path.join(cert_dir, "ca.crt"), "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(cert_dir, "ca.key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return cert, key


def client_cert(directory: str, base: str, ca: tuple[x509.Certificate, Any], cn: str,
                orgs: tuple[str, ...] = (), expired: bool = False) -> tuple[str, str]:
    now = datetime.datetime.now(datetime.UTC)
    if expired:
        cert, key = pki.issue(ca, cn, orgs, not_before=now - datetime.timedelta(days=2),
                              not_after=now - datetime.timedelta(days=1))
    else:
        cert, key = pki.issue(ca, cn, orgs)
    return write_pair(directory, base, cert, key)


def curl(url: str, *, cacert: str, cert: tuple[str, str] | None = None, token: str | None = None,
         headers: dict[str, str] | None = None, method: str = "GET", body: Any = None,
         extra: tuple[str, ...] = ()) -> tuple[int, Any, int]:
    """(HTTP code, JSON body or text, curl exit code) — real curl with full verification."""
    cmd = ["curl", "-sS", "--max-time", "20", "--cacert", cacert, "-o", "-", "-w", "\n%{http_code}",
           "-X", method, *extra]
    if cert:
        cmd += ["--cert", cert[0], "--key", cert[1]]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    cmd.append(url)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    out, _, code = p.stdout.rpartition("\n")
    try:
        parsed: Any = json.loads(out)
    except ValueError:
        parsed = out
    return int(code or 0), parsed, p.returncode


def kubeconfig_for(path: str, server: str, ca_file: str, *, token: str | None = None,
                   cert: tuple[str, str] | None = None) -> str:
    user: dict[str, Any] = {}
    if token:
        user["token"] = token
    if cert:
        user.update({"client-certificate": cert[0], "client-key": cert[1]})
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": ca_file}}],
           "users": [{"name": "u", "user": user}],
           "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


class TokenWebhook:
    """A TLS TokenReview webhook in a thread: ``tokens`` maps token -> username."""

    def __init__(self, directory: str, tokens: dict[str, str]) -> None:
        self.ca = pki.make_ca("webhook-ca")
        cert, key = pki.issue(self.ca, "webhook", server_names=["127.0.0.1"])
        self.cert_file, self.key_file = write_pair(directory, "webhook", cert, key)
        self.ca_file = os.path.join(directory, "webhook-ca.crt")
        with open(self.ca_file, "wb") as f:
            f.write(self.ca[0].public_bytes(serialization.Encoding.PEM))
        self.calls: list[dict[str, Any]] = []
        calls, known = self.calls, tokens

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                calls.append(review)
                name = known.get(review["spec"]["token"])
                status: dict[str, Any] = {"authenticated": False}
                if name:
                    status = {"authenticated": True, "user": {"username": name, "uid": "wh-1",
                                                              "groups": ["hooked"]}}
                body = json.dumps({"apiVersion": review["apiVersion"], "kind": "TokenReview",
                                   "status": status}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.config = os.path.join(directory, "webhook.kubeconfig")
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": "w",
               "clusters": [{"name": "w", "cluster": {
                   "server": f"https://127.0.0.1:{self.port}/authenticate",
                   "certificate-authority-data": base64.b64encode(open(self.ca_file, "rb").read()).decode()}}],
               "users": [{"name": "apiserver", "user": {}}],
               "contexts": [{"name": "w", "context": {"cluster": "w", "user": "apiserver"}}]}
        with open(self.config, "w") as f:
            json.dump(doc, f)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
