"""Pieces of authentication that need no server: JWS, token file, flags, PKI reuse, the union."""

from __future__ import annotations

import os
import stat
import tempfile
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from twisted.internet import defer
from twisted.trial import unittest
from twisted.web.test.requesthelper import DummyRequest

from kubeapi.auth.authenticator import RequestAuthenticator, TokenError
from kubeapi.auth.authn import jwt, pki
from kubeapi.auth.authn.tokenfile import load_token_file
from kubeapi.auth.user import UserInfo
from kubeapi.errors import StatusError
from kubeapi.options import Options


class JWSTests(unittest.TestCase):
    def test_round_trip_rsa_and_ecdsa(self) -> None:
        for key in (rsa.generate_private_key(public_exponent=65537, key_size=2048),
                    ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP384R1())):
            token = jwt.sign({"sub": "x"}, key)
            header, _ = jwt.unverified_claims(token)
            self.assertEqual(header["kid"], jwt.key_id(key.public_key()))
            self.assertEqual(jwt.verify(token, [key.public_key()]), {"sub": "x"})
            other = ec.generate_private_key(ec.SECP256R1())
            self.assertRaises(jwt.JWTError, jwt.verify, token, [other.public_key()])
            head, body, sig = token.split(".")
            tampered = head + "." + jwt.b64url(b'{"sub":"admin"}') + "." + sig
            self.assertRaises(jwt.JWTError, jwt.verify, tampered, [key.public_key()])

    def test_public_keys_from_any_pem(self) -> None:
        from cryptography.hazmat.primitives import serialization

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption())
        ca = pki.make_ca()
        cert = ca[0].public_bytes(serialization.Encoding.PEM)
        found = jwt.load_public_keys(pub + priv + cert)
        self.assertEqual([jwt.key_id(k) for k in found],
                         [jwt.key_id(key.public_key())] * 2 + [jwt.key_id(ca[0].public_key())])  # type: ignore[arg-type]


class TokenFileTests(unittest.TestCase):
    def _file(self, text: str) -> str:
        fd, path = tempfile.mkstemp()
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def test_columns(self) -> None:
        tokens = load_token_file(self._file('t1,alice,1,"a,b"\nt2,bob,2\n\n'))
        self.assertEqual(tokens["t1"], UserInfo("alice", uid="1", groups=("a", "b")))
        self.assertEqual(tokens["t2"], UserInfo("bob", uid="2"))

    def test_too_few_columns(self) -> None:
        with self.assertRaises(ValueError) as e:
            load_token_file(self._file("t1,alice\n"))
        self.assertIn("must have at least 3 columns", str(e.exception))


class FlagTests(unittest.TestCase):
    def test_repeatable_flags_and_yaml_lists(self) -> None:
        d = tempfile.mkdtemp()
        with open(os.path.join(d, "kubeapi.yaml"), "w") as f:
            f.write("service-account-issuer: [https://a.example, https://b.example]\n"
                    "api-audiences: x,y\ntls-min-version: VersionTLS13\n")
        o = Options()
        o.parseOptions([f"--config={d}", "--service-account-issuer=https://c.example"])
        self.assertEqual(o["service-account-issuer"], ["https://a.example", "https://b.example", "https://c.example"])
        self.assertEqual(o["api-audiences"], ["x", "y"])
        self.assertEqual(o["tls-min-version"], "VersionTLS13")

    def test_bad_values_are_one_line(self) -> None:
        from twisted.python.usage import UsageError

        for args, message in (
                (["--tls-min-version=VersionTLS10"], "--tls-min-version: unknown tls version"),
                (["--tls-cipher-suites=NOPE"], "--tls-cipher-suites: Cipher suite NOPE not supported"),
                (["--tls-sni-cert-key=onlyone"], "--tls-sni-cert-key: expected comma separated"),
                (["--authentication-token-webhook-version=v2"], "--authentication-token-webhook-version")):
            with self.assertRaises(UsageError) as e:
                Options().parseOptions(args)
            self.assertTrue(str(e.exception).startswith(message), str(e.exception))


class PKITests(unittest.TestCase):
    def test_reused_and_renewed_for_new_names(self) -> None:
        d = os.path.join(tempfile.mkdtemp(), "certs")
        kc = os.path.join(os.path.dirname(d), "kubeconfig")
        first = pki.bootstrap(d, serving_names=["127.0.0.1", "localhost"], make_clients=True, make_sa_keys=True,
                              server="https://127.0.0.1:6443", admin_kubeconfig=kc)
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(kc).st_mode), 0o600)
        before = {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}
        pki.bootstrap(d, serving_names=["127.0.0.1", "localhost"], make_clients=True, make_sa_keys=True,
                      server="https://127.0.0.1:6443", admin_kubeconfig=kc)
        self.assertEqual({n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}, before)
        pki.bootstrap(d, serving_names=["127.0.0.1", "10.9.9.9"], make_clients=False, make_sa_keys=False,
                      server="", admin_kubeconfig="")
        self.assertNotEqual(open(first.tls_cert_file, "rb").read(), before["apiserver.crt"])
        self.assertEqual(open(os.path.join(d, "ca.crt"), "rb").read(), before["ca.crt"])


class _Tokens:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    async def authenticate_token(self, token: str) -> UserInfo | None:
        answer = self.answers.get(token)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]


class UnionTests(unittest.TestCase):
    def _request(self, token: str | None) -> DummyRequest:
        r = DummyRequest([b""])
        if token:
            r.requestHeaders.addRawHeader(b"authorization", f"Bearer {token}".encode())
        return r

    def test_first_answer_wins_and_errors_are_401(self) -> defer.Deferred[None]:
        async def go() -> None:
            auth = RequestAuthenticator(tokens=[_Tokens({"bad": TokenError("expired")}),
                                                _Tokens({"good": UserInfo("u", groups=("g",)),
                                                         "bad": UserInfo("never")})],
                                        anonymous=True)
            user = await auth.authenticate_request(self._request("good"))
            self.assertEqual(user, UserInfo("u", groups=("g", "system:authenticated")))
            # the first says "bad credentials"; the second still answers (union, first success wins)
            self.assertEqual((await auth.authenticate_request(self._request("bad"))).name, "never")
            with self.assertRaises(StatusError) as e:
                await auth.authenticate_request(self._request("unknown"))
            self.assertEqual(e.exception.code, 401)
            self.assertEqual((await auth.authenticate_request(self._request(None))).name, "system:anonymous")
            user_, errors = await auth.authenticate_token("unknown")
            self.assertEqual((user_, errors), (None, []))

        return defer.ensureDeferred(go())


class GivenServingCertTests(unittest.TestCase):
    def test_kubeconfig_trusts_the_given_chain_root(self) -> None:
        import yaml
        from cryptography.hazmat.primitives import serialization

        d = tempfile.mkdtemp()
        own = pki.make_ca("their-ca")
        cert, key = pki.issue(own, "srv", server_names=["127.0.0.1"])
        tls = os.path.join(d, "tls.crt")
        with open(tls, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM) + own[0].public_bytes(serialization.Encoding.PEM))
        certs = os.path.join(d, "certs")
        result = pki.bootstrap(certs, serving_names=None, make_clients=True, make_sa_keys=False,
                               server="https://127.0.0.1:6443", admin_kubeconfig="", tls_cert_file=tls)
        self.assertEqual(result.tls_cert_file, "")
        self.assertFalse(os.path.exists(os.path.join(certs, "apiserver.crt")))
        doc = yaml.safe_load(open(os.path.join(certs, "admin.kubeconfig")))
        import base64

        self.assertEqual(base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]),
                         own[0].public_bytes(serialization.Encoding.PEM))
