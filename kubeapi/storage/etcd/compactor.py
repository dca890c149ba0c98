"""Periodic compaction of etcd history, coordinated between several API servers.

As kube-apiserver does: every interval, one transaction on ``compact_rev_key``
both elects who compacts (CAS on the key's version) and records the current
revision; the winner compacts to the revision recorded one interval earlier, so
watchers always keep at least one interval of history.
"""

from __future__ import annotations

import logging

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.task import LoopingCall

from kubeapi.storage.etcd.client import EtcdClient
from kubeapi.storage.etcd.proto import rpc_pb2 as pb
from kubeapi.storage.interface import CompactedError, StorageError

log = logging.getLogger(__name__)

COMPACT_REV_KEY = b"compact_rev_key"
DEFAULT_INTERVAL = 300.0  # --etcd-compaction-interval default: 5m


class PeriodicCompactor(Service):
    """A twisted Service; an interval of 0 disables it (as ``--etcd-compaction-interval=0``)."""

    def __init__(self, client: EtcdClient, interval: float = DEFAULT_INTERVAL) -> None:
        self.client = client
        self.interval = interval
        self._seen_version = 0  # version of compact_rev_key we last saw
        self._last_revision = 0  # store revision recorded at the previous tick
        self._loop: LoopingCall | None = None
        self.compacted: list[int] = []  # revisions this process compacted to

    def startService(self) -> None:
        super().startService()
        if self.interval > 0:
            self._loop = LoopingCall(lambda: defer.ensureDeferred(self._tick_logged()))
            self._loop.start(self.interval, now=True)

    def stopService(self) -> defer.Deferred[None] | None:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        return None

    async def _tick_logged(self) -> None:
        try:
            await self.tick()
        except StorageError as e:
            log.warning("etcd compaction failed: %s", e)

    async def tick(self) -> int | None:
        """One round; returns the revision compacted to, if this process compacted."""
        cmp = pb.Compare(key=COMPACT_REV_KEY, target=pb.Compare.CompareTarget.VERSION,
                         result=pb.Compare.CompareResult.EQUAL, version=self._seen_version)
        resp = await self.client.txn(
            [cmp],
            [pb.RequestOp(request_put=pb.PutRequest(key=COMPACT_REV_KEY,
                                                    value=str(self._last_revision).encode()))],
            [pb.RequestOp(request_range=pb.RangeRequest(key=COMPACT_REV_KEY))],
        )
        current = int(resp.header.revision)
        if not resp.succeeded:  # someone else ticked: follow their clock
            kvs = resp.responses[0].response_range.kvs
            self._seen_version = int(kvs[0].version) if kvs else 0
            self._last_revision = current
            return None
        self._seen_version += 1
        target, self._last_revision = self._last_revision, current
        if target <= 0:
            return None  # nothing recorded yet (first round)
        try:
            await self.client.compact(target)
        except CompactedError:
            return None
        self.compacted.append(target)
        return target
