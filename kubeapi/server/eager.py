"""Run a coroutine at once, and make a Deferred of it only if it has to wait.

Most GETs never wait: the store answers from memory, so the whole pipeline runs to its end
in the first step.  ``defer.ensureDeferred`` still builds a Deferred, a cancellation status
and a contextvars copy for each coroutine and fires callbacks through them, which was a
visible share of a GET; `start` skips all of that until the coroutine really suspends, and
from then on hands it to Twisted exactly as ``ensureDeferred`` would (cancelling the
Deferred cancels what the coroutine awaits).
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

from twisted.internet import defer

T = TypeVar("T")


class Pending:
    """`start`'s answer for a coroutine that suspended: ``deferred`` fires with its result."""

    __slots__ = ("deferred",)

    def __init__(self, deferred: defer.Deferred[Any]) -> None:
        self.deferred = deferred


def start(coro: Coroutine[Any, Any, T]) -> T | Pending:
    """Step ``coro``: its return value if it finished without waiting (its exception is
    raised here), else a `Pending` whose Deferred carries on from where it stopped."""
    try:
        awaited = coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    return Pending(defer.Deferred.fromCoroutine(_resume(coro, awaited)))


def _resume(coro: Coroutine[Any, Any, T], awaited: Any) -> Generator[Any, Any, T]:
    """A generator Twisted drives like the coroutine itself: each Deferred the coroutine
    awaits is yielded to Twisted, and its result or failure goes back into the coroutine."""
    while True:
        try:
            value = yield awaited
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as e:  # the awaited Deferred failed (or was cancelled)
            try:
                awaited = coro.throw(e)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            continue
        try:
            awaited = coro.send(value)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
