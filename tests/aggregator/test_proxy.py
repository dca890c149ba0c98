"""What the extension receives: the caller's identity as X-Remote-*, never its credentials."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest
from twisted.web.http_headers import Headers

from kubeapi.aggregator import flags
from kubeapi.aggregator.proxy import identity_headers, outgoing_headers
from kubeapi.auth.user import UserInfo
from kubeapi.options import Options


class _Addr:
    host = "192.0.2.7"


class _Request:
    def __init__(self, headers: dict[bytes, list[bytes]]) -> None:
        self.requestHeaders = Headers(headers)

    def getClientAddress(self) -> Any:
        return _Addr()


class _Ctx:
    def __init__(self, headers: dict[bytes, list[bytes]], user: UserInfo) -> None:
        self.request = _Request(headers)
        self.user = user
        self.audit_id = "audit-1"


class HeaderTests(unittest.TestCase):
    def test_identity_headers(self) -> None:
        user = UserInfo("bob", uid="u-1", groups=("a", "system:authenticated"), extra={"scopes.io/x y": ("v1", "v2")})
        self.assertEqual(identity_headers(user), [
            (b"X-Remote-User", b"bob"), (b"X-Remote-Uid", b"u-1"), (b"X-Remote-Group", b"a"),
            (b"X-Remote-Group", b"system:authenticated"),
            (b"X-Remote-Extra-scopes.io%2Fx%20y", b"v1"), (b"X-Remote-Extra-scopes.io%2Fx%20y", b"v2")])

    def test_credentials_and_hop_by_hop_are_dropped(self) -> None:
        ctx = _Ctx({b"Authorization": [b"Bearer secret"], b"Impersonate-User": [b"eve"],
                    b"Impersonate-Extra-Foo": [b"x"], b"X-Remote-User": [b"forged"], b"X-Remote-Group": [b"root"],
                    b"Connection": [b"keep-alive, X-Private"], b"X-Private": [b"p"], b"Keep-Alive": [b"300"],
                    b"Transfer-Encoding": [b"chunked"], b"Accept": [b"application/json"],
                    b"Host": [b"kubeapi:6443"], b"Audit-Id": [b"from-client"]}, UserInfo("bob", groups=("g",)))
        out = outgoing_headers(ctx, "10.0.0.2:443")  # type: ignore[arg-type]
        got = {k.lower(): v for k, v in out.getAllRawHeaders()}
        self.assertEqual(got, {b"accept": [b"application/json"], b"x-remote-user": [b"bob"],
                               b"x-remote-group": [b"g"], b"audit-id": [b"audit-1"], b"host": [b"10.0.0.2:443"],
                               b"x-forwarded-for": [b"192.0.2.7"]})


class FlagTests(unittest.TestCase):
    def test_cert_without_key_is_refused(self) -> None:
        o = Options()
        with self.assertRaises(Exception) as e:
            o.parseOptions(["--proxy-client-cert-file=/etc/hostname"])
        self.assertIn("--proxy-client-cert-file and --proxy-client-key-file must be given together", str(e.exception))

    def test_unloadable_pair_is_refused(self) -> None:
        with self.assertRaises(ValueError) as e:
            flags.load_pair("/etc/hostname", "/etc/hostname")
        self.assertIn("unable to load the pair", str(e.exception))

    def test_routing_defaults_off(self) -> None:
        o = Options()
        o.parseOptions([])
        self.assertFalse(o["enable-aggregator-routing"])
        self.assertTrue(o["aggregator-reject-forwarding-redirect"])


class _Resp:
    def __init__(self) -> None:
        self.code = 0
        self.headers: dict[bytes, bytes] = {}
        self.startedWriting = False

    def setResponseCode(self, code: int) -> None:
        self.code = code

    def setHeader(self, k: bytes, v: bytes) -> None:
        self.headers[k.lower()] = v


class DiscoveryTimeoutTests(unittest.TestCase):
    def test_slow_discovery_is_503_after_five_seconds(self) -> None:
        from twisted.internet import defer
        from twisted.internet.task import Clock

        from kubeapi.aggregator.aggregator import bounded
        from kubeapi.server.context import RequestContext
        from kubeapi.server.requestinfo import RequestInfo

        req = _Resp()
        ctx = RequestContext(request=req, secure=True, method="GET", path="/apis/x.io/v1", query={},
                             info=RequestInfo())
        never: defer.Deferred[bytes] = defer.Deferred()

        async def hang() -> bytes:
            return await never

        clock = Clock()
        d = defer.ensureDeferred(bounded(ctx, hang(), clock))
        clock.advance(4.9)
        self.assertNoResult(d)
        clock.advance(0.2)
        self.assertEqual(self.successResultOf(d), b"context deadline exceeded\n")
        self.assertEqual((req.code, req.headers[b"content-type"]), (503, b"text/plain; charset=utf-8"))


class IdentityReloadTests(unittest.TestCase):
    def test_replaced_pair_is_picked_up_and_a_broken_one_ignored(self) -> None:
        import os
        import tempfile

        from kubeapi.auth.authn import pki
        from tests.auth import e2e_support as sup

        d = tempfile.mkdtemp()
        ca = pki.make_ca("front")
        cert, key = sup.client_cert(d, "proxy", ca, "first")
        ident = flags.ClientIdentity(cert, key)
        first = ident.pair()
        self.assertFalse(ident.check_reload())
        sup.client_cert(d, "proxy", ca, "second")  # same file names, new pair
        os.utime(cert, (1, 1))
        self.assertTrue(ident.check_reload())
        self.assertNotEqual(ident.pair(), first)
        second = ident.pair()
        with open(key, "w") as f:
            f.write("not a key")
        os.utime(key, (2, 2))
        self.assertFalse(ident.check_reload())
        self.assertEqual(ident.pair(), second)


class TargetTests(unittest.TestCase):
    def test_query_is_sorted_and_reencoded_as_go_does(self) -> None:
        from kubeapi.aggregator.proxy import target
        from kubeapi.server.context import parse_query

        class R:
            path = b"/apis/m.io/v1/namespaces/a%20b/pods"

        class C:
            request = R()
            query = parse_query(b"/x?watch=true&labelSelector=app%3Dweb,tier+in+(a)&a=")

        self.assertEqual(target(C()),  # type: ignore[arg-type]
                         "/apis/m.io/v1/namespaces/a%20b/pods?a=&labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=true")
