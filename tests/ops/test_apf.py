"""API Priority and Fairness over real HTTP: a real APIServer on loopback, requests from
impersonated users (the insecure port is system:masters, so it may impersonate)."""

from __future__ import annotations

from typing import Any

import orjson
from twisted.internet import defer, task
from twisted.trial import unittest

from kubeapi.flowcontrol import bootstrap
from kubeapi.flowcontrol.classify import Request
from kubeapi.flowcontrol.controller import FlowControl
from kubeapi.flowcontrol.queueset import QueueSet, Rejected, deal_hand
from tests.server.support import ServerTestCase, reactor

W = "/apis/example.com/v1/namespaces/default/widgets"


def _as(user: str, *groups: str) -> dict[str, str]:
    h = {"Impersonate-User": user}
    if groups:
        h["Impersonate-Group"] = groups[0]
    return h


class Classification(unittest.TestCase):
    def setUp(self) -> None:
        self.fc = FlowControl(600)

    def where(self, **kw: Any) -> tuple[str, str, str]:
        kw.setdefault("is_resource_request", True)
        kw.setdefault("verb", "get")
        kw.setdefault("groups", ("system:authenticated",))
        schema, level, flow = self.fc.classify(Request(**kw))
        return schema["metadata"]["name"], level.name, flow

    def test_bootstrap_schemas_as_upstream(self) -> None:
        self.assertEqual(self.where(user="admin", groups=("system:masters",), resource="pods")[:2],
                         ("exempt", "exempt"))
        self.assertEqual(self.where(user="alice", resource="pods", namespace="a"),
                         ("global-default", "global-default", "alice"))
        self.assertEqual(self.where(user="system:node:n1", groups=("system:nodes", "system:authenticated"),
                                    resource="nodes", subresource="status")[:2],
                         ("system-node-high", "node-high"))
        self.assertEqual(self.where(user="system:node:n1", groups=("system:nodes",), resource="pods",
                                    namespace="x")[:2], ("system-nodes", "system"))
        self.assertEqual(self.where(user="system:kube-scheduler", verb="update", api_group="coordination.k8s.io",
                                    resource="leases", namespace="kube-system")[:2],
                         ("system-leader-election", "leader-election"))
        self.assertEqual(self.where(user="system:kube-scheduler", resource="pods", namespace="ns1"),
                         ("kube-scheduler", "workload-high", "ns1"))
        self.assertEqual(self.where(user="system:serviceaccount:kube-system:foo",
                                    groups=("system:serviceaccounts",), resource="pods", namespace="q")[:2],
                         ("kube-system-service-accounts", "workload-high"))
        self.assertEqual(self.where(user="system:serviceaccount:app:foo", groups=("system:serviceaccounts",),
                                    resource="pods", namespace="q")[:2], ("service-accounts", "workload-low"))
        self.assertEqual(self.where(user="system:anonymous", groups=("system:unauthenticated",),
                                    is_resource_request=False, path="/readyz")[:2], ("probes", "exempt"))

    def test_shares_of_server_concurrency(self) -> None:
        # 600 seats over shares 30+40+10+40+100+20+5 = 245, rounded up as upstream.
        self.assertEqual(self.fc.seats("global-default"), 49)
        self.assertEqual(self.fc.seats("workload-low"), 245)
        self.assertEqual(self.fc.seats("catch-all"), 13)


class Queues(unittest.TestCase):
    def test_hand_is_distinct_and_stable(self) -> None:
        hand = deal_hand("fs\x00alice", 128, 6)
        self.assertEqual(len(set(hand)), 6)
        self.assertEqual(hand, deal_hand("fs\x00alice", 128, 6))
        self.assertTrue(all(0 <= i < 128 for i in hand))

    def test_queue_length_limit_and_fair_dispatch(self) -> None:
        qs = QueueSet("l", 1, queues=8, hand_size=1, queue_length_limit=3)
        running, idx = qs.enqueue("noisy")
        self.assertTrue(running.called)
        noisy = [qs.enqueue("noisy")[0] for _ in range(3)]
        with self.assertRaises(Rejected) as e:
            qs.enqueue("noisy")
        self.assertEqual(e.exception.reason, "queue-full")
        quiet, _ = qs.enqueue("quiet")
        qs.finish(idx)  # the next seat goes to the quiet flow, whose queue holds no seat
        self.assertTrue(quiet.called)
        self.assertFalse(any(d.called for d in noisy))

    def test_reject_level_does_not_queue(self) -> None:
        qs = QueueSet("r", 1)
        qs.enqueue("a")
        with self.assertRaises(Rejected) as e:
            qs.enqueue("b")
        self.assertEqual(e.exception.reason, "concurrency-limit")


class PriorityAndFairness(ServerTestCase):
    async def setup(self, **kwargs: Any) -> Any:
        # 49 seats in all → global-default (20 of 245 shares) has 4.
        kwargs = {"priority_and_fairness": True, "max_requests_inflight": 40,
                  "max_mutating_requests_inflight": 9, **kwargs}
        server = await self.start_server(**kwargs)
        await server.flowcontrol.start()
        self.addCleanup(server.flowcontrol.stop)
        code, _, _ = await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "default"}})
        self.assertEqual(code, 201)
        code, _, _ = await self.call("POST", W, {"metadata": {"name": "w1"}})
        self.assertEqual(code, 201)
        self.gates: dict[str, list[defer.Deferred[None]]] = {}
        self.served: list[str] = []

        async def held(_server: Any, ctx: Any, rdef: Any) -> bytes:
            who = ctx.user.name
            gate: defer.Deferred[None] = defer.Deferred()
            self.gates.setdefault(who, []).append(gate)
            await gate
            self.served.append(who)
            return b"{}"

        server.add_subresource_handler("widgets", "scale", held)
        return server

    async def until(self, cond: Any, timeout: float = 10.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if cond():
                return
            await task.deferLater(reactor, 0.05, lambda: None)
        self.fail("condition not reached")

    def test_flood_from_one_user_leaves_another_served(self) -> defer.Deferred[None]:
        async def go() -> None:
            server = await self.setup()
            self.assertEqual(server.flowcontrol.seats("global-default"), 4)
            flood = [defer.ensureDeferred(self.call("GET", W + "/w1/scale", headers=_as("alice")))
                     for _ in range(60)]
            queued = server.flowcontrol.levels["global-default"].queueset
            await self.until(lambda: queued.waiting == 56)
            self.assertEqual(len(self.gates.get("alice", [])), 4)  # her share of seats, no more
            # 4 running, the rest queued in her hand of 6 queues (each holds 50).
            self.assertFalse(any(d.called for d in flood))
            self.assertEqual(server.flowcontrol.levels["global-default"].queueset.waiting, 56)
            # bob is in the same level; he waits only for the first seat alice frees.
            bob = defer.ensureDeferred(self.call("GET", W + "/w1/scale", headers=_as("bob")))
            await self.until(lambda: queued.waiting == 57)
            self.assertFalse(bob.called)
            self.gates["alice"][0].callback(None)
            await self.until(lambda: "bob" in self.gates)
            self.assertEqual(len(self.gates["alice"]), 4)  # bob got the freed seat, not alice
            self.gates["bob"][0].callback(None)
            code, _, headers = await bob
            self.assertEqual(code, 200)
            level = server.flowcontrol.levels["global-default"]
            self.assertEqual(headers.getRawHeaders("x-kubernetes-pf-prioritylevel-uid"), [level.uid])
            # system:masters (the insecure port's user) is exempt and never waits.
            code, _, headers = await self.call("GET", W)
            self.assertEqual(code, 200)
            self.assertEqual(headers.getRawHeaders("x-kubernetes-pf-prioritylevel-uid"),
                             [bootstrap.EXEMPT_PLC["metadata"]["uid"]])
            # Let the flood drain.
            while len(self.served) < 61:
                for g in self.gates["alice"]:
                    if not g.called:
                        g.callback(None)
                await task.deferLater(reactor, 0.05, lambda: None)
            codes = [(await d)[0] for d in flood]
            self.assertEqual(codes, [200] * 60)
            code, text, _ = await self.call("GET", "/metrics")
            self.assertIn('apiserver_flowcontrol_dispatched_requests_total{flow_schema="global-default",'
                          'priority_level="global-default"} 61.0', text)
            self.assertIn('apiserver_flowcontrol_nominal_limit_seats{priority_level="global-default"} 4.0', text)
            # global-default lends 50 % and has no borrowing limit (the server's 49 seats).
            self.assertIn('apiserver_flowcontrol_lower_limit_seats{priority_level="global-default"} 2.0', text)
            self.assertIn('apiserver_flowcontrol_upper_limit_seats{priority_level="global-default"} 53.0', text)
            self.assertIn('apiserver_flowcontrol_current_limit_seats{priority_level="global-default"} 4.0', text)
            # Every seat-holding request is timed once it finishes: alice's 60 and bob's one.
            self.assertIn('apiserver_flowcontrol_request_execution_seconds_count{flow_schema="global-default",'
                          'priority_level="global-default",type="regular"} 61.0', text)

        return defer.ensureDeferred(go())

    def test_stored_objects_replace_the_bootstrap_ones(self) -> defer.Deferred[None]:
        async def go() -> None:
            server = await self.setup()
            # One seat (1 of 1001 shares of 49) and one queue holding one request.
            plc = {"apiVersion": bootstrap.API_VERSION, "kind": "PriorityLevelConfiguration",
                   "metadata": {"name": "tiny", "uid": "11111111-2222-3333-4444-555555555555"},
                   "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 1, "limitResponse": {
                       "type": "Queue", "queuing": {"queues": 1, "handSize": 1, "queueLengthLimit": 1}}}}}
            big = {"apiVersion": bootstrap.API_VERSION, "kind": "PriorityLevelConfiguration",
                   "metadata": {"name": "catch-all", "uid": "aaaaaaaa-2222-3333-4444-555555555555"},
                   "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 1000,
                                                           "limitResponse": {"type": "Reject"}}}}
            await self.storage.create("/registry/prioritylevelconfigurations/catch-all", orjson.dumps(big))
            fs = {"apiVersion": bootstrap.API_VERSION, "kind": "FlowSchema",
                  "metadata": {"name": "carol", "uid": "66666666-7777-8888-9999-000000000000"},
                  "spec": {"priorityLevelConfiguration": {"name": "tiny"}, "matchingPrecedence": 50,
                           "rules": [{"subjects": [{"kind": "User", "user": {"name": "carol"}}],
                                      "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"],
                                                         "resources": ["*"], "namespaces": ["*"]}]}]}}
            await self.storage.create("/registry/prioritylevelconfigurations/tiny", orjson.dumps(plc))
            await self.storage.create("/registry/flowschemas/carol", orjson.dumps(fs))
            # The three objects may arrive in more than one reload: wait for the last of them.
            fc = server.flowcontrol
            await self.until(lambda: "tiny" in fc.levels
                             and any(s["metadata"]["name"] == "carol" for s in fc.schemas))
            self.assertEqual(fc.source, "storage")
            self.assertEqual(fc.seats("tiny"), 1)
            first = defer.ensureDeferred(self.call("GET", W + "/w1/scale", headers=_as("carol")))
            await self.until(lambda: len(self.gates.get("carol", ())) == 1)
            second = defer.ensureDeferred(self.call("GET", W + "/w1/scale", headers=_as("carol")))
            tiny = fc.levels["tiny"].queueset
            assert tiny is not None
            await self.until(lambda: tiny.waiting == 1)
            self.assertFalse(second.called)  # queued
            code, body, headers = await self.call("GET", W, headers=_as("carol"))
            self.assertEqual((code, body), (429, "Too many requests, please try again later.\n"))
            self.assertEqual(headers.getRawHeaders("retry-after"), ["1"])
            self.assertEqual(headers.getRawHeaders("x-kubernetes-pf-flowschema-uid"), [fs["metadata"]["uid"]])
            self.assertEqual(headers.getRawHeaders("x-kubernetes-pf-prioritylevel-uid"),
                             [plc["metadata"]["uid"]])
            code, text, _ = await self.call("GET", "/metrics")
            self.assertIn('apiserver_flowcontrol_rejected_requests_total{flow_schema="carol",'
                          'priority_level="tiny",reason="queue-full"} 1.0', text)
            # Mandatory objects stay (exempt for masters), the suggested ones are gone.
            self.assertIn("exempt", server.flowcontrol.levels)
            self.assertNotIn("global-default", server.flowcontrol.levels)
            code, _, _ = await self.call("GET", W, headers=_as("dave"))  # catch-all
            self.assertEqual(code, 200)
            self.gates["carol"][0].callback(None)
            self.assertEqual((await first)[0], 200)
            await self.until(lambda: len(self.gates["carol"]) == 2)
            self.gates["carol"][1].callback(None)
            self.assertEqual((await second)[0], 200)

        return defer.ensureDeferred(go())

    def test_disabled_keeps_max_in_flight(self) -> defer.Deferred[None]:
        async def go() -> None:
            server = await self.start_server(max_requests_inflight=1)
            self.assertIsNone(server.flowcontrol)
            code, _, headers = await self.call("GET", "/api/v1/namespaces", secure=True)
            self.assertEqual(code, 200)
            self.assertIsNone(headers.getRawHeaders("x-kubernetes-pf-flowschema-uid"))

        return defer.ensureDeferred(go())
