"""A small etcd v3 client: KV, Watch, Lease and Maintenance.Status over our own gRPC.

One HTTP/2 connection at a time, to one endpoint.  When it dies, refuses, or the
member says it cannot serve (no leader), the next call dials the next endpoint in
the list (round robin, so a member that comes back is used again later).

Retry rule: reads (Range, Status, watch creation) are retried on another
endpoint; a write is retried only when the server certainly never saw it (dial
failed, stream refused, GOAWAY before it); otherwise its fate is unknown and the
caller gets UnavailableError/TimeoutError_.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.message import Message
from twisted.internet import defer

from kubeapi.storage.etcd import grpc
from kubeapi.storage.etcd.dial import Endpoint, TLSConfig, dial, parse_endpoint
from kubeapi.storage.etcd.errors import is_endpoint_failure, to_storage_error
from kubeapi.storage.etcd.proto import rpc_pb2 as pb
from kubeapi.storage.interface import CompactedError, UnavailableError

M = TypeVar("M", bound=Message)

_KV = "/etcdserverpb.KV/"
_LEASE = "/etcdserverpb.Lease/"


class WatchStream:
    """One Watch RPC with one watcher on it.  ``cancel`` ends it without a callback."""

    def __init__(self, handle: grpc.StreamHandle, authority: str) -> None:
        self._handle = handle
        self.authority = authority
        self.watch_id = 0
        self.closed = False

    def cancel(self) -> None:
        if not self.closed:
            self.closed = True
            self._handle.cancel()


class EtcdClient:
    def __init__(
        self,
        endpoints: list[str],
        *,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        dial_timeout: float = 5.0,
        request_timeout: float = 10.0,
        keepalive_interval: float = 10.0,
        keepalive_timeout: float = 5.0,
        reactor: object | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("at least one etcd endpoint is required")
        if reactor is None:
            from twisted.internet import reactor as _reactor

            reactor = _reactor
        self._reactor: Any = reactor
        tls = bool(ca_file or cert_file)
        self.endpoints = [parse_endpoint(e, tls=tls) for e in endpoints]
        self._tls = TLSConfig(ca_file, cert_file, key_file) if (tls or any(
            e.scheme == "https" for e in self.endpoints)) else None
        self.dial_timeout = dial_timeout
        self.request_timeout = request_timeout
        self._ka = (keepalive_interval, keepalive_timeout)
        self._index = 0
        self._conn: grpc.GrpcProtocol | None = None
        self._dialing: list[defer.Deferred[grpc.GrpcProtocol]] | None = None
        self._closed = False

    # -- connections ----------------------------------------------------------------

    @property
    def reactor(self) -> Any:
        return self._reactor

    @property
    def current_endpoint(self) -> Endpoint:
        return self.endpoints[self._index]

    async def _connection(self, deadline: float) -> grpc.GrpcProtocol:
        if self._closed:
            raise grpc.GrpcError(grpc.UNAVAILABLE, "client closed", sent=False)
        conn = self._conn
        if conn is not None and conn.usable:
            return conn
        # One dial at a time, shared by every caller that needs it: a caller cancelled
        # meanwhile (its client hung up) stops waiting, and the dial goes on for the others.
        if self._dialing is None:
            self._dialing = []
            defer.ensureDeferred(self._dial_for_waiters(deadline))
        d: defer.Deferred[grpc.GrpcProtocol] = defer.Deferred()
        self._dialing.append(d)
        return await d

    async def _dial_for_waiters(self, deadline: float) -> None:
        try:
            conn = await self._dial_any(deadline)
        except grpc.GrpcError as e:
            waiters, self._dialing = self._dialing or [], None
            for w in waiters:
                if not w.called:
                    w.errback(e)
            return
        waiters, self._dialing = self._dialing or [], None
        for w in waiters:
            if not w.called:
                w.callback(conn)

    async def _dial_any(self, deadline: float) -> grpc.GrpcProtocol:
        last: grpc.GrpcError | None = None
        for _ in range(len(self.endpoints)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ep = self.endpoints[self._index]
            try:
                conn = await dial(self._reactor, ep, self._tls, min(self.dial_timeout, remaining), *self._ka)
            except grpc.GrpcError as e:
                last = e
                self._advance()
                continue
            if self._closed:
                conn.close()
                raise grpc.GrpcError(grpc.UNAVAILABLE, "client closed", sent=False)
            conn.on_lost = self._lost
            self._conn = conn
            return conn
        msg = last.message if last is not None else "no time left to dial"
        raise grpc.GrpcError(grpc.UNAVAILABLE, f"no etcd endpoint reachable: {msg}", sent=False)

    def _advance(self) -> None:
        self._index = (self._index + 1) % len(self.endpoints)

    def _lost(self, conn: grpc.GrpcProtocol) -> None:
        if self._conn is conn:
            self._conn = None
            self._advance()

    def _abandon(self, conn: grpc.GrpcProtocol) -> None:
        """The member cannot serve: new calls go elsewhere, running ones finish there."""
        if self._conn is conn:
            self._conn = None
            self._advance()
            conn.retire()

    async def close(self) -> None:
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.on_lost = None
            conn.close()

    # -- unary calls ------------------------------------------------------------------

    async def _unary(self, path: str, req: Message, resp_type: type[M], *, read: bool,
                     timeout: float | None = None) -> M:
        timeout = self.request_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        payload = req.SerializeToString()
        attempts = len(self.endpoints) + 1
        for attempt in range(attempts):
            conn: grpc.GrpcProtocol | None = None
            try:
                conn = await self._connection(deadline)
                remaining = max(deadline - time.monotonic(), 0.001)
                data = await conn.unary(path, payload, timeout=remaining)
                return resp_type.FromString(data)
            except grpc.GrpcError as e:
                if conn is not None and is_endpoint_failure(e) and e.sent:
                    self._abandon(conn)
                retry = (
                    e.code == grpc.UNAVAILABLE
                    and (read or not e.sent)
                    and attempt + 1 < attempts
                    and time.monotonic() < deadline
                )
                if not retry:
                    raise to_storage_error(e) from e
        raise UnavailableError("etcd: retries exhausted")

    async def range(
        self, key: bytes, range_end: bytes = b"", *, revision: int = 0, limit: int = 0,
        count_only: bool = False, keys_only: bool = False, serializable: bool = False,
        timeout: float | None = None,
    ) -> pb.RangeResponse:
        req = pb.RangeRequest(key=key, range_end=range_end, revision=revision, limit=limit,
                              count_only=count_only, keys_only=keys_only, serializable=serializable)
        return await self._unary(_KV + "Range", req, pb.RangeResponse, read=True, timeout=timeout)

    async def put(self, key: bytes, value: bytes, *, lease: int = 0, prev_kv: bool = False,
                  timeout: float | None = None) -> pb.PutResponse:
        req = pb.PutRequest(key=key, value=value, lease=lease, prev_kv=prev_kv)
        return await self._unary(_KV + "Put", req, pb.PutResponse, read=False, timeout=timeout)

    async def delete_range(self, key: bytes, range_end: bytes = b"", *, prev_kv: bool = False,
                           timeout: float | None = None) -> pb.DeleteRangeResponse:
        req = pb.DeleteRangeRequest(key=key, range_end=range_end, prev_kv=prev_kv)
        return await self._unary(_KV + "DeleteRange", req, pb.DeleteRangeResponse, read=False,
                                 timeout=timeout)

    async def txn(self, compare: list[pb.Compare], success: list[pb.RequestOp],
                  failure: list[pb.RequestOp] | None = None, *,
                  timeout: float | None = None) -> pb.TxnResponse:
        req = pb.TxnRequest(compare=compare, success=success, failure=failure or [])
        return await self._unary(_KV + "Txn", req, pb.TxnResponse, read=False, timeout=timeout)

    async def compact(self, revision: int, *, physical: bool = False,
                      timeout: float | None = None) -> pb.CompactionResponse:
        req = pb.CompactionRequest(revision=revision, physical=physical)
        return await self._unary(_KV + "Compact", req, pb.CompactionResponse, read=False, timeout=timeout)

    async def status(self, *, timeout: float | None = None) -> pb.StatusResponse:
        return await self._unary("/etcdserverpb.Maintenance/Status", pb.StatusRequest(),
                                 pb.StatusResponse, read=True, timeout=timeout)

    async def lease_grant(self, ttl: int, *, lease_id: int = 0,
                          timeout: float | None = None) -> pb.LeaseGrantResponse:
        req = pb.LeaseGrantRequest(TTL=ttl, ID=lease_id)
        return await self._unary(_LEASE + "LeaseGrant", req, pb.LeaseGrantResponse, read=False,
                                 timeout=timeout)

    async def lease_revoke(self, lease_id: int, *, timeout: float | None = None) -> pb.LeaseRevokeResponse:
        req = pb.LeaseRevokeRequest(ID=lease_id)
        return await self._unary(_LEASE + "LeaseRevoke", req, pb.LeaseRevokeResponse, read=False,
                                 timeout=timeout)

    async def lease_keep_alive_once(self, lease_id: int, *,
                                    timeout: float | None = None) -> pb.LeaseKeepAliveResponse:
        """One round on the LeaseKeepAlive bidi stream (refreshing is idempotent: retried)."""
        timeout = self.request_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        conn = await self._connection(deadline)
        got: defer.Deferred[bytes] = defer.Deferred()

        def on_msg(b: bytes) -> None:
            if not got.called:
                got.callback(b)

        def on_close(err: grpc.GrpcError | None) -> None:
            if not got.called:
                got.errback(err or grpc.GrpcError(grpc.INTERNAL, "keepalive stream closed"))

        handle = conn.stream(_LEASE + "LeaseKeepAlive", on_msg, on_close)
        handle.send(pb.LeaseKeepAliveRequest(ID=lease_id).SerializeToString())
        timer = self._reactor.callLater(
            max(deadline - time.monotonic(), 0.001), handle.cancel)
        try:
            data = await got
        except grpc.GrpcError as e:
            raise to_storage_error(e) from e
        finally:
            if timer.active():
                timer.cancel()
            handle.cancel()
        return pb.LeaseKeepAliveResponse.FromString(data)

    # -- watch --------------------------------------------------------------------

    async def watch(
        self,
        create: pb.WatchCreateRequest,
        on_response: Callable[[pb.WatchResponse], None],
        on_closed: Callable[[Exception], None],
        *,
        timeout: float | None = None,
    ) -> tuple[WatchStream, pb.WatchResponse]:
        """Open a Watch RPC with one watcher; return once etcd confirmed it (``created``).

        Later responses go to ``on_response``; when the stream ends for any reason but
        ``cancel()``, ``on_closed`` gets a storage error.  The caller resumes elsewhere.
        """
        timeout = self.request_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last: grpc.GrpcError | None = None
        for _ in range(len(self.endpoints) + 1):
            if time.monotonic() >= deadline:
                break
            conn: grpc.GrpcProtocol | None = None
            try:
                conn = await self._connection(deadline)
                return await self._open_watch(conn, create, on_response, on_closed, deadline)
            except grpc.GrpcError as e:
                last = e
                if conn is not None and is_endpoint_failure(e):
                    self._abandon(conn)
                if e.code != grpc.UNAVAILABLE:
                    break
        err = last or grpc.GrpcError(grpc.DEADLINE_EXCEEDED, "watch creation timed out")
        raise to_storage_error(err) from err

    async def _open_watch(
        self, conn: grpc.GrpcProtocol, create: pb.WatchCreateRequest,
        on_response: Callable[[pb.WatchResponse], None], on_closed: Callable[[Exception], None],
        deadline: float,
    ) -> tuple[WatchStream, pb.WatchResponse]:
        created: defer.Deferred[pb.WatchResponse] = defer.Deferred()
        ws: WatchStream | None = None

        def on_msg(b: bytes) -> None:
            resp = pb.WatchResponse.FromString(b)
            if not created.called:
                created.callback(resp)
            elif ws is not None and not ws.closed:
                on_response(resp)

        def on_close(err: grpc.GrpcError | None) -> None:
            if not created.called:
                created.errback(err or grpc.GrpcError(grpc.UNAVAILABLE, "watch stream ended"))
                return
            if ws is None or ws.closed:
                return
            ws.closed = True
            if err is not None and is_endpoint_failure(err):
                self._abandon(conn)
            e = err or grpc.GrpcError(grpc.UNAVAILABLE, "watch stream ended by server")
            on_closed(to_storage_error(e))

        # "hasleader" makes etcd end the stream when the member loses its leader,
        # instead of leaving us on a member that no longer sees new writes.
        handle = conn.stream("/etcdserverpb.Watch/Watch", on_msg, on_close, metadata={"hasleader": "true"})
        ws = WatchStream(handle, conn.authority)
        handle.send(pb.WatchRequest(create_request=create).SerializeToString())
        timer = self._reactor.callLater(
            max(deadline - time.monotonic(), 0.001), created.cancel)
        try:
            resp = await created
        except defer.CancelledError:
            handle.cancel()
            raise grpc.GrpcError(grpc.DEADLINE_EXCEEDED, "watch creation timed out") from None
        except grpc.GrpcError:
            handle.cancel()
            raise
        finally:
            if timer.active():
                timer.cancel()
        ws.watch_id = resp.watch_id
        if resp.canceled:
            ws.closed = True
            handle.cancel()
            if resp.compact_revision:
                raise CompactedError(resp.compact_revision, resp.header.revision)
            raise grpc.GrpcError(grpc.FAILED_PRECONDITION, resp.cancel_reason or "watch canceled",
                                 sent=True)
        return ws, resp
