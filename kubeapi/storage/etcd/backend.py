"""The Storage contract (kubeapi/storage/interface.py) on etcd v3.

Writes are single transactions, as kube-apiserver's etcd3 store does them:
create = ``If(create_revision == 0) Then(put)``; update = ``If(mod_revision ==
expected) Then(put) Else(get)``; delete likewise with a delete.  Revisions are
etcd's own, so ``resourceVersion`` means the same as with kube-apiserver.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from twisted.internet import defer

from kubeapi.storage.etcd.client import EtcdClient
from kubeapi.storage.etcd.proto import kv_pb2
from kubeapi.storage.etcd.proto import rpc_pb2 as pb
from kubeapi.storage.etcd.watch import EtcdWatch
from kubeapi.storage.interface import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    OnError,
    OnEvents,
    StorageError,
    Watch,
)

_CREATE = pb.Compare.CompareTarget.CREATE
_MOD = pb.Compare.CompareTarget.MOD
_EQUAL = pb.Compare.CompareResult.EQUAL
_GREATER = pb.Compare.CompareResult.GREATER


def encode_key(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


def decode_key(key: bytes) -> str:
    return key.decode("utf-8", "surrogateescape")


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with ``prefix`` (etcd's range_end trick)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\x00"  # every key


def to_kv(kv: kv_pb2.KeyValue) -> KeyValue:
    return KeyValue(decode_key(kv.key), kv.value, kv.create_revision, kv.mod_revision)


_tuple_new = tuple.__new__


def to_kvs(kvs: Iterable[kv_pb2.KeyValue]) -> list[KeyValue]:
    """``to_kv`` of each, without a Python call per item (a LIST of 1,000 keys made these
    calls a quarter of its CPU)."""
    return [_tuple_new(KeyValue, (kv.key.decode("utf-8", "surrogateescape"), kv.value, kv.create_revision,
                                  kv.mod_revision)) for kv in kvs]


class EtcdStorage:
    """``Storage`` over an :class:`EtcdClient` (which owns endpoints, TLS and failover)."""

    def __init__(self, client: EtcdClient, *, watch_retry_timeout: float = 60.0) -> None:
        self.client = client
        self.watch_retry_timeout = watch_retry_timeout
        self._watches: set[EtcdWatch] = set()

    # -- reads ----------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        resp = await self.client.range(encode_key(key))
        return to_kv(resp.kvs[0]) if resp.kvs else None

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str | None = None
    ) -> ListResult:
        p = encode_key(prefix)
        start = encode_key(start_after) + b"\x00" if start_after is not None else (p or b"\x00")
        end = prefix_end(p) if p else b"\x00"
        if start_after is not None and start < p:
            start = p or b"\x00"
        try:
            resp = await self.client.range(start, end, revision=revision, limit=max(limit, 0))
        except CompactedError:
            raise await self.compacted_error(p, revision) from None
        items = to_kvs(resp.kvs)
        more = bool(resp.more)
        remaining = max(int(resp.count) - len(items), 0) if more else 0
        return ListResult(items=items, revision=revision or resp.header.revision, more=more,
                          remaining=remaining)

    async def current_revision(self) -> int:
        resp = await self.client.range(b"\x00", count_only=True)
        return int(resp.header.revision)

    async def compacted_error(self, prefix: bytes, revision: int) -> CompactedError:
        """A CompactedError carrying etcd's compact revision, learnt from a short probe watch."""
        got: defer.Deferred[pb.WatchResponse] = defer.Deferred()

        def on_resp(resp: pb.WatchResponse) -> None:
            if resp.compact_revision and not got.called:
                got.callback(resp)

        def on_closed(_: Exception) -> None:
            pass

        create = pb.WatchCreateRequest(key=prefix or b"\x00", range_end=prefix_end(prefix),
                                       start_revision=max(revision, 1))
        try:
            ws, _created = await self.client.watch(create, on_resp, on_closed, timeout=2.0)
        except CompactedError as e:
            return e
        except StorageError:
            return CompactedError(0)
        timer = self.client.reactor.callLater(2.0, got.cancel)
        try:
            resp = await got
            return CompactedError(int(resp.compact_revision), int(resp.header.revision))
        except defer.CancelledError:
            return CompactedError(0)
        finally:
            if timer.active():
                timer.cancel()
            ws.cancel()

    async def healthy(self) -> bool:
        """A linearizable read: True only when the cluster has a leader and answers."""
        try:
            await self.client.range(b"health", count_only=True, timeout=min(self.client.request_timeout, 2.0))
        except StorageError:
            return False
        return True

    # -- writes ---------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        k = encode_key(key)
        resp = await self.client.txn(
            [pb.Compare(key=k, target=_CREATE, result=_EQUAL, create_revision=0)],
            [pb.RequestOp(request_put=pb.PutRequest(key=k, value=value))],
        )
        if not resp.succeeded:
            raise KeyExistsError(key)
        rev = int(resp.header.revision)
        return KeyValue(key, value, rev, rev)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        k = encode_key(key)
        resp = await self.client.txn(
            self._guard(k, expected_revision),
            [pb.RequestOp(request_put=pb.PutRequest(key=k, value=value, prev_kv=True))],
            [pb.RequestOp(request_range=pb.RangeRequest(key=k))],
        )
        if not resp.succeeded:
            raise self._failed(key, resp)
        prev = resp.responses[0].response_put.prev_kv
        return KeyValue(key, value, int(prev.create_revision), int(resp.header.revision))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        k = encode_key(key)
        resp = await self.client.txn(
            self._guard(k, expected_revision),
            [pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=k, prev_kv=True))],
            [pb.RequestOp(request_range=pb.RangeRequest(key=k))],
        )
        if not resp.succeeded:
            raise self._failed(key, resp)
        deleted = resp.responses[0].response_delete_range.prev_kvs
        if not deleted:
            raise KeyNotFoundError(key)
        old = deleted[0]
        return KeyValue(key, old.value, int(old.create_revision), int(resp.header.revision))

    @staticmethod
    def _guard(k: bytes, expected_revision: int) -> builtins.list[pb.Compare]:
        exists = pb.Compare(key=k, target=_CREATE, result=_GREATER, create_revision=0)
        if expected_revision:
            return [exists, pb.Compare(key=k, target=_MOD, result=_EQUAL, mod_revision=expected_revision)]
        return [exists]

    @staticmethod
    def _failed(key: str, resp: pb.TxnResponse) -> StorageError:
        kvs = resp.responses[0].response_range.kvs if resp.responses else []
        if not kvs:
            return KeyNotFoundError(key)
        return ConflictError(to_kv(kvs[0]))

    async def compact(self, revision: int) -> None:
        try:
            await self.client.compact(revision, physical=True)
        except CompactedError:
            pass  # already compacted at or beyond ``revision``: nothing to do

    # -- watch ----------------------------------------------------------------------

    async def watch(
        self, prefix: str, start_revision: int, on_events: OnEvents, on_error: OnError
    ) -> Watch:
        p = encode_key(prefix)
        if start_revision > 0:
            await self._check_not_compacted(p, start_revision)
        w = EtcdWatch(self.client, p, prefix_end(p) if p else b"\x00", start_revision, on_events,
                      on_error, retry_timeout=self.watch_retry_timeout, on_stop=self._watches.discard)
        await w.start()
        self._watches.add(w)
        return w

    async def _check_not_compacted(self, prefix: bytes, revision: int) -> None:
        """etcd reports a compacted watch start only asynchronously; a Range at the same
        revision fails under the same condition, so ask first and raise before returning."""
        try:
            await self.client.range(prefix or b"\x00", prefix_end(prefix), revision=revision,
                                    count_only=True)
        except CompactedError:
            raise await self.compacted_error(prefix, revision) from None
        except FutureRevisionError:
            pass  # etcd lets a watch wait for a revision that is still to come

    async def close(self) -> None:
        for w in list(self._watches):
            w.stop()
        await self.client.close()

