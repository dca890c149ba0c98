"""Kubernetes ``Status`` errors: one exception type, rendered in one place by the server.

The factories mirror the shapes kube-apiserver produces (code, reason, message, details),
because clients (kubectl, client-go, the Python client) branch on ``reason`` and ``code``.
``resource`` below is the qualified resource as upstream prints it: ``pods`` for the
core group, ``deployments.apps`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeapi.api.types import FieldError


class StatusError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:  # upstream sends "details": {} on a bare 404
            body["details"] = self.details
        body["code"] = self.code  # after details: metav1.Status's field order
        if not self.reason:
            del body["reason"]
        return body

    def __repr__(self) -> str:
        return f"StatusError({self.code}, {self.reason!r}, {self.message!r})"


def qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    d.update(extra)
    return d


def success_status(name: str, group: str, resource: str, uid: str = "") -> dict[str, Any]:
    """The body DELETE returns for kinds that do not return the deleted object."""
    details = _details(name, group, resource)
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                       _details(name, group, resource))


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists',
                       _details(name, group, resource))


def conflict(resource: str, group: str, name: str,
             why: str = "the object has been modified; please apply your changes to the latest "
                        "version and try again") -> StatusError:
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
                       _details(name, group, resource))


def invalid(kind: str, group: str, name: str, errors: Iterable[FieldError]) -> StatusError:
    errs = list(errors)
    causes = [{"reason": e.type, "message": e.message().split(": ", 1)[-1] if e.field else e.message(),
               "field": e.field} for e in errs]
    rendered = [e.message() for e in errs]
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    return StatusError(422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {summary}',
                       _details(name, group, kind, causes=causes))


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def method_not_allowed() -> StatusError:
    """The router's 405 (no route for this method): upstream renders it with empty details."""
    return StatusError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource", {})


def gone(message: str) -> StatusError:
    """410 Expired: a watch or list from a compacted resourceVersion, an expired continue token."""
    return StatusError(410, "Expired", message)


def too_old_resource_version(requested: int, oldest: int) -> StatusError:
    return gone(f"too old resource version: {requested} ({oldest})")


def not_acceptable(accepted: Iterable[str]) -> StatusError:
    return StatusError(406, "NotAcceptable",
                       "only the following media types are accepted: " + ", ".join(accepted))


def unsupported_media_type(content_type: str, accepted: Iterable[str]) -> StatusError:
    return StatusError(415, "UnsupportedMediaType",
                       f'the body of the request was in an unknown format - accepted media types '
                       f'include: {", ".join(accepted)}', )


def too_large(limit: int = 3 * 1024 * 1024) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def forbidden(resource: str, group: str, name: str, why: str) -> StatusError:
    what = f'{qualified(resource, group)} "{name}"' if name else qualified(resource, group)
    return StatusError(403, "Forbidden", f"{what} is forbidden: {why}", _details(name, group, resource))


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(401, "Unauthorized", message)


def service_unavailable(message: str) -> StatusError:
    return StatusError(503, "ServiceUnavailable", message)


def timeout(message: str, retry_after: int = 0) -> StatusError:
    details = {"retryAfterSeconds": retry_after} if retry_after else None
    return StatusError(504, "Timeout", message, details)


def internal_error(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}",
                       {"causes": [{"message": message}]})


def too_many_requests(message: str = "Too many requests, please try again later.",
                      retry_after: int = 1) -> StatusError:
    return StatusError(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after},
                       {"Retry-After": str(retry_after)})
