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
        raise errors.forbidden(r.plural, r.group, attrs.object_name(), "admission control is denying all modifications")

    async def validate(self, attrs: Attributes) -> None:
        return None
