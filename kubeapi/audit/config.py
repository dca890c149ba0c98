"""Building the Auditor the ``--audit-*`` flags describe."""

from __future__ import annotations

from typing import Any

from kubeapi.audit.auditor import AuditMetrics, Auditor, WebhookSink, make_log_backend
from kubeapi.audit.batch import Truncator
from kubeapi.audit.policy import PolicyError, load_policy
from kubeapi.audit.webhook import WebhookBackend, WebhookConfigError, load_target


def _batch(o: Any, plugin: str) -> dict[str, Any]:
    p = f"audit-{plugin}-batch"
    return {"buffer_size": o[f"{p}-buffer-size"], "max_batch_size": o[f"{p}-max-size"],
            "max_wait": o[f"{p}-max-wait"], "throttle": o[f"{p}-throttle-enable"],
            "qps": o[f"{p}-throttle-qps"], "burst": o[f"{p}-throttle-burst"]}


def _truncator(o: Any, plugin: str) -> Truncator | None:
    if not o[f"audit-{plugin}-truncate-enabled"]:
        return None
    return Truncator(o[f"audit-{plugin}-truncate-max-event-size"], o[f"audit-{plugin}-truncate-max-batch-size"])


def build_auditor(o: Any, registry: Any, reactor: Any) -> Auditor | None:
    """The Auditor the flags describe, or None when audit is off (no policy or no backend).
    Raises ValueError with one line for a bad policy or webhook file."""
    if not o["audit-policy-file"] or not (o["audit-log-path"] or o["audit-webhook-config-file"]):
        return None
    try:
        policy = load_policy(o["audit-policy-file"])
    except PolicyError as e:
        raise ValueError(f"--audit-policy-file: {e}") from None
    metrics = AuditMetrics(registry)
    backends: list[Any] = []
    if o["audit-webhook-config-file"]:
        try:
            target = load_target(o["audit-webhook-config-file"])
        except WebhookConfigError as e:
            raise ValueError(f"--audit-webhook-config-file: {e}") from None
        backends.append(WebhookSink(WebhookBackend(target, reactor, o["audit-webhook-initial-backoff"]),
                                    o["audit-webhook-mode"], metrics, reactor, _batch(o, "webhook"),
                                    _truncator(o, "webhook")))
    if o["audit-log-path"]:
        backends.append(make_log_backend(
            o["audit-log-path"], reactor, metrics, fmt=o["audit-log-format"], mode=o["audit-log-mode"],
            maxsize=o["audit-log-maxsize"], maxbackup=o["audit-log-maxbackup"],
            maxage=o["audit-log-maxage"], compress=o["audit-log-compress"], batch=_batch(o, "log"),
            truncator=_truncator(o, "log")))
    return Auditor(policy, backends, metrics)
