"""An update that removes an object's last finalizer after deletion answers with the object.

kube-controller-manager's garbage collector removes ``foregroundDeletion`` with a PATCH through
the metadata client, which accepts only PartialObjectMetadata back; a ``Status`` there (what a
DELETE returns) made it log "unexpected object, expected PartialObjectMetadata but got
*v1.Status" and retry.  Upstream returns the updated object.
"""

from __future__ import annotations

import json

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial import unittest

from tests.e2e.harness import shared_server

MERGE = {"Content-Type": "application/merge-patch+json"}
PARTIAL = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"


class FinalizedUpdateTests(unittest.TestCase):
    def _check(self, accept: str, name: str) -> None:
        s = shared_server()
        path = f"/api/v1/namespaces/default/configmaps/{name}"
        s.kubectl("create", "configmap", name, "-n", "default")
        self.assertEqual(s.raw("PATCH", path, {"metadata": {"finalizers": ["example.com/hold"]}}, MERGE)[0], 200)
        self.assertEqual(s.raw("DELETE", path)[0], 200)
        code, headers, body = s.raw("PATCH", path, {"metadata": {"finalizers": None}}, dict(MERGE, Accept=accept))
        self.assertEqual(code, 200, body)
        obj = json.loads(body)
        self.assertEqual(obj["kind"], "PartialObjectMetadata" if "as=" in accept else "ConfigMap")
        self.assertEqual(obj["metadata"]["name"], name)
        self.assertIn("deletionTimestamp", obj["metadata"])
        self.assertNotIn("finalizers", obj["metadata"])
        self.assertEqual(s.raw("GET", path)[0], 404)

    def test_metadata_client_gets_partial_object_metadata(self) -> Deferred[None]:
        return deferToThread(self._check, PARTIAL, "fin-partial")

    def test_json_client_gets_the_object(self) -> Deferred[None]:
        return deferToThread(self._check, "application/json", "fin-json")
