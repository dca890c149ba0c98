"""/metrics over a watch cache: apiserver_watch_cache_* and the request series, parsed as
Prometheus does, with no *_created series."""

from __future__ import annotations

import os
import shutil
import tempfile

import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer, task
from twisted.trial import unittest
from twisted.web.client import HTTPConnectionPool
from twisted.web.server import Site

from kubeapi import errors
from kubeapi.admission.always import AlwaysAdmit
from kubeapi.admission.interface import Attributes
from kubeapi.server.apiserver import APIServer
from kubeapi.server.storagemetrics import count_objects
from kubeapi.storage.cache import WatchCache
from kubeapi.storage.embedded import SQLiteStorage
from tests.server.support import ServerTestCase, reactor, small_catalog


class WatchCacheMetrics(unittest.TestCase):
    def test_watch_cache_series(self) -> defer.Deferred[None]:
        async def go() -> None:
            tmp = tempfile.mkdtemp(prefix="kubeapi-ops-metrics-")
            self.addCleanup(shutil.rmtree, tmp, True)
            backend = SQLiteStorage(os.path.join(tmp, "db.sqlite"))
            await backend.open()
            catalog = small_catalog()
            prefixes = sorted({r.key_prefix("/registry") for r in catalog.all()})
            cache = WatchCache(backend, prefixes, reactor=reactor)
            await cache.start()
            self.addCleanup(lambda: defer.ensureDeferred(cache.close()))
            server = APIServer(catalog, cache, None)  # type: ignore[arg-type]
            port = reactor.listenTCP(0, Site(server.resource(secure=False)), interface="127.0.0.1")
            self.addCleanup(port.stopListening)
            pool = HTTPConnectionPool(reactor, persistent=False)
            self.addCleanup(pool.closeCachedConnections)
            url = f"http://127.0.0.1:{port.getHost().port}"
            watch = await treq.get(url + "/api/v1/namespaces?watch=1&timeoutSeconds=2", pool=pool)
            rest = watch.content()  # the watch ends by itself; its events are the dispatched ones
            for name in ("a", "b"):
                r = await treq.post(url + "/api/v1/namespaces", json={"metadata": {"name": name}}, pool=pool)
                self.assertEqual(r.code, 201)
                await r.content()
            for _ in range(40):  # the cache applies the events a moment later
                r = await treq.get(url + "/metrics", pool=pool)
                text = (await r.content()).decode()
                fams = {f.name: f for f in text_string_to_metric_families(text)}
                got = {tuple(s.labels.values()): s.value
                       for s in fams["apiserver_watch_cache_events_received"].samples}
                sent = {tuple(s.labels.values()): s.value
                        for s in fams["apiserver_watch_cache_events_dispatched"].samples}
                if got.get(("", "namespaces"), 0) >= 2 and sent.get(("", "namespaces"), 0) >= 2:
                    break
                await task.deferLater(reactor, 0.05, lambda: None)
            self.assertEqual(got[("", "namespaces")], 2)
            inits = {tuple(s.labels.values()): s.value
                     for s in fams["apiserver_watch_cache_initializations"].samples}
            self.assertEqual(inits[("", "namespaces")], 1)
            self.assertEqual(sent[("", "namespaces")], 2)
            gauges = {(f.name, s.labels["resource"]): s.value for f in fams.values() for s in f.samples
                      if f.name in ("apiserver_watch_cache_resource_version", "apiserver_watch_cache_capacity")}
            self.assertEqual(gauges[("apiserver_watch_cache_resource_version", "namespaces")],
                             await cache.current_revision())
            self.assertGreater(gauges[("apiserver_watch_cache_capacity", "namespaces")], 0)
            self.assertEqual((await rest).count(b'"type":"ADDED"'), 2)
            self.assertFalse([s.name for f in fams.values() for s in f.samples if s.name.endswith("_created")])
            self.assertIn("apiserver_request", fams)
            self.assertIn("etcd_request_duration_seconds", fams)
            self.assertIn("apiserver_response_sizes", fams)
            await count_objects(cache, server.metrics, catalog.all(), "/registry")
            r = await treq.get(url + "/metrics", pool=pool)
            fams = {f.name: f for f in text_string_to_metric_families((await r.content()).decode())}
            objects = {s.labels["resource"]: s.value for s in fams["apiserver_storage_objects"].samples}
            self.assertEqual(objects["namespaces"], 2)
            self.assertEqual(objects["widgets.example.com"], 0)

        return defer.ensureDeferred(go())


class RefuseNoPrefix:
    """A mutating plugin that refuses namespaces named ``no-*`` (test data for the chain)."""

    name = "RefuseNoPrefix"

    async def admit(self, attrs: Attributes) -> None:
        name = attrs.name or ((attrs.object or {}).get("metadata") or {}).get("name", "")
        if name.startswith("no-"):
            raise errors.forbidden("namespaces", "", name, "not this one")


class AdmissionMetrics(ServerTestCase):
    def test_step_and_controller_series(self) -> defer.Deferred[None]:
        async def go() -> None:
            await self.start_server(admission=[AlwaysAdmit(), RefuseNoPrefix()])
            for name, code in (("yes", 201), ("no-thanks", 403)):
                got, out, _ = await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
                self.assertEqual(got, code, out)
            _, text, _ = await self.call("GET", "/metrics")
            fams = {f.name: f for f in text_string_to_metric_families(text)}

            def counts(family: str) -> dict[tuple[str, ...], float]:
                keys = ("name", "type", "operation", "rejected")
                return {tuple(s.labels[k] for k in keys if k in s.labels): s.value
                        for s in fams[family].samples if s.name.endswith("_count")}

            controller = counts("apiserver_admission_controller_admission_duration_seconds")
            self.assertEqual(controller[("AlwaysAdmit", "admit", "CREATE", "false")], 2)
            self.assertEqual(controller[("RefuseNoPrefix", "admit", "CREATE", "true")], 1)
            self.assertEqual(controller[("RefuseNoPrefix", "admit", "CREATE", "false")], 1)
            step = counts("apiserver_admission_step_admission_duration_seconds")
            self.assertEqual(step[("admit", "CREATE", "true")], 1)
            self.assertEqual(step[("admit", "CREATE", "false")], 1)
            self.assertEqual(step[("validate", "CREATE", "false")], 1)  # only the admitted one
            self.assertNotIn(("validate", "CREATE", "true"), step)

        return defer.ensureDeferred(go())
