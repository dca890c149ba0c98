"""A small kopf operator for tests/e2e/test_crd_kopf.py: on create it records that its handler
ran (status.create_fn via kopf's result patch, and a field of its own), and it keeps kopf's
finalizer on each object until its delete handler has run."""

from __future__ import annotations

from typing import Any

import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.enabled = False
    settings.watching.server_timeout = 30
    settings.persistence.finalizer = "kopf.example.dev/cleanup"


@kopf.on.create("example.dev", "v1", "widgets")
def create_fn(spec: Any, name: str, patch: kopf.Patch, **_: Any) -> dict[str, Any]:
    patch.status["phase"] = "Ready"
    return {"greeting": f"hello {spec.get('who', 'world')} from {name}"}


@kopf.on.delete("example.dev", "v1", "widgets")
def delete_fn(name: str, **_: Any) -> None:
    print(f"deleted {name}", flush=True)
