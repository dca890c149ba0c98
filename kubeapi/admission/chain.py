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
        # Per phase, the plugins that take part, with their names: looked up once, not per write.
        self._steps = {phase: tuple((getattr(p, "name", ""), getattr(p, phase)) for p in self.plugins
                                    if getattr(p, phase, None) is not None)
                       for phase in ("admit", "validate")}

    async def admit(self, attrs: Attributes) -> None:
        await self._phase("admit", attrs)

    async def validate(self, attrs: Attributes) -> None:
        await self._phase("validate", attrs)

    async def _phase(self, phase: str, attrs: Attributes) -> None:
        observe = self.observe
        clock = time.perf_counter
        step_start = clock()
        for name, fn in self._steps[phase]:
            if observe is None or not name:  # unnamed: a check of our own, not an upstream plugin
                await fn(attrs)
                continue
            start = clock()
            try:
                await fn(attrs)
            except BaseException:
                now = clock()
                observe(name, phase, attrs.operation, True, now - start)
                observe("", phase, attrs.operation, True, now - step_start)
                raise
            observe(name, phase, attrs.operation, False, clock() - start)
        if observe is not None:
            observe("", phase, attrs.operation, False, clock() - step_start)

    def __len__(self) -> int:
        return len(self.plugins)
