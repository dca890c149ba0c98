"""Max-in-flight: separate budgets for read-only and mutating requests (upstream's
WithMaxInFlightLimit).  Long-running requests and system:masters are not counted."""

from __future__ import annotations

from kubeapi.errors import too_many_requests
from kubeapi.server.context import RequestContext


class InFlightLimiter:
    def __init__(self, max_readonly: int, max_mutating: int) -> None:
        self.max_readonly = max_readonly
        self.max_mutating = max_mutating
        self.readonly = 0
        self.mutating = 0

    def acquire(self, ctx: RequestContext) -> str:
        """Take a slot; returns its kind ('' when exempt) for release().  429 when full."""
        if ctx.long_running:
            return ""
        if ctx.user is not None and "system:masters" in ctx.user.groups:
            return ""
        if ctx.mutating:
            if self.max_mutating > 0 and self.mutating >= self.max_mutating:
                raise too_many_requests()
            self.mutating += 1
            return "mutating"
        if self.max_readonly > 0 and self.readonly >= self.max_readonly:
            raise too_many_requests()
        self.readonly += 1
        return "readOnly"

    def release(self, kind: str) -> None:
        if kind == "mutating":
            self.mutating -= 1
        elif kind == "readOnly":
            self.readonly -= 1
