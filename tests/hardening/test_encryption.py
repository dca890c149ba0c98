"""Secrets at rest: the data dir is the owner's only, and --encryption-provider-config
encrypts values in storage with upstream's providers and prefixes, with key rotation."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import urllib.request
from typing import Any

from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from kubeapi.storage import encryption
from tests.e2e.harness import ServerProcess

KEY1 = base64.b64encode(b"1" * 32).decode()
KEY2 = base64.b64encode(b"2" * 32).decode()
ENCREAD = os.path.join(os.path.dirname(__file__), "encread")


def config(*providers: dict[str, Any], resources: tuple[str, ...] = ("secrets",)) -> str:
    return json.dumps({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
                       "resources": [{"resources": list(resources), "providers": list(providers)}]})


def keyed(kind: str, *keys: tuple[str, str]) -> dict[str, Any]:
    return {kind: {"keys": [{"name": n, "secret": s} for n, s in keys]}}


class Providers(unittest.TestCase):
    def test_each_provider_round_trips_with_its_prefix(self) -> None:
        for kind in ("aescbc", "aesgcm", "secretbox"):
            t = encryption.parse_config(config(keyed(kind, ("k1", KEY1)))).for_resource("", "secrets")
            assert t is not None
            stored = t.to_storage(b'{"data":"x"}', b"/registry/secrets/ns/a")
            self.assertTrue(stored.startswith(f"k8s:enc:{kind}:v1:k1:".encode()), stored[:30])
            self.assertNotIn(b'"data"', stored)
            self.assertEqual(t.from_storage(stored, b"/registry/secrets/ns/a"), b'{"data":"x"}')
        gcm = encryption.parse_config(config(keyed("aesgcm", ("k1", KEY1)))).for_resource("", "secrets")
        assert gcm is not None
        stored = gcm.to_storage(b"v", b"/registry/secrets/ns/a")
        with self.assertRaises(encryption.DecryptError):  # bound to its key
            gcm.from_storage(stored, b"/registry/secrets/ns/b")

    def test_rotation_first_writes_all_read(self) -> None:
        old = encryption.parse_config(config(keyed("aescbc", ("key1", KEY1)))).for_resource("", "secrets")
        new = encryption.parse_config(config(keyed("aescbc", ("key2", KEY2), ("key1", KEY1)),
                                             {"identity": {}})).for_resource("", "secrets")
        assert old is not None and new is not None
        written = old.to_storage(b"secret", b"k")
        self.assertEqual(new.from_storage(written, b"k"), b"secret")
        self.assertTrue(new.to_storage(b"secret", b"k").startswith(b"k8s:enc:aescbc:v1:key2:"))
        self.assertEqual(new.from_storage(b"plain", b"k"), b"plain")  # identity reads plaintext
        with self.assertRaises(encryption.DecryptError):
            old.from_storage(b"plain", b"k")

    def test_bad_configs_are_refused(self) -> None:
        for text in ("kind: Nope", config(keyed("aescbc", ("k", base64.b64encode(b"short").decode()))),
                     config({"kms": {"name": "x"}}), config(keyed("secretbox", ("k", "!!!")))):
            with self.assertRaises(encryption.ConfigError):
                encryption.parse_config(text)

    def test_wildcards(self) -> None:
        c = encryption.parse_config(config({"identity": {}}, resources=("*.apps", "configmaps")))
        self.assertIsNotNone(c.for_resource("apps", "deployments"))
        self.assertIsNotNone(c.for_resource("", "configmaps"))
        self.assertIsNone(c.for_resource("", "secrets"))
        self.assertIsNotNone(encryption.parse_config(config({"identity": {}}, resources=("*.*",)))
                             .for_resource("batch", "jobs"))


class AtRest(unittest.TestCase):
    """The real server process: perms of its data dir, values in its database file."""

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="kubeapi-enc-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.data = os.path.join(self.tmp, "data")
        self.cfg = os.path.join(self.tmp, "enc.yaml")

    def serve(self, cfg_text: str | None) -> ServerProcess:
        args = []
        if cfg_text is not None:
            with open(self.cfg, "w") as f:
                f.write(cfg_text)
            args.append(f"--encryption-provider-config={self.cfg}")
        s = ServerProcess(*args, data_dir=self.data)
        self.addCleanup(s.cleanup)
        s.start()
        return s

    def request(self, s: ServerProcess, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(s.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stored(self, key: str) -> bytes:
        conn = sqlite3.connect(f"file:{os.path.join(self.data, 'kubeapi.db')}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1", (key,)).fetchone()
        finally:
            conn.close()
        return bytes(row[0])

    def _flow(self) -> None:
        s = self.serve(config(keyed("aescbc", ("key1", KEY1))))
        secret = {"metadata": {"name": "s1"}, "stringData": {"password": "hunter2-very-secret"}}
        self.request(s, "POST", "/api/v1/namespaces/default/secrets", secret)
        got = self.request(s, "GET", "/api/v1/namespaces/default/secrets/s1")
        self.assertEqual(base64.b64decode(got["data"]["password"]), b"hunter2-very-secret")
        s.stop()
        self.assertEqual(stat.S_IMODE(os.stat(self.data).st_mode), 0o700)
        for name in os.listdir(self.data):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.data, name)).st_mode), 0o600, name)
        raw = self.stored("/registry/secrets/default/s1")
        self.assertTrue(raw.startswith(b"k8s:enc:aescbc:v1:key1:"), raw[:40])
        for name in os.listdir(self.data):
            with open(os.path.join(self.data, name), "rb") as f:
                self.assertNotIn(base64.b64encode(b"hunter2-very-secret"), f.read(), name)

        # rotate: key2 first, key1 still readable
        s = self.serve(config(keyed("aescbc", ("key2", KEY2), ("key1", KEY1))))
        got = self.request(s, "GET", "/api/v1/namespaces/default/secrets/s1")
        self.assertEqual(base64.b64decode(got["data"]["password"]), b"hunter2-very-secret")
        got["metadata"]["labels"] = {"rotated": "yes"}
        self.request(s, "PUT", "/api/v1/namespaces/default/secrets/s1", got)
        s.stop()
        self.assertTrue(self.stored("/registry/secrets/default/s1").startswith(b"k8s:enc:aescbc:v1:key2:"))

    def test_encrypted_at_rest_owner_only_and_rotation(self) -> Any:
        return deferToThread(self._flow)


class UpstreamReads(unittest.TestCase):
    """kube-apiserver's own EncryptionConfiguration code (k8s.io/apiserver v0.34.4, built from
    the local Go module cache by tests/hardening/encread) reads what we write, for every
    provider, and we read what it writes."""

    timeout = 1200  # the first run compiles the Go reader

    def _check(self) -> None:
        binary = _encread()
        if binary is None:
            raise unittest.SkipTest("Go or the k8s.io/apiserver module is not available")
        tmp = tempfile.mkdtemp(prefix="kubeapi-encread-")
        self.addCleanup(shutil.rmtree, tmp, True)
        key = "/registry/secrets/default/s1"
        for kind in ("aescbc", "aesgcm", "secretbox"):
            cfg_text = config(keyed(kind, ("key1", KEY1)))
            cfg = os.path.join(tmp, f"{kind}.yaml")
            with open(cfg, "w") as f:
                f.write(cfg_text)
            t = encryption.parse_config(cfg_text).for_resource("", "secrets")
            assert t is not None
            ours = os.path.join(tmp, f"{kind}.ours")
            with open(ours, "wb") as f:
                f.write(t.to_storage(b"plain-value", key.encode()))
            out = subprocess.run([binary, cfg, "secrets", key, ours, "read"], capture_output=True, timeout=60)
            self.assertEqual((out.returncode, out.stdout), (0, b"plain-value"), (kind, out.stderr))
            plain = os.path.join(tmp, "plain")
            with open(plain, "wb") as f:
                f.write(b"their-value")
            out = subprocess.run([binary, cfg, "secrets", key, plain, "write"], capture_output=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertTrue(out.stdout.startswith(f"k8s:enc:{kind}:v1:key1:".encode()))
            self.assertEqual(t.from_storage(out.stdout, key.encode()), b"their-value")

    def test_kube_apiserver_code_reads_ours_and_we_read_its(self) -> Any:
        return deferToThread(self._check)


def _encread() -> str | None:
    """Build (once) the Go reader; None when Go or the module cache is missing."""
    out = os.path.join(tempfile.gettempdir(), "kubeapi-encread")
    if os.path.exists(out):
        return out
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.path.exists(go):
        return None
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOSUMDB="off")
    try:
        r = subprocess.run([go, "build", "-o", out, "."], cwd=ENCREAD, env=env, capture_output=True, timeout=900)
    except subprocess.TimeoutExpired:
        return None
    return out if r.returncode == 0 else None
