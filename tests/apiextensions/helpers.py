"""A real in-process server with the CRD kind and controller installed, and CRD builders."""

from __future__ import annotations

import copy
from typing import Any

from twisted.internet import defer

from kubeapi.apiextensions import install
from tests.server.support import ServerTestCase, reactor

Obj = dict[str, Any]
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

SCHEMA: Obj = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.size <= self.maxSize", "message": "size must not exceed maxSize"},
                {"rule": "self.size >= oldSelf.size", "message": "size may not shrink", "fieldPath": ".size"},
            ],
            "properties": {
                "size": {"type": "integer", "default": 1, "minimum": 0},
                "maxSize": {"type": "integer", "default": 10},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "label": {"type": "string", "maxLength": 8, "pattern": "^[a-z]+$"},
                "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "note": {"type": "string", "nullable": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "required": ["name"],
                                    "properties": {"name": {"type": "string"},
                                                   "number": {"type": "integer", "default": 80}}}},
            },
        },
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"},
                                                    "phase": {"type": "string"}}},
    },
}


def crd(group: str = "example.dev", plural: str = "gizmos", kind: str = "Gizmo", scope: str = "Namespaced",
        versions: list[Obj] | None = None, **names: Any) -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group, "scope": scope,
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind, "shortNames": ["gz"],
                      "categories": ["all"], **names},
            "versions": versions or [{
                "name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size",
                                                         "statusReplicasPath": ".status.replicas"}},
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                                             {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}],
                "selectableFields": [{"jsonPath": ".spec.color"}],
            }],
        },
    }


def gizmo(name: str = "g1", **spec: Any) -> Obj:
    return {"apiVersion": "example.dev/v1", "kind": "Gizmo", "metadata": {"name": name}, "spec": spec}


class CRDServerTestCase(ServerTestCase):
    async def start_crd_server(self) -> None:
        server = await self.start_server()
        self.controller = install(server, reactor=reactor, resync=3600)
        self.controller.startService()
        self.addCleanup(self.controller.stopService)

    async def create_crd(self, body: Obj | None = None) -> Obj:
        code, out, _ = await self.call("POST", CRD_PATH, body or crd())
        self.assertEqual(code, 201, out)
        return out  # type: ignore[no-any-return]

    async def wait_for(self, check: Any, timeout: float = 5.0) -> Any:
        deadline = reactor.seconds() + timeout
        while True:
            got = await check()
            if got:
                return got
            if reactor.seconds() > deadline:
                self.fail("condition not reached in time")
            d: defer.Deferred[None] = defer.Deferred()
            reactor.callLater(0.05, d.callback, None)
            await d
