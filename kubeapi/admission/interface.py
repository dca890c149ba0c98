"""The admission contract: mutating plugins run before the kind's validation, validating
plugins after it; any plugin may refuse by raising a StatusError."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from kubeapi.api.types import ResourceDef
from kubeapi.auth.user import UserInfo


@dataclass
class Attributes:
    resource: ResourceDef
    subresource: str
    operation: str  # "CREATE" | "UPDATE" | "DELETE" | "CONNECT"
    namespace: str
    name: str
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    user: UserInfo | None
    dry_run: bool
    # The request's `Warning: 299` texts; a plugin appends to warn without refusing (PodSecurity warn).
    warnings: list[str] = field(default_factory=list)
    # Annotations for the request's audit event (a policy's auditAnnotations, Audit actions).
    audit_annotations: dict[str, str] = field(default_factory=dict)

    def object_name(self) -> str:
        """The name the request is about: the URL's, else (a create) the object's own."""
        return self.name or ((self.object or {}).get("metadata") or {}).get("name") or ""


class AdmissionPlugin(Protocol):
    name: str

    async def admit(self, attrs: Attributes) -> None:
        """Mutating phase: may change attrs.object."""
        ...

    async def validate(self, attrs: Attributes) -> None:
        """Validating phase: may only refuse."""
        ...
