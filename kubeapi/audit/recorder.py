"""The audit stage hook: the pipeline reports each stage of a request here.

``NoopRecorder`` serves when no policy is configured; ``kubeapi.audit.auditor.Auditor`` is the
policy-driven implementation.  ``record`` may return a Deferred: a blocking backend's write,
which the pipeline waits for before the reply goes out.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.internet import defer

# Stage names as in audit.k8s.io/v1 Event.stage.
REQUEST_RECEIVED = "RequestReceived"
RESPONSE_STARTED = "ResponseStarted"
RESPONSE_COMPLETE = "ResponseComplete"
PANIC = "Panic"


class AuditRecorder(Protocol):
    def record(self, stage: str, ctx: Any, code: int | None = None) -> defer.Deferred[None] | None:
        """Called once per stage; ``ctx`` is the server's RequestContext. Must not block."""
        ...


class NoopRecorder:
    def record(self, stage: str, ctx: Any, code: int | None = None) -> defer.Deferred[None] | None:
        return None
