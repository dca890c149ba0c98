"""Runs admission plugins in order: every plugin's mutating phase, then (after the kind's
own validation, which the store runs in between) every plugin's validating phase.

Each plugin's time and the whole step's are reported to ``observe`` (the server's
``apiserver_admission_*`` histograms): ``observe(plugin_name or "", type, operation,
rejected, seconds)`` with type ``admit`` or ``validate`` as upstream labels them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from kubeapi.admission.interface import AdmissionPlugin, Attributes

Observer = Callable[[str, str, str, bool, float], None]


class AdmissionChain:
    def __init__(self, plugins: Sequence[AdmissionPlugin] = (), observe: Observer | None = None) -> None:
        self.plugins: tuple[AdmissionPlugin, ...] = tuple(plugins)
        self.observe = observe

    async def admit(self, attrs: Attributes) -> None:
        await self._phase("admit", attrs)

    async def validate(self, attrs: Attributes) -> None:
        await self._phase("validate", attrs)

    async def _phase(self, phase: str, attrs: Attributes) -> None:
        observe = self.observe
        step_start = time.perf_counter()
        for p in self.plugins:
            fn = getattr(p, phase, None)
            if fn is None:
                continue
            name = getattr(p, "name", "")
            if observe is None or not name:  # unnamed: a check of our own, not an upstream plugin
                await fn(attrs)
                continue
            start = time.perf_counter()
            try:
                await fn(attrs)
            except BaseException:
                now = time.perf_counter()
                observe(name, phase, attrs.operation, True, now - start)
                observe("", phase, attrs.operation, True, now - step_start)
                raise
            observe(name, phase, attrs.operation, False, time.perf_counter() - start)
        if observe is not None:
            observe("", phase, attrs.operation, False, time.perf_counter() - step_start)

    def __len__(self) -> int:
        return len(self.plugins)
