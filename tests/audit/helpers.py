"""Shared bits of the audit tests: an Auditor writing to a temp file, and reading it back."""

from __future__ import annotations

import glob
import gzip
import os
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from kubeapi.audit.auditor import AuditMetrics, Auditor, make_log_backend
from kubeapi.audit.policy import parse_policy

W = "/apis/example.com/v1/namespaces/default/widgets"


def policy(*rules: dict[str, Any], **top: Any) -> Any:
    return parse_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": list(rules), **top})


def file_auditor(path: str, reactor: Any, *rules: dict[str, Any], registry: Any = None,
                 top: dict[str, Any] | None = None, **log_kw: Any) -> Auditor:
    metrics = AuditMetrics(registry or CollectorRegistry())
    backend = make_log_backend(path, reactor, metrics, **log_kw)
    return Auditor(policy(*(rules or ({"level": "Metadata"},)), **(top or {})), [backend], metrics)


def read_events(path: str) -> list[dict[str, Any]]:
    """Every event in ``path`` and its rotated backups (gzip too), oldest file first."""
    base, ext = os.path.splitext(path)
    files = sorted(glob.glob(glob.escape(base) + "-*" + glob.escape(ext) + "*"))
    out: list[dict[str, Any]] = []
    for f in files + ([path] if os.path.exists(path) else []):
        data = gzip.open(f).read() if f.endswith(".gz") else open(f, "rb").read()
        out.extend(orjson.loads(line) for line in data.splitlines() if line.strip())
    return out
