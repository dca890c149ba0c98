"""Request deadlines: short ones have their own timer, long ones are swept, both end in 504."""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.trial import unittest

from kubeapi.errors import StatusError
from kubeapi.server.filters.timeout import SWEEP_EVERY, with_timeout


async def _forever(cancelled: list[bool]) -> bytes:
    try:
        await defer.Deferred()
    except defer.CancelledError:
        cancelled.append(True)
        raise
    return b""


class Deadlines(unittest.TestCase):
    def _start(self, seconds: float) -> tuple[Clock, defer.Deferred[bytes], list[bool]]:
        clock, cancelled = Clock(), []
        d = defer.ensureDeferred(with_timeout(_forever(cancelled), seconds, clock))
        return clock, d, cancelled

    def test_long_deadline_swept_into_a_504(self) -> None:
        clock, d, cancelled = self._start(60)
        clock.advance(59)
        self.assertNoResult(d)
        clock.advance(1 + SWEEP_EVERY)
        err = self.failureResultOf(d, StatusError).value
        self.assertEqual((err.code, err.reason), (504, "Timeout"))
        self.assertEqual(cancelled, [True])  # the work itself was stopped
        self.assertEqual(clock.getDelayedCalls(), [])  # no sweep left armed

    def test_short_deadline_exact(self) -> None:
        clock, d, _ = self._start(0.2)
        clock.advance(0.2)
        self.assertEqual(self.failureResultOf(d, StatusError).value.code, 504)

    def test_finished_work_leaves_nothing_behind(self) -> None:
        clock = Clock()

        async def quick() -> bytes:
            return b"ok"

        d = defer.ensureDeferred(with_timeout(quick(), 60, clock))
        self.assertEqual(self.successResultOf(d), b"ok")
        clock.advance(SWEEP_EVERY)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_caller_cancelling_is_not_a_timeout(self) -> None:
        clock, d, cancelled = self._start(60)
        d.cancel()
        self.failureResultOf(d, defer.CancelledError)
        self.assertEqual(cancelled, [True])
