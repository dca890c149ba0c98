"""The HTTP layer under awkward clients: odd paths get a Status, Go's header limits (1 MiB,
then 431), header and body read deadlines, 413 before the body, and concurrent
unconditional patches that all land."""

from __future__ import annotations

from typing import Any

import orjson
import treq
from twisted.internet import defer

from tests.hardening.support import CONFIGMAPS, BuiltinServerTestCase, RawClient
from tests.server.support import reactor


class Paths(BuiltinServerTestCase):
    async def test_odd_paths_answer_a_status(self) -> None:
        await self.start()
        for path in ("/api/v1/namespaces/%FF", "/api/v1/namespaces/a%01b", "/apis/%FF/v1/x",
                     "/api/v1/namespaces/default/configmaps/%00", "/api/v1/%7F", "/apis/apps/v1/%FF%0A"):
            code, body, headers = await self.call("GET", path)
            ctype = headers.getRawHeaders("content-type", [""])[0]
            self.assertEqual(ctype, "application/json", (path, code, body))
            self.assertEqual(body["kind"], "Status", path)
            self.assertEqual(body["code"], code)
            self.assertLess(code, 500, path)
        code, body, headers = await self.call("GET", "/api/v1/namespaces/%FF",
                                              headers={"Accept": "application/yaml"})
        self.assertEqual(headers.getRawHeaders("content-type", [""])[0], "application/yaml")
        self.assertIn("kind: Status", body)


class HeaderLimits(BuiltinServerTestCase):
    async def raw(self, request: bytes, wait: float = 10) -> RawClient:
        client = RawClient()
        await client.connect(self.url)
        self.addCleanup(client.close)
        client.send(request)
        await client.wait_closed(wait)
        return client

    async def test_large_headers_and_request_line_are_served(self) -> None:
        await self.start()
        code, body, _ = await self.call("GET", CONFIGMAPS, headers={"X-Big": "a" * (200 * 1024)})
        self.assertEqual(code, 200, body)
        many = {f"X-H{i}": "v" * 100 for i in range(2000)}  # 2000 headers, ~230 KiB
        code, body, _ = await self.call("GET", CONFIGMAPS, headers=many)
        self.assertEqual(code, 200)
        # a request line over twisted's old 16 KiB (under trial -j's 64 KiB log line limit)
        code, body, _ = await self.call("GET", CONFIGMAPS + "?labelSelector=" + "a" * 60 + "&x=" + "b" * 40_000)
        self.assertEqual(code, 200, body)

    async def test_beyond_one_mebibyte_is_431(self) -> None:
        await self.start()
        client = await self.raw(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nX-Big: "
                                + b"a" * (1024 * 1024 + 8192) + b"\r\n\r\n")
        self.assertEqual(client.status_line, b"HTTP/1.1 431 Request Header Fields Too Large")
        client = await self.raw(b"GET /" + b"a" * (1100 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(client.status_line, b"HTTP/1.1 431 Request Header Fields Too Large")
        lines = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(1100))
        client = await self.raw(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
        self.assertEqual(client.status_line, b"HTTP/1.1 431 Request Header Fields Too Large")


class SlowClients(BuiltinServerTestCase):
    def setUp(self) -> None:
        # The real deadlines are 32 s and 60 s; a shorter one keeps the test quick and the
        # behaviour is the same.
        from kubeapi.server import channel

        self.patch(channel.LimitedChannel, "read_header_timeout", 1.5)
        self.patch(channel.LimitedChannel, "body_timeout", 1.5)

    async def test_trickled_headers_are_cut_off(self) -> None:
        from twisted.internet import task

        await self.start()
        client = RawClient()
        await client.connect(self.url)
        self.addCleanup(client.close)
        client.send(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n")
        for _ in range(40):  # one header byte every 0.2 s: the idle timeout never fires
            if client.closed.called:
                break
            client.send(b"X")
            await task.deferLater(reactor, 0.2, lambda: None)
        self.assertTrue(client.closed.called, "a client trickling header bytes kept its connection")

    async def test_body_that_never_arrives_ends_the_request(self) -> None:
        await self.start()
        client = RawClient()
        await client.connect(self.url)
        self.addCleanup(client.close)
        client.send(b"POST " + CONFIGMAPS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{\"metadata\":")
        self.assertTrue(await client.wait_closed(8))
        self.assertIn(b" 504 ", client.status_line)
        self.assertEqual(orjson.loads(client.body)["kind"], "Status")


class EarlyTooLarge(BuiltinServerTestCase):
    async def test_413_before_the_body_is_read(self) -> None:
        await self.start()
        client = RawClient()
        await client.connect(self.url)
        self.addCleanup(client.close)
        client.send(b"POST " + CONFIGMAPS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 104857600\r\n\r\n")
        from twisted.internet import task

        for _ in range(60):
            if b"\r\n\r\n" in client.data:
                break
            await task.deferLater(reactor, 0.05, lambda: None)
        self.assertIn(b" 413 ", client.status_line)
        body = orjson.loads(client.body)
        self.assertEqual((body["kind"], body["reason"]), ("Status", "RequestEntityTooLarge"))


class ConcurrentPatches(BuiltinServerTestCase):
    async def test_sixteen_concurrent_merge_patches_all_land(self) -> None:
        await self.start()
        code, _, _ = await self.call("POST", CONFIGMAPS, {"metadata": {"name": "hot"}, "data": {}})
        self.assertEqual(code, 201)

        async def one(i: int) -> int:
            resp = await treq.request("PATCH", f"{self.url}{CONFIGMAPS}/hot",
                                      data=orjson.dumps({"data": {f"k{i}": str(i)}}),
                                      headers={"Content-Type": "application/merge-patch+json"}, pool=self.pool)
            await resp.content()
            return int(resp.code)

        codes: list[Any] = await defer.gatherResults([defer.ensureDeferred(one(i)) for i in range(16)])
        self.assertEqual(codes, [200] * 16)
        code, body, _ = await self.call("GET", CONFIGMAPS + "/hot")
        self.assertEqual(sorted(body["data"]), sorted(f"k{i}" for i in range(16)))
