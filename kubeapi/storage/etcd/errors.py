"""etcd's gRPC errors → the storage errors of kubeapi/storage/interface.py.

etcd reports most failures as a gRPC status whose message is a fixed string
(``etcdserver: request is too large``, ``etcdserver: mvcc: required revision has
been compacted``, ...); the code alone is not enough to tell them apart.
"""

from __future__ import annotations

from kubeapi.storage.etcd import grpc
from kubeapi.storage.interface import (
    CompactedError,
    FutureRevisionError,
    StorageError,
    TimeoutError_,
    TooLargeError,
    UnavailableError,
)

COMPACTED = "required revision has been compacted"
FUTURE_REV = "required revision is a future revision"


def to_storage_error(err: grpc.GrpcError) -> StorageError:
    """One storage error for one gRPC failure; the original stays as ``__cause__``."""
    msg = err.message
    out: StorageError
    if COMPACTED in msg:
        out = CompactedError(0)
    elif FUTURE_REV in msg:
        out = FutureRevisionError(msg)
    elif "request is too large" in msg or (
        err.code == grpc.RESOURCE_EXHAUSTED and "larger than max" in msg
    ):
        out = TooLargeError(msg)
    elif err.code == grpc.DEADLINE_EXCEEDED or "request timed out" in msg:
        out = TimeoutError_(f"etcd: {msg}")
    elif err.code in (grpc.UNAVAILABLE, grpc.CANCELLED, grpc.RESOURCE_EXHAUSTED):
        out = UnavailableError(f"etcd: {msg}")
    else:
        out = StorageError(f"etcd: {msg} (grpc status {err.code})")
    out.__cause__ = err
    return out


def is_endpoint_failure(err: grpc.GrpcError) -> bool:
    """The endpoint itself is unfit (down, no leader, shutting down): try another one."""
    return err.code == grpc.UNAVAILABLE and "request timed out" not in err.message
