"""The whole server on 127.0.0.1 with the embedded store, driven over HTTP with treq and a
raw streaming client: CRUD, status codes, Table output, watch streams, errors, limits."""

from __future__ import annotations

import time
from typing import Any

from twisted.internet import defer, reactor, task

from kubeapi.server.apiserver import APIServer
from kubeapi.storage.interface import UnavailableError
from tests.server.support import ServerTestCase

W = "/apis/example.com/v1/namespaces/default/widgets"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


class RecordingStores:
    """Wraps each real store so a test can see whether its watches were stopped."""

    def __init__(self) -> None:
        self.watches: list[Any] = []
        self.server: APIServer | None = None

    def __call__(self, rdef: Any) -> Any:
        assert self.server is not None
        real = self.server._default_store(rdef)
        outer = self

        class Store:
            def __init__(self) -> None:
                self.rdef = rdef

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            async def watch(self, ns: str, opts: Any, sink: Any) -> Any:
                handle = await real.watch(ns, opts, sink)
                record = {"stopped": False}
                outer.watches.append(record)

                class Handle:
                    def stop(self) -> None:
                        record["stopped"] = True
                        handle.stop()

                return Handle()

        return Store()


class E2E(ServerTestCase):
    async def setup_ns(self, **kwargs: Any) -> APIServer:
        server = await self.start_server(**kwargs)
        code, _, _ = await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "default"}})
        self.assertEqual(code, 201)
        return server

    def test_crud_status_codes_and_headers(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup_ns()
            code, body, h = await self.call("POST", W, {"metadata": {"name": "w1"}, "spec": {"replicas": 2}})
            self.assertEqual(code, 201)
            self.assertEqual((body["kind"], body["apiVersion"]), ("Widget", "example.com/v1"))
            self.assertEqual(h.getRawHeaders("cache-control"), ["no-cache, private"])
            self.assertEqual(h.getRawHeaders("content-type"), ["application/json"])
            self.assertEqual(len(h.getRawHeaders("audit-id")[0]), 36)

            code, body, h = await self.call("POST", W, {"metadata": {"name": "w1"}},
                                            headers={"Audit-ID": "my-audit-id"})
            self.assertEqual((code, body["reason"]), (409, "AlreadyExists"))
            self.assertEqual(h.getRawHeaders("audit-id"), ["my-audit-id"])

            code, got, _ = await self.call("GET", W + "/w1")
            self.assertEqual((code, got["spec"]["replicas"]), (200, 2))

            got["spec"]["replicas"] = 5
            code, body, _ = await self.call("PUT", W + "/w1", got)
            self.assertEqual((code, body["spec"]["replicas"]), (200, 5))

            code, body, _ = await self.call("PATCH", W + "/w1", {"spec": {"color": "red"}},
                                            headers={"Content-Type": "application/merge-patch+json"})
            self.assertEqual((code, body["spec"]["color"]), (200, "red"))

            code, body, _ = await self.call("PATCH", W + "/w1", {"spec": {}},
                                            headers={"Content-Type": "text/plain"})
            self.assertEqual(code, 415)

            code, body, _ = await self.call("GET", W + "?limit=abc")
            self.assertEqual((code, body["reason"]), (400, "BadRequest"))

            code, body, _ = await self.call("POST", W + "?dryRun=Bogus", {"metadata": {"name": "w2"}})
            self.assertEqual((code, body["reason"]), (422, "Invalid"))

            code, body, _ = await self.call("POST", W + "?dryRun=All", {"metadata": {"name": "w2"}})
            self.assertEqual(code, 201)
            code, body, _ = await self.call("GET", W)
            self.assertEqual([i["metadata"]["name"] for i in body["items"]], ["w1"])

            code, body, _ = await self.call("POST", "/apis/example.com/v1/namespaces/other/widgets",
                                            {"metadata": {"name": "x", "namespace": "default"}})
            self.assertEqual(code, 400)

            code, body, _ = await self.call("GET", "/apis/example.com/v1/namespaces/default/nosuch")
            self.assertEqual((code, body["message"]), (404, "the server could not find the requested resource"))
            code, body, _ = await self.call("POST", "/apis/example.com/v1/gadgets", {"metadata": {"name": "g"}})
            self.assertEqual((code, body["reason"]), (405, "MethodNotAllowed"))
            code, body, _ = await self.call("GET", W + "/w1/nosub")
            self.assertEqual(code, 404)

            code, body, _ = await self.call("POST", W, {"metadata": {"name": "kept", "finalizers": ["x/y"]}})
            self.assertEqual(code, 201)
            code, body, _ = await self.call("DELETE", W + "/kept?orphanDependents=false")
            self.assertEqual(code, 202)  # still there (finalizer) and orphanDependents=false
            self.assertIn("deletionTimestamp", body["metadata"])
            code, body, _ = await self.call("DELETE", W + "/kept", {"kind": "DeleteOptions", "apiVersion": "v1",
                                                                     "propagationPolicy": "Foreground"})
            self.assertEqual(code, 200)

            code, body, _ = await self.call("DELETE", W + "/w1")
            self.assertEqual((code, body["status"]), (200, "Success"))
            code, body, _ = await self.call("GET", W + "/w1")
            self.assertEqual((code, body["reason"]), (404, "NotFound"))

        return defer.ensureDeferred(go())

    def test_table_list_and_get(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup_ns()
            await self.call("POST", W, {"metadata": {"name": "w1"}, "spec": {"replicas": 3}})
            code, t, h = await self.call("GET", W, headers={"Accept": TABLE + ",application/json"})
            self.assertEqual((code, t["kind"]), (200, "Table"))
            self.assertEqual(h.getRawHeaders("content-type"), [TABLE])
            self.assertEqual(t["rows"][0]["cells"][:3], ["w1", "0/3", "<none>"])
            self.assertRegex(t["rows"][0]["cells"][3], r"^\d+s$")
            self.assertEqual(t["rows"][0]["object"]["kind"], "PartialObjectMetadata")
            code, t, _ = await self.call("GET", W + "/w1?includeObject=Object", headers={"Accept": TABLE})
            self.assertEqual(t["rows"][0]["object"]["kind"], "Widget")
            code, t, _ = await self.call("GET", W + "/nope", headers={"Accept": TABLE})
            self.assertEqual((code, t["kind"]), (404, "Status"))

        return defer.ensureDeferred(go())

    def test_watch_stream_timeout_and_table(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup_ns()
            await self.call("POST", W, {"metadata": {"name": "w1"}})
            started = time.monotonic()
            client = await self.open_stream(W + "?watch=true&timeoutSeconds=1", {"Accept": TABLE})
            first = await client.wait_events(1)
            self.assertIn(b"HTTP/1.1 200", client.head)
            self.assertIn(b"Transfer-Encoding: chunked", client.head)
            self.assertEqual(first[0]["type"], "ADDED")
            self.assertIsNotNone(first[0]["object"]["columnDefinitions"])
            await self.call("POST", W, {"metadata": {"name": "w2"}})
            events = await client.wait_events(2)
            self.assertEqual(events[1]["type"], "ADDED")
            self.assertEqual(events[1]["object"]["kind"], "Table")
            self.assertIsNone(events[1]["object"]["columnDefinitions"])
            self.assertEqual(events[1]["object"]["rows"][0]["cells"][0], "w2")
            await client.wait_end()  # the server ends the stream after timeoutSeconds
            self.assertLess(time.monotonic() - started, 4.0)

        return defer.ensureDeferred(go())

    def test_watch_from_compacted_revision_is_error_event(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.setup_ns()
            for i in range(3):
                await self.call("POST", W, {"metadata": {"name": f"w{i}"}})
            rev = await self.storage.current_revision()
            await self.storage.compact(rev)
            client = await self.open_stream(W + "?watch=1&resourceVersion=1")
            events = await client.wait_events(1)
            self.assertIn(b"HTTP/1.1 200", client.head)
            self.assertEqual(events[0]["type"], "ERROR")
            self.assertEqual((events[0]["object"]["code"], events[0]["object"]["reason"]), (410, "Expired"))
            client.abort()

        return defer.ensureDeferred(go())

    def test_client_disconnect_stops_store_watch(self) -> defer.Deferred[None]:
        async def go() -> None:
            stores = RecordingStores()
            stores.server = await self.start_server(store_factory=stores)
            await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "default"}})
            client = await self.open_stream("/apis/example.com/v1/watch/namespaces/default/widgets")
            await self.call("POST", W, {"metadata": {"name": "w1"}})
            await client.wait_events(1)
            self.assertEqual(stores.watches, [{"stopped": False}])
            client.abort()
            for _ in range(100):
                if stores.watches[0]["stopped"]:
                    break
                await task.deferLater(reactor, 0.01, lambda: None)
            self.assertEqual(stores.watches, [{"stopped": True}])
            code, _, _ = await self.call("GET", W)  # still serving
            self.assertEqual(code, 200)

        return defer.ensureDeferred(go())

    def test_shutdown_ends_open_watches(self) -> defer.Deferred[None]:
        async def go() -> None:
            server = await self.setup_ns()
            client = await self.open_stream(W + "?watch=true")
            await self.call("POST", W, {"metadata": {"name": "w1"}})
            await client.wait_events(1)
            self.assertEqual(server.end_watches(), 1)
            await client.wait_end()
            self.assertTrue(client.ended)
            self.assertEqual(server.end_watches(), 0)

        return defer.ensureDeferred(go())

    def test_request_timeout_is_504(self) -> defer.Deferred[None]:
        async def go() -> None:
            server = await self.setup_ns(request_timeout=0.2)

            async def slow(_server: Any, ctx: Any, rdef: Any) -> bytes:
                await task.deferLater(reactor, 5, lambda: None)
                return b""

            server.add_subresource_handler("widgets", "scale", slow)
            await self.call("POST", W, {"metadata": {"name": "w1"}})
            code, body, _ = await self.call("GET", W + "/w1/scale")
            self.assertEqual((code, body["reason"]), (504, "Timeout"))
            self.assertIn("request did not complete within requested timeout", body["message"])

        return defer.ensureDeferred(go())

    def test_internal_error_is_status_500_and_server_survives(self) -> defer.Deferred[None]:
        async def go() -> None:
            server = await self.setup_ns()

            async def broken(_server: Any, ctx: Any, rdef: Any) -> bytes:
                raise RuntimeError("kaboom")

            server.add_subresource_handler("widgets", "scale", broken)
            code, body, _ = await self.call("GET", W + "/w1/scale")
            self.assertEqual((code, body["kind"], body["reason"]), (500, "Status", "InternalError"))
            self.flushLoggedErrors(RuntimeError)
            code, _, _ = await self.call("GET", W)
            self.assertEqual(code, 200)

            async def storage_down(_server: Any, ctx: Any, rdef: Any) -> bytes:
                raise UnavailableError("etcd: no endpoint reachable")

            server.add_subresource_handler("widgets", "scale", storage_down)
            code, body, _ = await self.call("GET", W + "/w1/scale")
            self.assertEqual((code, body["reason"]), (503, "ServiceUnavailable"))

        return defer.ensureDeferred(go())

    def test_max_in_flight_is_429(self) -> defer.Deferred[None]:
        async def go() -> None:
            server = await self.setup_ns(max_requests_inflight=1)
            release: defer.Deferred[None] = defer.Deferred()

            async def held(_server: Any, ctx: Any, rdef: Any) -> bytes:
                await release
                return b"{}"

            server.add_subresource_handler("widgets", "scale", held)
            # Only the secure port counts (the insecure port is system:masters, exempt).
            first = defer.ensureDeferred(self.call("GET", W + "/w1/scale", secure=True))
            await task.deferLater(reactor, 0.1, lambda: None)
            code, body, h = await self.call("GET", W, secure=True)
            self.assertEqual((code, body["reason"]), (429, "TooManyRequests"))
            self.assertEqual(h.getRawHeaders("retry-after"), ["1"])
            code, _, _ = await self.call("GET", W)  # masters are not limited
            self.assertEqual(code, 200)
            release.callback(None)
            code, _, _ = await first
            self.assertEqual(code, 200)

        return defer.ensureDeferred(go())

    def test_discovery_health_version_metrics_over_http(self) -> defer.Deferred[None]:
        async def go() -> None:
            server = await self.setup_ns()

            async def etcd_down() -> bool:
                return False

            code, body, h = await self.call(
                "GET", "/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                                                   "application/json"})
            self.assertEqual((code, body["kind"]), (200, "APIGroupDiscoveryList"))
            self.assertEqual(h.getRawHeaders("content-type"),
                             ["application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"])
            code, body, _ = await self.call("GET", "/api", headers={
                "Accept": "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"})
            self.assertEqual(body["apiVersion"], "apidiscovery.k8s.io/v2beta1")
            code, body, _ = await self.call("GET", "/api")
            self.assertEqual(body["kind"], "APIVersions")
            code, body, _ = await self.call("GET", "/apis/example.com")
            self.assertEqual((code, body["kind"]), (200, "APIGroup"))

            code, text, _ = await self.call("GET", "/readyz")
            self.assertEqual((code, text), (200, "ok"))
            server.add_health_check("etcd", etcd_down)
            code, text, _ = await self.call("GET", "/livez")
            self.assertEqual(code, 500)
            self.assertIn("[-]etcd failed: reason withheld\nlivez check failed", text)
            code, text, _ = await self.call("GET", "/livez?verbose&exclude=etcd")
            self.assertEqual(code, 200)
            self.assertTrue(text.endswith("livez check passed\n"))
            code, text, _ = await self.call("GET", "/livez/ping")
            self.assertEqual((code, text), (200, "ok"))
            server.begin_shutdown()
            code, text, _ = await self.call("GET", "/readyz?exclude=etcd")
            self.assertIn("[-]shutdown failed: reason withheld", text)

            code, body, _ = await self.call("GET", "/openapi/v3")
            url = body["paths"]["apis/example.com/v1"]["serverRelativeURL"]
            code, doc, h = await self.call("GET", url)
            self.assertEqual((code, h.getRawHeaders("cache-control")), (200, ["public, immutable"]))
            self.assertIn("openapi", doc)
            code, _, _ = await self.call("GET", "/openapi/v2")
            self.assertEqual(code, 200)
            code, _, _ = await self.call("GET", "/openapi/v3/apis/nope/v1")
            self.assertEqual(code, 404)

            code, body, _ = await self.call("GET", "/version")
            self.assertEqual((body["major"], body["minor"], body["gitVersion"]), ("1", "34", "v1.34.4"))
            code, text, _ = await self.call("GET", "/metrics")
            self.assertIn('apiserver_request_total{code="201",component="apiserver",dry_run="",group="",'
                          'resource="namespaces",scope="cluster",subresource="",verb="POST",version="v1"} 1.0',
                          text)
            self.assertIn("apiserver_request_duration_seconds_bucket", text)

        return defer.ensureDeferred(go())
