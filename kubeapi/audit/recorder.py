"""The audit stage hook: the pipeline reports each stage of a request here.

Only the interface and a no-op recorder for now; the policy-driven log and webhook
backends implement ``AuditRecorder`` later without the pipeline changing.
"""

from __future__ import annotations

from typing import Any, Protocol

# Stage names as in audit.k8s.io/v1 Event.stage.
REQUEST_RECEIVED = "RequestReceived"
RESPONSE_STARTED = "ResponseStarted"
RESPONSE_COMPLETE = "ResponseComplete"
PANIC = "Panic"


class AuditRecorder(Protocol):
    def record(self, stage: str, ctx: Any, code: int | None = None) -> None:
        """Called once per stage; ``ctx`` is the server's RequestContext. Must not block."""
        ...


class NoopRecorder:
    def record(self, stage: str, ctx: Any, code: int | None = None) -> None:
        return None
