"""Runs admission plugins in order: every plugin's mutating phase, then (after the kind's
own validation, which the store runs in between) every plugin's validating phase."""

from __future__ import annotations

from collections.abc import Sequence

from kubeapi.admission.interface import AdmissionPlugin, Attributes


class AdmissionChain:
    def __init__(self, plugins: Sequence[AdmissionPlugin] = ()) -> None:
        self.plugins: tuple[AdmissionPlugin, ...] = tuple(plugins)

    async def admit(self, attrs: Attributes) -> None:
        for p in self.plugins:
            fn = getattr(p, "admit", None)
            if fn is not None:
                await fn(attrs)

    async def validate(self, attrs: Attributes) -> None:
        for p in self.plugins:
            fn = getattr(p, "validate", None)
            if fn is not None:
                await fn(attrs)

    def __len__(self) -> int:
        return len(self.plugins)
