"""The trimmer gives memory back after a burst of streams ends, and once more to settle."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial import unittest

from kubeapi.server.memtrim import DROP, INTERVAL, Trimmer


class TrimAfterDrop(unittest.TestCase):
    def setUp(self) -> None:
        self.count = 0
        self.trims: list[int] = []
        self.clock = Clock()
        self.trimmer = Trimmer(lambda: self.count, self.clock, trim=self._trim)
        self.trimmer.start()
        self.addCleanup(self.trimmer.stop)

    def _trim(self, pad: int) -> int:
        self.trims.append(self.count)
        return 1

    def _tick(self, count: int) -> None:
        self.count = count
        self.clock.advance(INTERVAL)

    def test_no_trim_while_streams_only_grow(self) -> None:
        for n in (10, 200, 2000, 2000):
            self._tick(n)
        self.assertEqual(self.trims, [])

    def test_small_drop_is_not_trimmed(self) -> None:
        self._tick(DROP)
        self._tick(1)
        self.assertEqual(self.trims, [])

    def test_drop_trims_then_settles_once(self) -> None:
        self._tick(2000)
        self._tick(1500)  # a burst is ending: trim now
        self._tick(1490)  # the ones that ended meanwhile: settle
        self._tick(1480)
        self._tick(1470)
        self.assertEqual(self.trims, [1500, 1490])

    def test_each_burst_gets_its_settle(self) -> None:
        self._tick(2000)
        self._tick(0)
        self._tick(0)
        self._tick(500)
        self._tick(0)
        self._tick(0)
        self._tick(0)
        self.assertEqual(self.trims, [0, 0, 0, 0])

    def test_drop_on_the_settling_check_settles_again(self) -> None:
        self._tick(2000)
        self._tick(1000)
        self._tick(0)  # another drop where the settle was due: this trim gets its own settle
        self._tick(0)
        self._tick(0)
        self.assertEqual(self.trims, [1000, 0, 0])
