"""Work per APIService name, one run at a time: asked again while a run is going, the work
runs once more after it, so the last change is always seen and runs never overlap."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from twisted.internet import defer

log = logging.getLogger(__name__)


class KeyedRunner:
    def __init__(self, work: Callable[[str], Awaitable[None]], what: str) -> None:
        self._work = work
        self._what = what  # for the log line when a run fails
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self.stopped = False

    def enqueue(self, name: str) -> None:
        if self.stopped:
            return
        if name in self._busy:
            self._again.add(name)
            return
        self._busy.add(name)
        d = defer.ensureDeferred(self._run(name))
        d.addErrback(lambda f: log.warning("%s %s failed: %s", self._what, name, f.getErrorMessage()))

    async def _run(self, name: str) -> None:
        try:
            while True:
                self._again.discard(name)
                await self._work(name)
                if name not in self._again or self.stopped:
                    break
        finally:
            self._busy.discard(name)
