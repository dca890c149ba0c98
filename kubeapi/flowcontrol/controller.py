"""The APF filter: configuration from stored FlowSchemas / PriorityLevelConfigurations
(watched under ``<prefix>/flowschemas/`` and ``<prefix>/prioritylevelconfigurations/``),
upstream's bootstrap objects while none are stored, and admission of each request.

The server's concurrency (``--max-requests-inflight`` + ``--max-mutating-requests-inflight``)
is split among the Limited levels by their nominalConcurrencyShares (rounded up); the Exempt
level runs everything at once.  Borrowing between levels (lendablePercent) is not modelled:
each level keeps its nominal seats.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from types import CoroutineType
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from kubeapi.flowcontrol import bootstrap
from kubeapi.flowcontrol.classify import Request, distinguisher, schema_matches, sort_schemas
from kubeapi.flowcontrol.queueset import QueueSet, Rejected

log = logging.getLogger(__name__)
Obj = dict[str, Any]

HEADER_FLOW_SCHEMA_UID = "X-Kubernetes-PF-FlowSchema-UID"
HEADER_PRIORITY_LEVEL_UID = "X-Kubernetes-PF-PriorityLevel-UID"
MAX_WAIT = 60.0  # upstream's hard cap on time in a queue
RESYNC_AFTER_ERROR = 5.0
CLASSIFY_CACHE_SIZE = 4096


class TooManyRequests(Exception):
    """APF turned the request away; answered as upstream does (plain-text 429, Retry-After)."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("Too many requests, please try again later.")
        self.retry_after = retry_after


@dataclass
class Level:
    name: str
    uid: str
    exempt: bool
    shares: int
    queues: int
    hand_size: int
    queue_length_limit: int
    lendable_percent: int | None = None
    borrowing_limit_percent: int | None = None
    queueset: QueueSet | None = None


@dataclass
class Ticket:
    """What a request holds while it runs; hand it back to ``finish``."""

    level: Level
    schema: str
    index: int
    started: float
    metrics: tuple[Any, Any, Any, Any] | None = None


def _percent(value: Any) -> int | None:
    return None if value is None else int(value)


class FlowControl:
    def __init__(self, server_concurrency: int, *, storage: Any = None, prefix: str = "/registry",
                 decode: Any = None, metrics: Any = None, clock: IReactorTime | None = None,
                 request_timeout: float = 60.0) -> None:
        self.server_concurrency = max(server_concurrency, 1)
        self.storage = storage
        self.prefix = prefix.rstrip("/")
        self.decode = decode
        self.metrics = metrics
        if clock is None:
            from twisted.internet import reactor

            clock = reactor  # type: ignore[assignment]
        self.clock: Any = clock
        self.wait_limit = min(request_timeout / 4, MAX_WAIT) if request_timeout > 0 else 15.0
        self.schemas: list[Obj] = []
        self.levels: dict[str, Level] = {}
        self.source = ""
        self._watches: list[Any] = []
        self._reload_pending = False
        self._stopped = False
        self._metric_children: dict[tuple[str, str], tuple[Any, Any, Any, Any]] = {}
        self._dispatched_children: dict[tuple[str, str], Any] = {}
        self._classified: dict[Request, tuple[Obj, Level, str]] = {}
        self.apply(*bootstrap.bootstrap_objects(), source="bootstrap")

    # ------------------------------------------------------------------ configuration

    def apply(self, schemas: Sequence[Obj], levels: Sequence[Obj], source: str = "storage") -> None:
        """Use these objects (the mandatory ones are added when missing, as upstream keeps them)."""
        by_name = {p["metadata"]["name"]: p for p in levels}
        for p in bootstrap.MANDATORY_PRIORITY_LEVELS:
            by_name.setdefault(p["metadata"]["name"], p)
        fs_names = {s["metadata"]["name"] for s in schemas}
        all_schemas = list(schemas) + [s for s in bootstrap.MANDATORY_FLOW_SCHEMAS
                                       if s["metadata"]["name"] not in fs_names]
        new_levels: dict[str, Level] = {}
        for name, obj in by_name.items():
            spec = obj.get("spec") or {}
            uid = str((obj.get("metadata") or {}).get("uid", ""))
            if spec.get("type") == "Exempt":
                new_levels[name] = Level(name, uid, True, 0, 0, 0, 0)
                continue
            limited = spec.get("limited") or {}
            response = limited.get("limitResponse") or {}
            queuing = response.get("queuing") or {} if response.get("type") == "Queue" else {}
            shares = limited.get("nominalConcurrencyShares")
            new_levels[name] = Level(name, uid, False, 30 if shares is None else int(shares),
                                     int(queuing.get("queues", 0) or 0), int(queuing.get("handSize", 0) or 0),
                                     int(queuing.get("queueLengthLimit", 0) or 0),
                                     _percent(limited.get("lendablePercent")),
                                     _percent(limited.get("borrowingLimitPercent")))
        total_shares = sum(lv.shares for lv in new_levels.values() if not lv.exempt) or 1
        for lv in new_levels.values():
            if lv.exempt:
                continue
            seats = math.ceil(self.server_concurrency * lv.shares / total_shares)
            old = self.levels.get(lv.name)
            if old is not None and old.queueset is not None:
                lv.queueset = old.queueset
                lv.queueset.reconfigure(seats, lv.queues, lv.hand_size, lv.queue_length_limit)
            else:
                lv.queueset = QueueSet(lv.name, seats, lv.queues, lv.hand_size, lv.queue_length_limit)
            if self.metrics is not None:
                self._publish_limits(lv, seats)
        # Schemas naming a level that does not exist are skipped, as upstream does.
        self.schemas = [s for s in sort_schemas(all_schemas)
                        if ((s.get("spec") or {}).get("priorityLevelConfiguration") or {}).get("name") in new_levels]
        self.levels = new_levels
        self.source = source
        self._classified = {}

    def _publish_limits(self, lv: Level, nominal: int) -> None:
        """The seat gauges as upstream derives them.  We do not lend or borrow seats between
        levels, so the current limit is the nominal one; lower and upper are what the level's
        lendablePercent and borrowingLimitPercent would allow (no borrowing limit: the server's)."""
        m = self.metrics
        lendable = round(nominal * lv.lendable_percent / 100) if lv.lendable_percent is not None else 0
        borrowing = (round(nominal * lv.borrowing_limit_percent / 100) if lv.borrowing_limit_percent is not None
                     else self.server_concurrency)
        m.nominal_limit_seats.labels(lv.name).set(nominal)
        m.lower_limit_seats.labels(lv.name).set(nominal - lendable)
        m.upper_limit_seats.labels(lv.name).set(nominal + borrowing)
        assert lv.queueset is not None
        m.current_limit_seats.labels(lv.name).set(lv.queueset.concurrency)

    def seats(self, level: str) -> int:
        lv = self.levels[level]
        return 0 if lv.queueset is None else lv.queueset.concurrency

    async def start(self) -> None:
        """Read the stored objects and watch for changes (bootstrap objects until some exist)."""
        if self.storage is None:
            return
        await self._reload()
        for what in ("flowschemas", "prioritylevelconfigurations"):
            self._watches.append(await self.storage.watch(f"{self.prefix}/{what}/", 0, self._changed,
                                                          self._watch_failed))

    def stop(self) -> None:
        self._stopped = True
        for w in self._watches:
            w.stop()
        self._watches = []

    def _changed(self, _events: Any) -> None:
        if not self._reload_pending and not self._stopped:
            self._reload_pending = True
            self.clock.callLater(0, lambda: defer.ensureDeferred(self._reload()))

    def _watch_failed(self, err: Exception) -> None:
        log.warning("flowcontrol: watch of APF objects failed (%s); re-reading in %ss", err, RESYNC_AFTER_ERROR)
        self._changed(None)

    async def _reload(self) -> None:
        self._reload_pending = False
        try:
            schemas = await self._list("flowschemas")
            levels = await self._list("prioritylevelconfigurations")
        except Exception as e:
            log.warning("flowcontrol: cannot read APF objects: %s", e)
            if not self._stopped:
                self.clock.callLater(RESYNC_AFTER_ERROR, self._changed, None)
            return
        if not schemas and not levels:
            self.apply(*bootstrap.bootstrap_objects(), source="bootstrap")
        else:
            self.apply(schemas, levels)

    async def _list(self, what: str) -> list[Obj]:
        res = await self.storage.list(f"{self.prefix}/{what}/")
        out = []
        for kv in res.items:
            try:
                out.append(self.decode(kv.value))
            except Exception as e:
                log.warning("flowcontrol: cannot decode %s: %s", kv.key, e)
        return out

    # ------------------------------------------------------------------ requests

    def classify(self, req: Request) -> tuple[Obj, Level, str]:
        """(FlowSchema, its level, flow distinguisher) of ``req``, remembered until the
        configuration changes: the same few users ask the same things over and over, and
        walking every schema's rules was a visible part of a GET."""
        # The request itself is the key (a NamedTuple); a resource request's path plays no part.
        key = req._replace(path="") if req.is_resource_request and req.path else req
        got = self._classified.get(key)
        if got is None:
            got = self._classify(req)
            if len(self._classified) >= CLASSIFY_CACHE_SIZE:
                self._classified.clear()  # names come from clients: stay bounded
            self._classified[key] = got
        return got

    def _classify(self, req: Request) -> tuple[Obj, Level, str]:
        for schema in self.schemas:
            if schema_matches(schema, req):
                level = self.levels[schema["spec"]["priorityLevelConfiguration"]["name"]]
                return schema, level, distinguisher(schema, req)
        catch_all = next(s for s in bootstrap.MANDATORY_FLOW_SCHEMAS if s["metadata"]["name"] == "catch-all")
        return catch_all, self.levels["catch-all"], req.user

    async def admit(self, req: Request, set_header: Any = None, long_running: bool = False) -> Ticket | None:
        """Wait for a seat; raises TooManyRequests.  None for requests that take no seat
        (exempt level, long-running requests)."""
        got = self.admit_now(req, set_header, long_running)
        if isinstance(got, CoroutineType):
            return await got  # type: ignore[no-any-return]
        return got  # type: ignore[return-value]

    def admit_now(self, req: Request, set_header: Any = None,
                  long_running: bool = False) -> Ticket | None | Coroutine[Any, Any, Ticket]:
        """`admit` without a coroutine when no waiting is needed (an exempt level, a free
        seat): the Ticket (or None) at once, else a coroutine to await for it."""
        schema, level, flow_key = self.classify(req)
        fs_name = schema["metadata"]["name"]
        if set_header is not None:
            set_header(HEADER_PRIORITY_LEVEL_UID, level.uid)
            set_header(HEADER_FLOW_SCHEMA_UID, str(schema["metadata"].get("uid", "")))
        m = self.metrics
        if level.exempt or level.queueset is None or long_running:
            if m is not None:
                self._dispatched(level.name, fs_name).inc()
            return None
        qs = level.queueset
        began = time.monotonic()
        children = self._children(level.name, fs_name) if m is not None else None
        try:
            d, index = qs.enqueue(f"{fs_name}\x00{flow_key}")
        except Rejected as e:
            if m is not None:
                m.rejected.labels(level.name, fs_name, e.reason).inc()
            raise TooManyRequests() from None
        if not d.called:
            return self._wait(d, level, fs_name, index, began, children)
        return self._seated(level, fs_name, index, began, children)

    async def _wait(self, d: defer.Deferred[Any], level: Level, fs_name: str, index: Any, began: float,
                    children: Any) -> Ticket:
        m = self.metrics
        if m is not None:
            m.inqueue.labels(level.name, fs_name).inc()
        d.addTimeout(self.wait_limit, self.clock)
        try:
            await d
        except defer.TimeoutError:
            if m is not None:
                m.rejected.labels(level.name, fs_name, "time-out").inc()
                m.wait.labels(level.name, fs_name, "false").observe(time.monotonic() - began)
            raise TooManyRequests() from None
        finally:
            if m is not None:
                m.inqueue.labels(level.name, fs_name).dec()
        return self._seated(level, fs_name, index, began, children)

    def _seated(self, level: Level, fs_name: str, index: Any, began: float, children: Any) -> Ticket:
        if children is not None:
            children[0].observe(time.monotonic() - began)
            children[1].inc()
            children[2].inc()
        return Ticket(level, fs_name, index, time.monotonic(), children)

    def _dispatched(self, level: str, schema: str) -> Any:
        key = (level, schema)
        got = self._dispatched_children.get(key)
        if got is None:
            got = self._dispatched_children[key] = self.metrics.dispatched.labels(level, schema)
        return got

    def _children(self, level: str, schema: str) -> tuple[Any, Any, Any, Any]:
        """(wait histogram, dispatched, executing, execution histogram) for one level and schema,
        looked up once.  Only requests that hold a seat are timed, so their type is "regular"
        (watches take none here)."""
        key = (level, schema)
        got = self._metric_children.get(key)
        if got is None:
            m = self.metrics
            got = (m.wait.labels(level, schema, "true"), m.dispatched.labels(level, schema),
                   m.executing.labels(level, schema), m.execution.labels(level, schema, "regular"))
            self._metric_children[key] = got
        return got

    def finish(self, ticket: Ticket | None) -> None:
        if ticket is None:
            return
        assert ticket.level.queueset is not None
        if ticket.metrics is not None:
            ticket.metrics[2].dec()
            ticket.metrics[3].observe(time.monotonic() - ticket.started)
        ticket.level.queueset.finish(ticket.index)
