"""Persistent ClusterIP and NodePort allocators.

Each range is one upstream ``RangeAllocation`` object in storage (``<prefix>/ranges/serviceips``
and ``<prefix>/ranges/servicenodeports``): the range as text and a bitmap of taken offsets,
big-endian, bit i = offset i, base64 in JSON (Go's ``big.Int.Bytes()`` in a ``[]byte``).
Every change is a compare-and-swap on that key, retried on conflict, so two kubeapi
processes sharing one store never hand out the same address.  Within one process a lock
serialises changes, so concurrent requests do not fight each other for the CAS.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import random
from collections.abc import Callable
from typing import Any

import orjson
from twisted.internet.defer import DeferredLock
from twisted.internet.task import deferLater

from kubeapi.api.types import FieldError
from kubeapi.errors import StatusError, internal_error, invalid
from kubeapi.storage.interface import ConflictError, KeyExistsError, KeyNotFoundError, KeyValue, Storage

MAX_CAS_ATTEMPTS = 64
MAX_RANGE_SIZE = 1 << 16  # offsets kept in a bitmap (upstream caps IPv6 ranges similarly)


class RangeFull(Exception):
    """No free offset left."""


class AllocationError(StatusError):
    """422 Invalid for a requested address/port; ``with_name`` fills in the object's name
    and field, which the service hook passes down with its request."""

    def __init__(self, kind: str, field: str, value: Any, detail: str, name: str = "") -> None:
        self.kind = kind
        self.field = field
        self.value = value
        self.detail = detail
        self.name = name
        err = invalid(kind, "", name, [FieldError("FieldValueInvalid", field, detail, value, True)])
        super().__init__(err.code, err.reason, err.message, err.details)

    def with_name(self, name: str, field: str | None = None) -> AllocationError:
        return AllocationError(self.kind, field or self.field, self.value, self.detail, name)


def _encode_bitmap(bits: int) -> str:
    raw = bits.to_bytes((bits.bit_length() + 7) // 8, "big") if bits else b""
    return base64.b64encode(raw).decode("ascii")


def _decode_bitmap(data: str) -> int:
    return int.from_bytes(base64.b64decode(data or ""), "big")


class RangeBitmap:
    """One persisted bitmap over ``size`` offsets, kept in a RangeAllocation object."""

    def __init__(self, storage: Storage, key: str, range_text: str, size: int,
                 translate: Callable[[str, int], int | None] | None = None) -> None:
        self.storage = storage
        self.key = key
        self.range_text = range_text
        self.size = size
        # Maps (stored range, offset) → offset in our range (None = outside); for restarts
        # with a changed range flag.
        self.translate = translate
        self.band = min(max(16, size // 16), 256) if size > 16 else 0
        self._lock = DeferredLock()
        self._cached: KeyValue | None = None

    def _fresh(self) -> dict[str, Any]:
        ts = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"kind": "RangeAllocation", "apiVersion": "v1",
                "metadata": {"creationTimestamp": ts}, "range": self.range_text, "data": ""}

    def _read(self, kv: KeyValue | None) -> tuple[dict[str, Any], int]:
        if kv is None:
            return self._fresh(), 0
        obj = orjson.loads(kv.value)
        bits = _decode_bitmap(obj.get("data", ""))
        if obj.get("range") != self.range_text:
            moved = 0
            if self.translate is not None:
                for off in _set_bits(bits):
                    new = self.translate(str(obj.get("range", "")), off)
                    if new is not None and 0 <= new < self.size:
                        moved |= 1 << new
            bits = moved
            obj["range"] = self.range_text
        obj.get("metadata", {}).pop("resourceVersion", None)
        return obj, bits

    async def mutate(self, fn: Callable[[int], tuple[int, Any]]) -> Any:
        """Run ``fn(bits) -> (new bits, result)`` and store the new bits by CAS, retrying on
        conflict.  ``fn`` may raise; nothing is written then."""
        await self._lock.acquire()
        try:
            kv = self._cached
            fresh = kv is None
            if kv is None:
                kv = await self.storage.get(self.key)
            for attempt in range(MAX_CAS_ATTEMPTS):
                obj, bits = self._read(kv)
                try:
                    new_bits, result = fn(bits)
                except StatusError:
                    if fresh:
                        raise
                    # The cached copy may be stale: decide again on what storage holds now.
                    kv, fresh = await self.storage.get(self.key), True
                    continue
                if new_bits == bits and kv is not None:
                    if not fresh:
                        kv, fresh = await self.storage.get(self.key), True
                        continue
                    self._cached = kv
                    return result
                obj["data"] = _encode_bitmap(new_bits)
                value = orjson.dumps(obj)
                try:
                    if kv is None:
                        self._cached = await self.storage.create(self.key, value)
                    else:
                        self._cached = await self.storage.update(self.key, value, kv.mod_revision)
                    return result
                except (ConflictError, KeyExistsError, KeyNotFoundError):
                    await self._backoff(attempt)
                    kv, fresh = await self.storage.get(self.key), True
            raise internal_error(f"could not update {self.key}: too many conflicts")
        except BaseException:
            self._cached = None
            raise
        finally:
            self._lock.release()

    async def _backoff(self, attempt: int) -> None:
        """A short random pause, so a writer that keeps losing the CAS race gets a turn."""
        from twisted.internet import reactor

        await deferLater(reactor, random.uniform(0, min(0.05, 0.002 * (attempt + 1))))

    async def snapshot(self) -> int:
        _, bits = self._read(await self.storage.get(self.key))
        return bits

    def pick(self, bits: int) -> int:
        """A free offset, chosen at random, preferring the upper (dynamic) band."""
        for low, high in ((self.band, self.size), (0, self.band)):
            if high <= low:
                continue
            start = random.randrange(low, high)
            for off in list(range(start, high)) + list(range(low, start)):
                if not bits >> off & 1:
                    return off
        raise RangeFull()


def _set_bits(bits: int) -> list[int]:
    out, i = [], 0
    while bits:
        if bits & 1:
            out.append(i)
        bits >>= 1
        i += 1
    return out


class ClusterIPAllocator:
    """Service ClusterIPs out of --service-cluster-ip-range; network and broadcast are never
    given, offset 0 is the first usable address (the ``kubernetes`` service's)."""

    def __init__(self, storage: Storage, cidr: str, prefix: str = "/registry") -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self.cidr = str(self.network)
        self.base = int(self.network.network_address) + 1
        usable = self.network.num_addresses - (2 if self.network.version == 4 else 1)
        size = max(0, min(usable, MAX_RANGE_SIZE))
        self.bitmap = RangeBitmap(storage, f"{prefix.rstrip('/')}/ranges/serviceips", self.cidr, size,
                                  self._translate)

    def _translate(self, old_range: str, off: int) -> int | None:
        try:
            old = ipaddress.ip_network(old_range, strict=False)
        except ValueError:
            return None
        return self._offset(ipaddress.ip_address(int(old.network_address) + 1 + off))

    def _offset(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int | None:
        if ip.version != self.network.version:
            return None
        off = int(ip) - self.base
        return off if 0 <= off < self.bitmap.size else None

    def first_ip(self) -> str:
        return str(ipaddress.ip_address(self.base))

    def _not_in_range(self, text: str) -> AllocationError:
        return AllocationError("Service", "spec.clusterIPs", [text],
                               f"failed to allocate IP {text}: the provided IP ({text}) is not in the "
                               f"valid range. The range of valid IPs is {self.cidr}")

    async def allocate(self, requested: str | None = None) -> str:
        if requested:
            try:
                ip = ipaddress.ip_address(requested)
            except ValueError:
                raise AllocationError("Service", "spec.clusterIPs", [requested],
                                      "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)") from None
            off = self._offset(ip)
            if off is None:
                raise self._not_in_range(requested)

            def take(bits: int) -> tuple[int, str]:
                if bits >> off & 1:
                    raise AllocationError("Service", "spec.clusterIPs", [requested],
                                          f"failed to allocate IP {requested}: provided IP is already allocated")
                return bits | 1 << off, str(ip)

            result: str = await self.bitmap.mutate(take)
            return result

        def take_any(bits: int) -> tuple[int, str]:
            try:
                off = self.bitmap.pick(bits)
            except RangeFull:
                raise internal_error("failed to allocate a serviceIP: range is full") from None
            return bits | 1 << off, str(ipaddress.ip_address(self.base + off))

        chosen: str = await self.bitmap.mutate(take_any)
        return chosen

    async def release(self, ip: str) -> None:
        try:
            off = self._offset(ipaddress.ip_address(ip))
        except ValueError:
            return
        if off is None:
            return
        await self.bitmap.mutate(lambda bits: (bits & ~(1 << off), None))

    async def allocated(self) -> list[str]:
        return [str(ipaddress.ip_address(self.base + o)) for o in _set_bits(await self.bitmap.snapshot())]


class NodePortAllocator:
    """Service NodePorts out of --service-node-port-range (inclusive)."""

    def __init__(self, storage: Storage, low: int, high: int, prefix: str = "/registry") -> None:
        self.low, self.high = low, high
        self.range_text = f"{low}-{high}"
        self.bitmap = RangeBitmap(storage, f"{prefix.rstrip('/')}/ranges/servicenodeports", self.range_text,
                                  high - low + 1, self._translate)

    def _translate(self, old_range: str, off: int) -> int | None:
        try:
            old_low = int(old_range.split("-", 1)[0])
        except ValueError:
            return None
        port = old_low + off
        return port - self.low if self.low <= port <= self.high else None

    async def allocate(self, requested: int | None = None) -> int:
        if requested:
            port = int(requested)
            if not self.low <= port <= self.high:
                raise AllocationError("Service", "spec.ports[0].nodePort", port,
                                      f"provided port is not in the valid range. The range of valid "
                                      f"ports is {self.range_text}")
            off = port - self.low

            def take(bits: int) -> tuple[int, int]:
                if bits >> off & 1:
                    raise AllocationError("Service", "spec.ports[0].nodePort", port,
                                          "provided port is already allocated")
                return bits | 1 << off, port

            result: int = await self.bitmap.mutate(take)
            return result

        def take_any(bits: int) -> tuple[int, int]:
            try:
                off = self.bitmap.pick(bits)
            except RangeFull:
                raise internal_error("failed to allocate a nodePort: range is full") from None
            return bits | 1 << off, self.low + off

        chosen: int = await self.bitmap.mutate(take_any)
        return chosen

    async def release(self, port: int) -> None:
        if not self.low <= int(port) <= self.high:
            return
        off = int(port) - self.low
        await self.bitmap.mutate(lambda bits: (bits & ~(1 << off), None))

    async def allocated(self) -> list[int]:
        return [self.low + o for o in _set_bits(await self.bitmap.snapshot())]


class ServiceAllocators:
    """The ``Allocators`` the kind hooks reach (kubeapi.api.types.Allocators)."""

    def __init__(self, storage: Storage, *, service_cidr: str = "10.0.0.0/24",
                 node_ports: tuple[int, int] = (30000, 32767), prefix: str = "/registry") -> None:
        self.cluster_ips = ClusterIPAllocator(storage, service_cidr, prefix)
        self.node_ports = NodePortAllocator(storage, node_ports[0], node_ports[1], prefix)

    async def allocate_cluster_ip(self, requested: str | None, name: str = "") -> str:
        try:
            return await self.cluster_ips.allocate(requested)
        except AllocationError as e:
            raise e.with_name(name) from None

    async def release_cluster_ip(self, ip: str) -> None:
        await self.cluster_ips.release(ip)

    async def allocate_node_port(self, requested: int | None, name: str = "", field: str = "") -> int:
        try:
            return await self.node_ports.allocate(requested)
        except AllocationError as e:
            raise e.with_name(name, field or None) from None

    async def release_node_port(self, port: int) -> None:
        await self.node_ports.release(port)

    def first_service_ip(self) -> str:
        return self.cluster_ips.first_ip()
