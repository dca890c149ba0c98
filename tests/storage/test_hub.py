"""The embedded store's hand-out of committed batches to client watch streams: batches
committed before the first has started go out together (same watchers, same order), but
never across a watcher coming or going, and each prefix's share of a batch is filtered
once for all its live watchers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from kubeapi.storage.embedded.watch import EmbeddedWatch, WatchHub
from kubeapi.storage.interface import Event, KeyValue, StorageError


def put(key: str, rev: int) -> Event:
    return Event("PUT", KeyValue(key, b"v", rev, rev), None)


class Consumer:
    deliver_later = True  # a client's stream: told after the write is acknowledged

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.batches: list[Sequence[Event]] = []

    def on_events(self, events: Sequence[Event]) -> None:
        self.calls.append([e.revision for e in events])
        self.batches.append(events)

    def on_error(self, err: StorageError) -> None:
        raise AssertionError(err)


def watcher(hub: WatchHub, prefix: str = "/a/", start: int = 1) -> Consumer:
    c = Consumer()
    w = EmbeddedWatch(hub, prefix, start, c.on_events, c.on_error)
    w.go_live_now()
    hub.add(w)
    return c


def turn(clock: Clock) -> None:
    clock.advance(0)  # every call due, including those the calls schedule


class Steps:
    """A reactor whose calls run one at a time, when the test says."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def callLater(self, _delay: float, f: Any, *a: Any) -> Any:
        self.calls.append((f, a))
        return self

    def active(self) -> bool:
        return True

    def step(self) -> None:
        f, a = self.calls.pop(0)
        f(*a)


class HubTests(TestCase):
    def test_commits_waiting_to_start_go_out_together(self) -> None:
        clock = Clock()
        hub = WatchHub(clock)
        cs = [watcher(hub) for _ in range(3)]
        hub.publish([put("/a/x", 2)])
        hub.publish([put("/a/y", 3), put("/b/z", 4)])
        self.assertEqual(hub.queued, 1)
        turn(clock)
        for c in cs:
            self.assertEqual(c.calls, [[2, 3]])
        self.assertEqual(len({id(c.batches[0]) for c in cs}), 1)  # one filtered tuple for all
        hub.publish([put("/a/x", 5)])
        turn(clock)
        for c in cs:
            self.assertEqual(c.calls, [[2, 3], [5]])

    def test_not_joined_across_a_new_watcher(self) -> None:
        clock = Clock()
        hub = WatchHub(clock)
        old = watcher(hub)
        hub.publish([put("/a/x", 2)])
        new = watcher(hub, start=3)
        hub.publish([put("/a/y", 3)])
        self.assertEqual(hub.queued, 2)
        turn(clock)
        self.assertEqual(old.calls, [[2], [3]])
        self.assertEqual(new.calls, [[3]])

    def test_not_joined_into_a_batch_being_handed_out(self) -> None:
        steps = Steps()
        hub = WatchHub(steps, budget=-1.0)  # past the budget after every 32 watchers
        cs = [watcher(hub) for _ in range(40)]
        hub.publish([put("/a/x", 2)])
        steps.step()
        steps.step()  # the first 32 have it
        self.assertEqual(sum(1 for c in cs if c.calls), 32)
        hub.publish([put("/a/y", 3)])
        self.assertEqual(hub.queued, 2)
        while steps.calls:
            steps.step()
        for c in cs:
            self.assertEqual(c.calls, [[2], [3]])
