"""pods/log from the fake kubelet: options passed on, upstream's refusals, follow streaming
as lines arrive and stopping when the caller goes away."""

from __future__ import annotations

from tests.proxy.support import NS, KubeletCase, RawClient


class Logs(KubeletCase):
    async def test_single_container_by_default(self) -> None:
        await self.setup()
        await self.make_pod("p")
        code, body, headers = await self.call("GET", f"{NS}/pods/p/log")
        self.assertEqual(code, 200)
        self.assertEqual(body, "".join(f"c line {i}\n" for i in range(1, 6)))
        self.assertEqual(headers.getRawHeaders("content-type"), ["text/plain"])

    async def test_options_reach_the_kubelet(self) -> None:
        await self.setup()
        await self.make_pod("p")
        code, body, _ = await self.call("GET", f"{NS}/pods/p/log?tailLines=2&timestamps=true")
        self.assertEqual((code, body), (200, "2026-01-01T00:00:00.000000000Z c line 4\n"
                                             "2026-01-01T00:00:00.000000000Z c line 5\n"))
        code, body, _ = await self.call("GET", f"{NS}/pods/p/log?limitBytes=4")
        self.assertEqual((code, body), (200, "c li"))
        code, body, _ = await self.call("GET", f"{NS}/pods/p/log?previous=true&sinceSeconds=10")
        self.assertEqual((code, body), (200, "c previous line\n"))
        seen = (await self.kubelet_requests())[-2]
        self.assertEqual(seen["path"], "/containerLogs/default/p/c")
        self.assertEqual(seen["query"], {"previous": ["true"], "sinceSeconds": ["10"]})
        code, body, _ = await self.call("GET", f"{NS}/pods/p/log?sinceTime=2026-01-02T03:04:05Z")
        self.assertEqual(code, 200)
        self.assertEqual((await self.kubelet_requests())[-2]["query"], {"sinceTime": ["2026-01-02T03:04:05Z"]})

    async def test_container_must_be_chosen(self) -> None:
        await self.setup()
        await self.make_pod("two", containers=("a", "b"))
        code, body, _ = await self.call("GET", f"{NS}/pods/two/log")
        self.assertEqual((code, body["reason"], body["message"]),
                         (400, "BadRequest", "a container name must be specified for pod two, choose one of: [a b]"))
        code, body, _ = await self.call("GET", f"{NS}/pods/two/log?container=zz")
        self.assertEqual((code, body["message"]), (400, "container zz is not valid for pod two"))
        code, body, _ = await self.call("GET", f"{NS}/pods/two/log?container=b")
        self.assertEqual((code, body.splitlines()[0]), (200, "b line 1"))

    async def test_invalid_options(self) -> None:
        await self.setup()
        await self.make_pod("p")
        code, body, _ = await self.call("GET", f"{NS}/pods/p/log?tailLines=-1")
        self.assertEqual((code, body["reason"]), (422, "Invalid"))
        self.assertEqual(body["message"],
                         'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0')
        code, body, _ = await self.call("GET", f"{NS}/pods/p/log?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z")
        self.assertEqual(code, 422)
        self.assertIn("at most one of `sinceTime` or `sinceSeconds` may be specified", body["message"])

    async def test_pod_without_a_node_is_an_empty_answer(self) -> None:
        await self.setup()
        await self.make_pod("pending", node="", ip=None)
        code, body, _ = await self.call("GET", f"{NS}/pods/pending/log")
        self.assertEqual((code, body), (204, b""))

    async def test_kubelet_error_becomes_a_status(self) -> None:
        await self.setup()
        await self.make_pod("m", containers=("missing",))
        code, body, _ = await self.call("GET", f"{NS}/pods/m/log")
        self.assertEqual((code, body["reason"]), (404, "NotFound"))
        self.assertEqual(body["message"], "the server could not find the requested resource ( pods/log m)")

    async def test_unreachable_kubelet(self) -> None:
        await self.setup()
        await self.make_node("down", port=10259)
        await self.make_pod("p", node="down")
        code, body, _ = await self.call("GET", f"{NS}/pods/p/log")
        self.assertEqual(code, 500)
        self.assertEqual(body["message"], f'Get "https://{self.kubelet.address}:10259/containerLogs/default/p/c": '
                                          f"dial tcp {self.kubelet.address}:10259: connect: connection refused")

    async def test_kubelet_certificate_not_verified_only_when_asked(self) -> None:
        await self.setup()
        await self.make_pod("p")
        import os
        import tempfile

        from tests.support.tls import generate_self_signed

        other, _ = generate_self_signed(["elsewhere"])
        with tempfile.NamedTemporaryFile(suffix=".crt", delete=False) as f:
            f.write(other)
        self.addCleanup(os.unlink, f.name)
        self.server.kubelet.certificate_authority = f.name
        self.server.kubelet.load()
        code, body, _ = await self.call("GET", f"{NS}/pods/p/log")
        self.assertEqual(code, 500)
        self.assertEqual(body["message"], f'Get "https://{self.kubelet.address}:10250/containerLogs/default/p/c": '
                                          "tls: failed to verify certificate: x509: certificate signed by unknown "
                                          "authority")
        code, body, _ = await self.call("GET", f"{NS}/pods/p/log?insecureSkipTLSVerifyBackend=true&tailLines=1")
        self.assertEqual((code, body), (200, "c line 5\n"))

    async def test_follow_streams_and_stops_when_the_caller_leaves(self) -> None:
        await self.setup()
        await self.make_pod("p")
        client = await RawClient.connect(self.url)
        client.send(f"GET {NS}/pods/p/log?follow=true HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await client.wait(lambda c: b"c tick 2\n" in c.data)
        self.assertTrue(client.head.startswith(b"HTTP/1.1 200"), client.head)
        self.assertIn(b"c line 5\n", client.body)
        self.assertEqual((await self.kubelet_open())["follow"], 1)
        client.close()
        await client.wait_closed()
        for _ in range(50):  # the kubelet notices within moments
            if (await self.kubelet_open())["follow"] == 0:
                break
            from twisted.internet import task

            from tests.server.support import reactor
            await task.deferLater(reactor, 0.1)
        self.assertEqual((await self.kubelet_open())["follow"], 0)
