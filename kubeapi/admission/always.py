"""AlwaysAdmit and AlwaysDeny: the trivial plugins upstream keeps for testing."""

from __future__ import annotations

from kubeapi import errors
from kubeapi.admission.interface import Attributes


class AlwaysAdmit:
    name = "AlwaysAdmit"

    async def admit(self, attrs: Attributes) -> None:
        return None

    async def validate(self, attrs: Attributes) -> None:
        return None


class AlwaysDeny:
    name = "AlwaysDeny"

    async def admit(self, attrs: Attributes) -> None:
        r = attrs.resource
        name = attrs.name or ((attrs.object or {}).get("metadata") or {}).get("name") or ""
        raise errors.forbidden(r.plural, r.group, name, "admission control is denying all modifications")

    async def validate(self, attrs: Attributes) -> None:
        return None
