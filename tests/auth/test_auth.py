"""Authentication (client certificates, bearer tokens, anonymous) and authorization
(AlwaysAllow/AlwaysDeny, system:masters) as a client sees them."""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from typing import Any

import treq
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet import defer, ssl
from twisted.internet import reactor as _reactor
from twisted.trial import unittest
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.iweb import IPolicyForHTTPS
from twisted.web.server import Site
from zope.interface import implementer

from kubeapi.auth import authorizer as authz
from kubeapi.auth.authenticator import verify_client_cert
from kubeapi.auth.user import UserInfo
from kubeapi.server.tls import ServingTLS
from tests.server.support import ServerTestCase
from tests.support.tls import generate_self_signed

W = "/apis/example.com/v1/namespaces/default/widgets"
reactor: Any = _reactor
NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


def make_cert(cn: str, orgs: tuple[str, ...] = (), issuer: tuple[x509.Certificate, Any] | None = None,
              ca: bool = False, not_after: datetime.datetime | None = None,
              eku: Any = ExtendedKeyUsageOID.CLIENT_AUTH) -> tuple[x509.Certificate, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]
                     + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs])
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (name, key)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(NOW - DAY)
         .not_valid_after(not_after or NOW + DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca and eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return b.sign(issuer_key, hashes.SHA256()), key


def attrs(**kw: Any) -> authz.Attributes:
    base: dict[str, Any] = {"user": UserInfo("bob"), "verb": "list", "is_resource_request": True}
    base.update(kw)
    return authz.Attributes(**base)


class ForbiddenMessages(unittest.TestCase):
    def test_messages(self) -> None:
        e = authz.forbidden_error(attrs(namespace="default", resource="pods"))
        self.assertEqual((e.code, e.reason), (403, "Forbidden"))
        self.assertEqual(e.message, 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" '
                                    'in the namespace "default"')
        e = authz.forbidden_error(attrs(verb="get", resource="nodes", name="n1", api_group=""))
        self.assertEqual(e.message, 'nodes "n1" is forbidden: User "bob" cannot get resource "nodes" in API group "" '
                                    "at the cluster scope")
        e = authz.forbidden_error(attrs(verb="get", resource="deployments", subresource="scale", name="d",
                                        api_group="apps", namespace="ns"), "no RBAC policy matched")
        self.assertEqual(e.message, 'deployments.apps "d" is forbidden: User "bob" cannot get resource '
                                    '"deployments/scale" in API group "apps" in the namespace "ns": '
                                    "no RBAC policy matched")
        self.assertEqual(e.details, {"name": "d", "group": "apps", "kind": "deployments"})
        e = authz.forbidden_error(attrs(verb="get", is_resource_request=False, path="/healthz"))
        self.assertEqual(e.message, 'forbidden: User "bob" cannot get path "/healthz"')


class ClientCertVerification(unittest.TestCase):
    def test_chain_rules(self) -> None:
        ca = make_cert("ca", ca=True)
        other_ca = make_cert("other", ca=True)
        good, _ = make_cert("alice", ("devs",), issuer=ca)
        self.assertTrue(verify_client_cert(good, [ca[0]]))
        self.assertFalse(verify_client_cert(good, [other_ca[0]]))
        self_signed, _ = make_cert("mallory")
        self.assertFalse(verify_client_cert(self_signed, [ca[0]]))
        expired, _ = make_cert("old", issuer=ca, not_after=NOW - datetime.timedelta(hours=1))
        self.assertFalse(verify_client_cert(expired, [ca[0]]))
        server_only, _ = make_cert("srv", issuer=ca, eku=ExtendedKeyUsageOID.SERVER_AUTH)
        self.assertFalse(verify_client_cert(server_only, [ca[0]]))
        inter = make_cert("inter", ca=True, issuer=ca)
        leaf, _ = make_cert("carol", issuer=inter)
        self.assertTrue(verify_client_cert(leaf, [ca[0]], [inter[0]]))
        self.assertFalse(verify_client_cert(leaf, [ca[0]]))


class Recorder:
    """An authorizer mode that remembers who asked, then allows."""

    seen: list[authz.Attributes] = []

    async def authorize(self, a: authz.Attributes) -> tuple[authz.Decision, str]:
        Recorder.seen.append(a)
        return authz.Decision.ALLOW, ""


class Tokens:
    async def authenticate_token(self, token: str) -> UserInfo | None:
        return UserInfo("tok-user", groups=("team",)) if token == "good" else None


class AuthOverHTTP(ServerTestCase):
    def setUp(self) -> None:
        Recorder.seen = []
        authz.AUTHORIZER_FACTORIES["TestRecorder"] = lambda _s: Recorder()
        self.addCleanup(authz.AUTHORIZER_FACTORIES.pop, "TestRecorder", None)

    def test_always_deny_forbids_but_masters_pass(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.start_server(authorization_mode=("AlwaysDeny",))
            code, body, _ = await self.call("GET", W, secure=True)
            self.assertEqual((code, body["reason"]), (403, "Forbidden"))
            self.assertEqual(body["message"],
                             'widgets.example.com is forbidden: User "system:anonymous" cannot list resource '
                             '"widgets" in API group "example.com" in the namespace "default": '
                             "Everything is forbidden.")
            code, _, _ = await self.call("GET", W)  # insecure port = system:masters
            self.assertEqual(code, 200)
            code, body, _ = await self.call("GET", "/healthz", secure=True)
            self.assertEqual(code, 403)

        return defer.ensureDeferred(go())

    def test_impersonation(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.start_server(authorization_mode=("AlwaysDeny",))
            as_bob = {"Impersonate-User": "bob", "Impersonate-Group": "devs"}
            code, body, _ = await self.call("GET", W, headers=as_bob)  # masters may impersonate
            self.assertEqual(code, 403)
            self.assertIn('User "bob" cannot list resource "widgets"', body["message"])
            code, body, _ = await self.call("GET", W, secure=True, headers=as_bob)
            self.assertEqual(code, 403)
            self.assertEqual(body["message"],
                             'users "bob" is forbidden: User "system:anonymous" cannot impersonate resource '
                             '"users" in API group "" at the cluster scope: Everything is forbidden.')
            code, body, _ = await self.call("GET", W, headers={"Impersonate-Group": "devs"})
            self.assertEqual(code, 500)  # upstream answers InternalError here, not BadRequest
            as_masters = {"Impersonate-User": "root", "Impersonate-Group": "system:masters"}
            code, _, _ = await self.call("GET", W, headers=as_masters)
            self.assertEqual(code, 200)

        return defer.ensureDeferred(go())

    def test_tokens_and_anonymous(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.start_server(authorization_mode=("TestRecorder",), anonymous_auth=False,
                                    token_authenticators=[Tokens()])
            code, body, _ = await self.call("GET", W, secure=True)
            self.assertEqual((code, body["reason"], body["message"]), (401, "Unauthorized", "Unauthorized"))
            code, _, _ = await self.call("GET", W, secure=True, headers={"Authorization": "Bearer bad"})
            self.assertEqual(code, 401)
            code, _, _ = await self.call("GET", W, secure=True, headers={"Authorization": "Bearer good"})
            self.assertEqual(code, 200)
            self.assertEqual(Recorder.seen[-1].user.name, "tok-user")
            self.assertEqual(Recorder.seen[-1].user.groups, ("team", "system:authenticated"))
            self.assertEqual((Recorder.seen[-1].verb, Recorder.seen[-1].resource), ("list", "widgets"))

        return defer.ensureDeferred(go())

    def test_invalid_token_is_401_even_with_anonymous(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.start_server(token_authenticators=[Tokens()])
            code, _, _ = await self.call("GET", W, secure=True)
            self.assertEqual(code, 200)
            code, _, _ = await self.call("GET", W, secure=True, headers={"Authorization": "Bearer nope"})
            self.assertEqual(code, 401)

        return defer.ensureDeferred(go())

    def test_token_ignored_without_token_authenticators(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.start_server(authorization_mode=("TestRecorder",))
            code, _, _ = await self.call("GET", W, secure=True, headers={"Authorization": "Bearer anything"})
            self.assertEqual(code, 200)
            self.assertEqual(Recorder.seen[-1].user.name, "system:anonymous")

        return defer.ensureDeferred(go())


@implementer(IPolicyForHTTPS)
class _ClientPolicy:
    def __init__(self, options: Any) -> None:
        self.options = options

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return self.options


def _pem(cert: x509.Certificate, key: Any) -> bytes:
    return (cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))


class ClientCertOverTLS(ServerTestCase):
    def test_client_certificate_user(self) -> defer.Deferred[None]:
        async def go() -> None:
            tmp = tempfile.mkdtemp()
            self.addCleanup(shutil.rmtree, tmp, True)
            ca = make_cert("client-ca", ca=True)
            ca_file = os.path.join(tmp, "ca.crt")
            with open(ca_file, "wb") as f:
                f.write(ca[0].public_bytes(serialization.Encoding.PEM))
            cert_pem, key_pem = generate_self_signed(["127.0.0.1"])
            cert_file, key_file = os.path.join(tmp, "s.crt"), os.path.join(tmp, "s.key")
            for path, data in ((cert_file, cert_pem), (key_file, key_pem)):
                with open(path, "wb") as f:
                    f.write(data)
            Recorder.seen = []
            authz.AUTHORIZER_FACTORIES["TestRecorder"] = lambda _s: Recorder()
            self.addCleanup(authz.AUTHORIZER_FACTORIES.pop, "TestRecorder", None)
            server = await self.start_server(authorization_mode=("TestRecorder",), client_ca_file=ca_file)
            tls = ServingTLS(cert_file, key_file, client_ca_files=[ca_file])
            port = reactor.listenSSL(0, Site(server.resource(secure=True)), tls,
                                     interface="127.0.0.1")
            self.addCleanup(port.stopListening)
            url = f"https://127.0.0.1:{port.getHost().port}{W}"
            trust = ssl.Certificate.loadPEM(cert_pem)

            async def get_as(client: tuple[x509.Certificate, Any] | None) -> int:
                cc = ssl.PrivateCertificate.loadPEM(_pem(*client)) if client else None
                opts = ssl.optionsForClientTLS("127.0.0.1", trustRoot=trust, clientCertificate=cc)
                pool = HTTPConnectionPool(reactor, persistent=False)
                agent: Any = Agent(reactor, contextFactory=_ClientPolicy(opts), pool=pool)
                resp = await treq.get(url, agent=agent)
                await resp.content()
                return int(resp.code)

            alice = make_cert("alice", ("devs", "ops"), issuer=ca)
            self.assertEqual(await get_as(alice), 200)
            self.assertEqual(Recorder.seen[-1].user.name, "alice")
            self.assertEqual(Recorder.seen[-1].user.groups, ("devs", "ops", "system:authenticated"))
            # A certificate from another CA is a bad credential: 401, not anonymous (upstream's x509).
            self.assertEqual(await get_as(make_cert("mallory", ("system:masters",))), 401)
            self.assertEqual(await get_as(None), 200)
            self.assertEqual(Recorder.seen[-1].user.name, "system:anonymous")

        return defer.ensureDeferred(go())
