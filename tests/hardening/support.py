"""A real server with the built-in catalog for the hardening tests (embedded SQLite store,
127.0.0.1 listeners), and small helpers to build awkward bodies."""

from __future__ import annotations

from typing import Any

from kubeapi.api import builtin_catalog
from kubeapi.server.apiserver import APIServer
from tests.server.support import ServerTestCase

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def deployment(name: str, replicas: Any = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def nested(depth: int) -> bytes:
    """A JSON value ``depth`` objects deep."""
    return b'{"a":' * depth + b"1" + b"}" * depth


class BuiltinServerTestCase(ServerTestCase):
    async def start(self, **kwargs: Any) -> APIServer:
        server = await self.start_server(catalog=builtin_catalog(), **kwargs)
        code, body, _ = await self.call("POST", "/api/v1/namespaces", {"metadata": {"name": "default"}})
        assert code == 201, body
        return server
