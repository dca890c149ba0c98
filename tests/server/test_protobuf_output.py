"""Responses in Kubernetes protobuf when the client prefers it (kubectl's typed clients,
kubelets, controllers), over HTTP against the whole server: same objects as the JSON answers,
watch events as length-prefixed frames, JSON kept for custom kinds, Tables and JSON-first."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, task

from kubeapi import protobuf
from tests.server.support import ServerTestCase, StreamClient, reactor

PB = "application/vnd.kubernetes.protobuf"
PB_FIRST = f"{PB}, application/json"
CM = "/api/v1/namespaces/default/configmaps"
W = "/apis/example.com/v1/namespaces/default/widgets"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def ctype(headers: Any) -> str:
    return str(headers.getRawHeaders("content-type", [""])[0])


def dechunk(body: bytes) -> bytes:
    """The payload of a (possibly unfinished) chunked body; a partial last chunk is left out."""
    out = b""
    while body:
        size_line, sep, rest = body.partition(b"\r\n")
        if not sep:
            break
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0 or len(rest) < size + 2:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def frames(client: StreamClient) -> list[tuple[str, dict[str, Any]]]:
    if b"\r\n\r\n" not in client.data:
        return []
    payload = dechunk(client.data.split(b"\r\n\r\n", 1)[1])
    out: list[tuple[str, dict[str, Any]]] = []
    try:
        for event in protobuf.iter_watch_frames(payload):
            out.append(event)
    except Exception:  # a frame still arriving
        pass
    return out


async def wait_frames(client: StreamClient, count: int) -> list[tuple[str, dict[str, Any]]]:
    for _ in range(200):  # bounded: about 5 s
        got = frames(client)
        if len(got) >= count or client.closed.called:
            return got
        await task.deferLater(reactor, 0.025, lambda: None)
    return frames(client)


class ProtobufOutput(ServerTestCase):
    async def setup_ns(self) -> None:
        await self.start_server()
        code, _, _ = await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "default"}})
        self.assertEqual(code, 201)

    def test_get_list_create_and_errors_match_json(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup_ns()
            cm = {"metadata": {"name": "a"}, "data": {"k": "v"}}
            code, body, headers = await self.call("POST", CM, cm, headers={"Accept": PB_FIRST})
            self.assertEqual((code, ctype(headers)), (201, PB))
            created = protobuf.decode(body)
            self.assertEqual((created["kind"], created["metadata"]["name"], created["data"]),
                             ("ConfigMap", "a", {"k": "v"}))

            code, body, headers = await self.call("GET", CM + "/a", headers={"Accept": PB_FIRST})
            self.assertEqual((code, ctype(headers)), (200, PB))
            _, as_json, _ = await self.call("GET", CM + "/a")
            self.assertEqual(protobuf.decode(body), as_json)
            self.assertEqual(created, as_json)

            code, body, headers = await self.call("GET", CM, headers={"Accept": PB_FIRST})
            self.assertEqual((code, ctype(headers)), (200, PB))
            listed = protobuf.decode(body)
            _, list_json, _ = await self.call("GET", CM)
            self.assertEqual(listed, list_json)
            self.assertEqual((listed["kind"], listed["apiVersion"]), ("ConfigMapList", "v1"))
            self.assertEqual([i["metadata"]["name"] for i in listed["items"]], ["a"])

            # Cluster-scoped built-in too.
            code, body, headers = await self.call("GET", "/api/v1/namespaces/default", headers={"Accept": PB})
            self.assertEqual((code, ctype(headers), protobuf.decode(body)["kind"]), (200, PB, "Namespace"))

            # Errors are Status in protobuf when protobuf was negotiated.
            code, body, headers = await self.call("GET", CM + "/missing", headers={"Accept": PB_FIRST})
            self.assertEqual((code, ctype(headers)), (404, PB))
            _, err_json, _ = await self.call("GET", CM + "/missing")
            self.assertEqual(protobuf.decode(body), err_json)
            self.assertEqual(err_json["reason"], "NotFound")
            code, body, headers = await self.call("POST", CM, cm, headers={"Accept": PB})
            self.assertEqual((code, ctype(headers), protobuf.decode(body)["reason"]), (409, PB, "AlreadyExists"))

            # A ConfigMap delete answers a success Status, in protobuf as well.
            code, body, headers = await self.call("DELETE", CM + "/a", headers={"Accept": PB_FIRST})
            self.assertEqual((code, ctype(headers)), (200, PB))
            done = protobuf.decode(body)
            self.assertEqual((done["kind"], done["status"], done["details"]["name"]), ("Status", "Success", "a"))

        return defer.ensureDeferred(go())

    def test_client_order_and_q_values(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup_ns()
            await self.call("POST", CM, {"metadata": {"name": "a"}})
            cases = [
                (f"application/json, {PB}", "application/json"),
                (f"{PB};q=0.5, application/json", "application/json"),
                (f"application/json;q=0.5, {PB}", PB),
                (f"*/*;q=0.8, {PB}", PB),
                ("*/*", "application/json"),
                (f"application/yaml, {PB}", "application/yaml"),
            ]
            for accept, want in cases:
                code, _, headers = await self.call("GET", CM + "/a", headers={"Accept": accept})
                self.assertEqual((accept, code, ctype(headers)), (accept, 200, want))

        return defer.ensureDeferred(go())

    def test_json_kept_for_tables_custom_kinds_and_non_resources(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup_ns()
            await self.call("POST", CM, {"metadata": {"name": "a"}})
            code, body, headers = await self.call("GET", CM, headers={"Accept": f"{TABLE}, {PB}, application/json"})
            self.assertEqual((code, body["kind"]), (200, "Table"))
            self.assertTrue(ctype(headers).startswith("application/json;as=Table"))
            # A protobuf clause asking for a Table is not something we produce: the next one wins.
            code, body, _ = await self.call("GET", CM, headers={
                "Accept": f"{PB};as=Table;v=v1;g=meta.k8s.io, application/json"})
            self.assertEqual((code, body["kind"]), (200, "ConfigMapList"))

            await self.call("POST", W, {"metadata": {"name": "w"}})
            code, body, headers = await self.call("GET", W + "/w", headers={"Accept": PB_FIRST})
            self.assertEqual((code, ctype(headers), body["kind"]), (200, "application/json", "Widget"))
            code, body, headers = await self.call("GET", W + "/missing", headers={"Accept": PB_FIRST})
            self.assertEqual((code, ctype(headers), body["reason"]), (404, "application/json", "NotFound"))
            code, body, headers = await self.call("GET", W + "/w", headers={"Accept": PB})
            self.assertEqual((code, ctype(headers), body["reason"]), (406, "application/json", "NotAcceptable"))

            code, body, headers = await self.call("GET", "/api/v1", headers={"Accept": PB_FIRST})
            self.assertEqual((code, ctype(headers), body["kind"]), (200, "application/json", "APIResourceList"))

        return defer.ensureDeferred(go())

    def test_watch_in_protobuf_frames(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup_ns()
            await self.call("POST", CM, {"metadata": {"name": "before"}})
            client = await self.open_stream(CM + "?watch=true&timeoutSeconds=5", {"Accept": PB_FIRST})
            got = await wait_frames(client, 1)
            self.assertIn(b"HTTP/1.1 200", client.head)
            self.assertIn(b"content-type: " + protobuf.WATCH_CONTENT_TYPE.encode(), client.head.lower())
            self.assertEqual([(t, o["metadata"]["name"]) for t, o in got], [("ADDED", "before")])
            await self.call("POST", CM, {"metadata": {"name": "after"}, "data": {"x": "1"}})
            got = await wait_frames(client, 2)
            self.assertEqual(got[1][0], "ADDED")
            self.assertEqual((got[1][1]["kind"], got[1][1]["metadata"]["name"], got[1][1]["data"]),
                             ("ConfigMap", "after", {"x": "1"}))
            client.abort()

            # JSON first: JSON lines as before.
            json_client = await self.open_stream(CM + "?watch=true&timeoutSeconds=5",
                                                 {"Accept": f"application/json, {PB}"})
            events = await json_client.wait_events(2)
            self.assertEqual(sorted(e["object"]["metadata"]["name"] for e in events), ["after", "before"])
            json_client.abort()

        return defer.ensureDeferred(go())

    def test_watch_error_event_in_protobuf(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup_ns()
            for i in range(3):
                await self.call("POST", CM, {"metadata": {"name": f"c{i}"}})
            await self.storage.compact(await self.storage.current_revision())
            client = await self.open_stream(CM + "?watch=1&resourceVersion=1", {"Accept": PB})
            got = await wait_frames(client, 1)
            self.assertIn(b"HTTP/1.1 200", client.head)
            self.assertEqual(got[0][0], "ERROR")
            self.assertEqual((got[0][1]["kind"], got[0][1]["code"], got[0][1]["reason"]), ("Status", 410, "Expired"))
            client.abort()

        return defer.ensureDeferred(go())
