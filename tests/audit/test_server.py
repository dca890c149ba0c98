"""The audit recorder in a real server: events a user finds in the log for real requests."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from twisted.internet import defer, task

from kubeapi.auth.user import UserInfo
from tests.audit.helpers import W, file_auditor, read_events
from tests.server.support import ServerTestCase, reactor


class Tokens:
    async def authenticate_token(self, token: str) -> UserInfo | None:
        return UserInfo("alice", uid="u-1", groups=("team", "system:authenticated")) if token == "good" else None


class AuditedServer(ServerTestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="kubeapi-audit-")
        self.path = os.path.join(self.tmp, "audit.log")

    def tearDown(self) -> None:
        a = getattr(self, "auditor", None)
        if a is not None:
            a.stop()

    async def boot(self, *rules: dict[str, Any], top: dict[str, Any] | None = None, **kw: Any) -> None:
        self.auditor = file_auditor(self.path, reactor, *rules, top=top,
                                    **{k: kw.pop(k) for k in list(kw) if k in ("mode", "fmt")})
        await self.start_server(audit=self.auditor, token_authenticators=[Tokens()], **kw)

    def events(self, audit_id: str | None = None) -> list[dict[str, Any]]:
        evs = read_events(self.path)
        return [e for e in evs if audit_id is None or e["auditID"] == audit_id]

    def test_metadata_create_and_get(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.boot({"level": "Metadata"})
            body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}}
            code, _, headers = await self.call("POST", W, body, secure=True,
                                               headers={"Authorization": "Bearer good",
                                                        "User-Agent": "audit-test/1"})
            self.assertEqual(code, 201)
            aid = headers.getRawHeaders("audit-id")[0]
            evs = self.events(aid)
            self.assertEqual([e["stage"] for e in evs], ["RequestReceived", "ResponseComplete"])
            done = evs[1]
            self.assertEqual(done["kind"], "Event")
            self.assertEqual(done["apiVersion"], "audit.k8s.io/v1")
            self.assertEqual(done["level"], "Metadata")
            self.assertEqual(done["verb"], "create")
            self.assertEqual(done["requestURI"], W)
            self.assertEqual(done["user"], {"username": "alice", "uid": "u-1",
                                            "groups": ["team", "system:authenticated"]})
            self.assertEqual(done["userAgent"], "audit-test/1")
            self.assertEqual(done["sourceIPs"], ["127.0.0.1"])
            # a create's objectRef is completed from the body's metadata
            self.assertEqual(list(done["objectRef"].items()),
                             [("resource", "widgets"), ("namespace", "default"), ("name", "w1"),
                              ("apiGroup", "example.com"), ("apiVersion", "v1")])
            self.assertNotIn("name", evs[0]["objectRef"])
            self.assertEqual(done["responseStatus"], {"metadata": {}, "code": 201})
            self.assertEqual(done["annotations"]["authorization.k8s.io/decision"], "allow")
            self.assertIn("authorization.k8s.io/reason", done["annotations"])
            self.assertNotIn("requestObject", done)
            self.assertNotIn("responseObject", done)
            self.assertRegex(done["stageTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
            self.assertEqual(done["requestReceivedTimestamp"], evs[0]["requestReceivedTimestamp"])
            self.assertNotIn("annotations", evs[0])
            code, _, headers = await self.call("GET", W + "/w1")
            evs = self.events(headers.getRawHeaders("audit-id")[0])
            self.assertEqual(evs[-1]["objectRef"]["name"], "w1")
            self.assertEqual(evs[-1]["verb"], "get")
            self.assertEqual(evs[-1]["user"]["username"], "system:admin")

        return defer.ensureDeferred(go())

    def test_caller_audit_id_is_kept(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.boot({"level": "Metadata"})
            _, _, headers = await self.call("GET", W, headers={"Audit-ID": "my-id-1"})
            self.assertEqual(headers.getRawHeaders("audit-id"), ["my-id-1"])
            self.assertEqual(len(self.events("my-id-1")), 2)

        return defer.ensureDeferred(go())

    def test_request_response_levels_and_managed_fields(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.boot({"level": "RequestResponse", "verbs": ["create"], "omitManagedFields": True},
                            {"level": "Request", "verbs": ["update"]},
                            {"level": "Metadata"})
            body = {"apiVersion": "example.com/v1", "kind": "Widget",
                    "metadata": {"name": "w2", "labels": {"a": "b"}}, "spec": {"color": "red"}}
            code, created, headers = await self.call("POST", W, body)
            self.assertEqual(code, 201)
            done = self.events(headers.getRawHeaders("audit-id")[0])[-1]
            self.assertEqual(done["level"], "RequestResponse")
            self.assertEqual(done["requestObject"], body)
            self.assertEqual(done["responseObject"]["metadata"]["uid"], created["metadata"]["uid"])
            self.assertNotIn("managedFields", done["responseObject"]["metadata"])
            self.assertIn("managedFields", created["metadata"])
            created["spec"]["color"] = "blue"
            code, _, headers = await self.call("PUT", W + "/w2", created)
            self.assertEqual(code, 200)
            done = self.events(headers.getRawHeaders("audit-id")[0])[-1]
            self.assertEqual(done["level"], "Request")
            self.assertEqual(done["requestObject"]["spec"], {"color": "blue"})
            self.assertIn("managedFields", done["requestObject"]["metadata"])
            self.assertNotIn("responseObject", done)

        return defer.ensureDeferred(go())

    def test_omit_stages_rule_and_policy(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.boot({"level": "Metadata", "verbs": ["list"], "omitStages": ["ResponseComplete"]},
                            {"level": "Metadata"}, top={"omitStages": ["RequestReceived"]})
            _, _, h1 = await self.call("GET", W)
            _, _, h2 = await self.call("GET", W + "/nothing")
            self.assertEqual(self.events(h1.getRawHeaders("audit-id")[0]), [])
            evs = self.events(h2.getRawHeaders("audit-id")[0])
            self.assertEqual([e["stage"] for e in evs], ["ResponseComplete"])
            self.assertEqual(evs[0]["responseStatus"]["code"], 404)
            self.assertEqual(evs[0]["responseStatus"]["reason"], "NotFound")
            self.assertEqual(evs[0]["responseStatus"]["status"], "Failure")
            self.assertIn('"nothing" not found', evs[0]["responseStatus"]["message"])

        return defer.ensureDeferred(go())

    def test_forbidden_and_impersonation(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.boot({"level": "Metadata"}, authorization_mode=("AlwaysDeny",))
            code, _, headers = await self.call("GET", W, secure=True, headers={"Authorization": "Bearer good"})
            self.assertEqual(code, 403)
            done = self.events(headers.getRawHeaders("audit-id")[0])[-1]
            self.assertEqual(done["annotations"]["authorization.k8s.io/decision"], "forbid")
            self.assertEqual(done["annotations"]["authorization.k8s.io/reason"], "Everything is forbidden.")
            self.assertEqual(done["responseStatus"]["reason"], "Forbidden")
            as_root = {"Impersonate-User": "root", "Impersonate-Group": "system:masters"}
            code, _, headers = await self.call("GET", W, headers=as_root)
            self.assertEqual(code, 200)
            done = self.events(headers.getRawHeaders("audit-id")[0])[-1]
            self.assertEqual(done["user"]["username"], "system:admin")
            self.assertEqual(done["impersonatedUser"]["username"], "root")
            self.assertIn("system:masters", done["impersonatedUser"]["groups"])

        return defer.ensureDeferred(go())

    def test_unauthenticated_request(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.boot({"level": "Metadata"}, anonymous_auth=False)
            code, _, headers = await self.call("GET", W, secure=True, headers={"Authorization": "Bearer bad"})
            self.assertEqual(code, 401)
            evs = self.events(headers.getRawHeaders("audit-id")[0])
            self.assertEqual([e["stage"] for e in evs], ["ResponseStarted"])
            self.assertEqual(evs[0]["user"], {})
            self.assertEqual(evs[0]["responseStatus"], {"metadata": {}, "code": 401,
                                                        "message": "Authentication failed, attempted: bearer"})

        return defer.ensureDeferred(go())

    def test_watch_has_response_started(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.boot({"level": "Metadata"})
            stream = await self.open_stream(W + "?watch=1&timeoutSeconds=1")
            await stream.wait_end(10)
            head = stream.head.decode()
            aid = [ln.split(":", 1)[1].strip() for ln in head.split("\r\n") if ln.lower().startswith("audit-id")][0]
            for _ in range(100):  # the stream's end reaches the client before ResponseComplete is logged
                evs = self.events(aid)
                if len(evs) >= 3:
                    break
                await task.deferLater(reactor, 0.05, lambda: None)
            self.assertEqual([e["stage"] for e in evs], ["RequestReceived", "ResponseStarted", "ResponseComplete"])
            self.assertEqual(evs[1]["verb"], "watch")
            self.assertEqual(evs[1]["responseStatus"]["code"], 200)

        return defer.ensureDeferred(go())

    def test_rules_select_users_and_non_resource_urls(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.boot({"level": "None", "users": ["system:admin"], "nonResourceURLs": ["/healthz*"]},
                            {"level": "Metadata", "nonResourceURLs": ["/version"]},
                            {"level": "None"})
            _, _, h1 = await self.call("GET", "/healthz/ping")
            _, _, h2 = await self.call("GET", "/version")
            _, _, h3 = await self.call("GET", W)
            self.assertEqual(self.events(h1.getRawHeaders("audit-id")[0]), [])
            self.assertEqual(self.events(h3.getRawHeaders("audit-id")[0]), [])
            evs = self.events(h2.getRawHeaders("audit-id")[0])
            self.assertEqual(evs[-1]["verb"], "get")
            self.assertNotIn("objectRef", evs[-1])

        return defer.ensureDeferred(go())

    def test_legacy_format(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.boot({"level": "Metadata"}, fmt="legacy")
            _, _, headers = await self.call("GET", W + "?limit=1", headers={"User-Agent": "ua"})
            aid = headers.getRawHeaders("audit-id")[0]
            lines = [ln for ln in open(self.path).read().splitlines() if aid in ln]
            self.assertEqual(len(lines), 2)
            stamp, rest = lines[1].split(" ", 1)
            self.assertRegex(stamp, r"^\d{4}-\d\d-\d\dT[\d:.]+Z$")
            self.assertEqual(rest, f'AUDIT: id="{aid}" stage="ResponseComplete" ip="127.0.0.1" '
                             'method="list" user="system:admin" '
                             'groups="\\"system:masters\\",\\"system:authenticated\\"" as="<self>" '
                             'asgroups="<lookup>" user-agent="ua" namespace="default" '
                             'uri="/apis/example.com/v1/namespaces/default/widgets?limit=1" '
                             'response="200"')
            self.assertIn('response="<deferred>"', lines[0])

        return defer.ensureDeferred(go())


    def test_blocking_strict_fails_request_when_log_fails(self) -> defer.Deferred[None]:
        async def go() -> None:
            from kubeapi.audit.auditor import AuditMetrics, Auditor, LogBackend
            from kubeapi.audit.log import WriterThread
            from tests.audit.helpers import policy

            class Full:
                def write(self, data: bytes) -> None:
                    raise OSError(28, "No space left on device")

                def close(self) -> None:
                    return None

            server = await self.start_server()
            metrics = AuditMetrics(server.metrics.registry)
            backend = LogBackend(WriterThread(Full(), reactor), "json", "blocking-strict", metrics)
            self.addCleanup(backend.stop)
            server.audit = Auditor(policy({"level": "Metadata"}), [backend], metrics)
            code, body, _ = await self.call("GET", W)
            self.assertEqual((code, body["reason"], body["message"]),
                             (500, "InternalError", "Internal error occurred: failed to store audit event"))
            self.assertEqual(server.metrics.registry.get_sample_value(
                "apiserver_audit_requests_rejected_total"), 1)
            backend.mode = "blocking"  # plain blocking: the request still succeeds
            code, _, _ = await self.call("GET", W)
            self.assertEqual(code, 200)

        return defer.ensureDeferred(go())

    def test_panic_stage(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.boot({"level": "Metadata"})

            async def boom(server: Any, ctx: Any, rdef: Any) -> bytes:
                raise RuntimeError("kaboom")
            self.server.add_subresource_handler("widgets", "status", boom)
            code, _, headers = await self.call("GET", W + "/w/status")
            self.assertEqual(code, 500)
            evs = self.events(headers.getRawHeaders("audit-id")[0])
            self.assertEqual([e["stage"] for e in evs], ["RequestReceived", "Panic"])
            self.assertEqual(evs[1]["responseStatus"]["code"], 500)
            self.assertEqual(evs[1]["objectRef"]["subresource"], "status")
            self.flushLoggedErrors(RuntimeError)

        return defer.ensureDeferred(go())
