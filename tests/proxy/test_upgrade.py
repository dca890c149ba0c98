"""exec, attach and portforward (and an upgrade through nodes/proxy): the API server joins
the caller to the kubelet only on 101, relays a refusal and closes, and forwards no
credentials.  Websocket frames are read as bytes here; kubectl drives them in tests.e2e."""

from __future__ import annotations

import json

from tests.proxy.support import NS, KubeletCase, RawClient, ws_frame, ws_handshake, ws_messages


def _frames(client: RawClient) -> list[tuple[int, bytes]]:
    return ws_messages(client.body)


class Exec(KubeletCase):
    async def _open(self, path: str, protocols: str = "v5.channel.k8s.io, v4.channel.k8s.io") -> RawClient:
        client = await RawClient.connect(self.url)
        self.addCleanup(client.close)
        client.send(ws_handshake(path, protocols))
        await client.wait(lambda c: b"\r\n\r\n" in c.data)
        return client

    async def test_exec_echo_over_websocket_v5(self) -> None:
        await self.setup()
        await self.make_pod("p")
        client = await self._open(f"{NS}/pods/p/exec?command=echo&command=hi&command=there&stdout=true&stderr=true")
        self.assertTrue(client.head.startswith(b"HTTP/1.1 101"), client.head)
        self.assertIn(b"sec-websocket-protocol: v5.channel.k8s.io", client.head.lower())
        await client.wait_closed()
        frames = [p for op, p in _frames(client) if op == 2]
        self.assertEqual(frames[0], b"\x01hi there\n")
        self.assertEqual(json.loads(frames[1][1:]), {"metadata": {}, "status": "Success"})
        seen = (await self.kubelet_requests())[-2]
        self.assertEqual(seen["path"], "/exec/default/p/c")
        self.assertEqual(seen["query"], {"command": ["echo", "hi", "there"], "error": ["1"], "output": ["1"]})
        self.assertNotIn("authorization", seen["headers"])
        self.assertEqual(seen["clientCN"], "kube-apiserver-kubelet-client")

    async def test_exec_stdin_flows_both_ways_v4(self) -> None:
        await self.setup()
        await self.make_pod("p")
        client = await self._open(f"{NS}/pods/p/exec?command=cat&stdin=true&stdout=true", "v4.channel.k8s.io")
        self.assertTrue(client.head.startswith(b"HTTP/1.1 101"), client.head)
        client.send(ws_frame(b"\x00ping\n"))
        await client.wait(lambda c: any(p == b"\x01ping\n" for _, p in _frames(c)))
        client.send(ws_frame(b"\x00exit\n"))
        await client.wait_closed()
        statuses = [json.loads(p[1:]) for op, p in _frames(client) if op == 2 and p[:1] == b"\x03"]
        self.assertEqual(statuses, [{"metadata": {}, "status": "Success"}])

    async def test_attach(self) -> None:
        await self.setup()
        await self.make_pod("p")
        client = await self._open(f"{NS}/pods/p/attach?stdout=true")
        await client.wait(lambda c: bool(_frames(c)))
        self.assertEqual(_frames(client)[0], (2, b"\x01attached to c\n"))

    async def test_refused_upgrade_is_relayed_and_the_connection_closed(self) -> None:
        await self.setup()
        await self.make_pod("p", containers=("refuse",))
        client = await self._open(f"{NS}/pods/p/exec?command=echo&stdout=true")
        await client.wait_closed()
        self.assertTrue(client.head.startswith(b"HTTP/1.1 403"), client.head)
        self.assertIn(b"forbidden by fake kubelet", client.body, client.data)

    async def test_non_upgrade_answer_is_an_error(self) -> None:
        await self.setup()
        await self.make_pod("p", containers=("plain",))
        client = await self._open(f"{NS}/pods/p/exec?command=echo&stdout=true")
        await client.wait(lambda c: c.body.endswith(b"}\n"))
        self.assertTrue(client.head.startswith(b"HTTP/1.1 500"), client.data)
        self.assertEqual(json.loads(client.body)["message"], "invalid upgrade response: status code 200")

    async def test_plain_request_needs_an_upgrade(self) -> None:
        await self.setup()
        await self.make_pod("p")
        code, body, _ = await self.call("POST", f"{NS}/pods/p/exec?command=ls&stdout=true")
        self.assertEqual((code, body["message"]), (400, "Upgrade request required"))

    async def test_no_host_assigned(self) -> None:
        await self.setup()
        await self.make_pod("pending", node="", ip=None)
        for sub in ("exec?command=ls", "attach?stdout=1", "portforward?ports=80"):
            code, body, _ = await self.call("POST", f"{NS}/pods/pending/{sub}",
                                            headers={"Connection": "Upgrade", "Upgrade": "websocket"})
            self.assertEqual((code, body["message"]), (400, "pod pending does not have a host assigned"))

    async def test_kubelet_unreachable(self) -> None:
        await self.setup()
        await self.make_node("down", port=10259)
        await self.make_pod("p", node="down")
        client = await self._open(f"{NS}/pods/p/exec?command=ls&stdout=true")
        await client.wait(lambda c: c.body.endswith(b"}\n"))
        self.assertTrue(client.head.startswith(b"HTTP/1.1 500"), client.data)
        self.assertEqual(json.loads(client.body)["message"],
                         f"error dialing backend: dial tcp {self.kubelet.address}:10259: connect: connection refused")


    async def test_unverified_kubelet_certificate_fails_the_dial(self) -> None:
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
        client = await self._open(f"{NS}/pods/p/exec?command=ls&stdout=true")
        await client.wait(lambda c: c.body.endswith(b"}\n"))
        self.assertTrue(client.head.startswith(b"HTTP/1.1 500"), client.data)
        self.assertEqual(json.loads(client.body)["message"], "error dialing backend: tls: failed to verify "
                                                              "certificate: x509: certificate signed by unknown authority")


class PortForward(KubeletCase):
    async def test_raw_upgrade_is_spliced_until_the_caller_closes(self) -> None:
        # kubectl's port-forward protocol (SPDY, or SPDY inside a websocket) is not spoken by
        # the fake kubelet; an echoing raw upgrade shows the API server's part: the join.
        await self.setup()
        await self.make_pod("p")
        client = await RawClient.connect(self.url)
        self.addCleanup(client.close)
        client.send(f"POST {NS}/pods/p/portforward?ports=8080 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                    f"Upgrade: x-echo\r\nContent-Length: 0\r\n\r\n".encode())
        await client.wait(lambda c: b"\r\n\r\n" in c.data)
        self.assertTrue(client.head.startswith(b"HTTP/1.1 101"), client.head)
        client.send(b"any bytes at all \x00\xff")
        await client.wait(lambda c: c.body == b"any bytes at all \x00\xff")
        self.assertEqual(client.body, b"any bytes at all \x00\xff")
        seen = (await self.kubelet_requests())[-2]
        self.assertEqual((seen["path"], seen["query"]), ("/portForward/default/p", {"port": ["8080"]}))
        self.assertEqual((await self.kubelet_open())["portforward"], 1)
        client.close()
        await client.wait_closed()
        from twisted.internet import task

        from tests.server.support import reactor
        for _ in range(50):
            if (await self.kubelet_open())["portforward"] == 0:
                break
            await task.deferLater(reactor, 0.1)
        self.assertEqual((await self.kubelet_open())["portforward"], 0)

    async def test_upgrade_through_node_proxy(self) -> None:
        await self.setup()
        client = await RawClient.connect(self.url)
        self.addCleanup(client.close)
        client.send(b"GET /api/v1/nodes/n1/proxy/portForward/default/p HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: Upgrade\r\nUpgrade: x-echo\r\nAuthorization: Bearer nope\r\n\r\n")
        await client.wait(lambda c: b"\r\n\r\n" in c.data)
        self.assertTrue(client.head.startswith(b"HTTP/1.1 101"), client.head)
        client.send(b"hello")
        await client.wait(lambda c: c.body == b"hello")
        seen = (await self.kubelet_requests())[-2]
        self.assertNotIn("authorization", seen["headers"])
        self.assertEqual(seen["headers"]["x-forwarded-for"], ["127.0.0.1"])


class PortForwardTunnel(KubeletCase):
    """kubectl's websocket port-forward (``SPDY/3.1+portforward.k8s.io``): as v1.34's
    PortForwardWebsockets, SPDY/3.1 towards the kubelet and the bytes in websocket messages."""

    async def _open(self, protocols: str) -> RawClient:
        client = await RawClient.connect(self.url)
        self.addCleanup(client.close)
        client.send(ws_handshake(f"{NS}/pods/p/portforward", protocols))
        await client.wait(lambda c: b"\r\n\r\n" in c.data)
        return client

    async def test_websocket_tunnel_asks_the_kubelet_for_spdy(self) -> None:
        await self.setup()
        await self.make_pod("p")
        client = await self._open("SPDY/3.1+portforward.k8s.io")
        head = client.head.lower()
        self.assertTrue(head.startswith(b"http/1.1 101"), client.head)
        self.assertIn(b"upgrade: websocket", head)
        self.assertIn(b"sec-websocket-protocol: spdy/3.1+portforward.k8s.io", head)
        self.assertIn(b"sec-websocket-accept: ", head)
        self.assertNotIn(b"spdy/3.1\r\n", head)  # the kubelet's own 101 is not shown to the caller
        client.send(ws_frame(b"spdy bytes \x00\xff"))  # the fake kubelet echoes the raw stream
        await client.wait(lambda c: b"spdy bytes \x00\xff" in b"".join(p for _, p in _frames(c)))
        self.assertEqual(_frames(client), [(2, b"spdy bytes \x00\xff")])
        client.send(ws_frame(b"", 9))  # ping → pong
        await client.wait(lambda c: len(_frames(c)) == 2)
        self.assertEqual(_frames(client)[1], (10, b""))
        seen = (await self.kubelet_requests())[-2]
        self.assertEqual((seen["method"], seen["path"], seen["query"]), ("POST", "/portForward/default/p", {}))
        self.assertEqual(seen["headers"]["upgrade"], ["SPDY/3.1"])
        self.assertEqual(seen["headers"]["x-stream-protocol-version"], ["portforward.k8s.io"])
        for gone in ("sec-websocket-key", "sec-websocket-protocol", "sec-websocket-version", "authorization"):
            self.assertNotIn(gone, seen["headers"])
        client.send(ws_frame(b"\x03\xe8", 8))  # close → answered, connection closed
        await client.wait_closed()
        self.assertEqual(_frames(client)[-1], (8, b"\x03\xe8"))

    async def test_other_websocket_protocols_are_passed_as_they_are(self) -> None:
        # Not a tunnelling request (the kubelet's own v4 websocket port-forward): spliced as is,
        # and the fake kubelet refuses a websocket port-forward — the refusal is relayed.
        await self.setup()
        await self.make_pod("p")
        client = await self._open("v4.channel.k8s.io")
        await client.wait_closed()
        self.assertTrue(client.head.startswith(b"HTTP/1.1 400"), client.head)
        self.assertIn(b"port-forward needs Upgrade", client.body)

    async def test_a_bad_websocket_key_is_refused_after_the_kubelet_answered(self) -> None:
        await self.setup()
        await self.make_pod("p")
        client = await RawClient.connect(self.url)
        self.addCleanup(client.close)
        client.send(ws_handshake(f"{NS}/pods/p/portforward", "SPDY/3.1+portforward.k8s.io")
                    .replace(b"Sec-WebSocket-Key: ", b"Sec-WebSocket-Key: x"))
        await client.wait(lambda c: c.body.endswith(b"\n"))
        self.assertTrue(client.head.startswith(b"HTTP/1.1 400"), client.data)
        self.assertIn(b"content-type: text/plain; charset=utf-8", client.head.lower())
        self.assertIn(b"sec-websocket-version: 13", client.head.lower())
        self.assertEqual(client.body, b"Bad Request\n")
