"""Master leases: which kubeapi servers are alive, for the ``kubernetes`` Service's endpoints.

Upstream's lease endpoint reconciler keeps one key per apiserver, ``<prefix>/masterleases/<ip>``,
alive with an etcd lease (TTL 15 s, renewed every 10 s).  Our storage contract has no TTL, so
the value carries its own expiry: an Endpoints-shaped JSON object (as upstream stores) plus
``leaseExpires``, wall-clock epoch seconds.  Readers skip expired leases and delete them with a
compare-and-swap on the mod revision, so a renewal that races the delete wins.  Servers' clocks
must roughly agree (skew eats into the TTL), as with any wall-clock lease.
"""

from __future__ import annotations

from typing import Any

import orjson
from twisted.logger import Logger

from kubeapi.protobuf import UnsupportedKind
from kubeapi.registry.codec import decode_stored
from kubeapi.storage.interface import (
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Storage,
)

log = Logger()

DEFAULT_LEASE_TTL = 15.0
MAX_ATTEMPTS = 5


class MasterLeases:
    """The lease keys under ``<prefix>/masterleases/``; ``now`` is a wall clock in seconds
    (the reactor's ``seconds``, so tests can drive it with ``task.Clock``)."""

    def __init__(self, storage: Storage, now: Any, *, prefix: str = "/registry",
                 ttl: float = DEFAULT_LEASE_TTL) -> None:
        self.storage = storage
        self.now = now
        self.ttl = ttl
        self.base = f"{prefix.rstrip('/')}/masterleases/"

    def key(self, ip: str) -> str:
        return self.base + ip

    def _value(self, ip: str, generation: int) -> bytes:
        return orjson.dumps({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": ip, "generation": generation},
            "subsets": [{"addresses": [{"ip": ip}]}],
            "leaseDurationSeconds": self.ttl,
            "leaseExpires": self.now() + self.ttl,
        })

    async def update(self, ip: str) -> None:
        """Create or renew this server's lease (expiry = now + ttl)."""
        key = self.key(ip)
        for _ in range(MAX_ATTEMPTS):
            kv = await self.storage.get(key)
            try:
                if kv is None:
                    await self.storage.create(key, self._value(ip, 1))
                else:
                    generation = int((_decode(kv) or {}).get("metadata", {}).get("generation") or 0) + 1
                    await self.storage.update(key, self._value(ip, generation), kv.mod_revision)
                return
            except (KeyExistsError, KeyNotFoundError, ConflictError):
                continue  # raced another writer (a reaper or a twin); read again
        raise RuntimeError(f"could not renew master lease {key}")

    async def remove(self, ip: str) -> None:
        """Drop this server's lease (graceful shutdown); absent already is fine."""
        try:
            await self.storage.delete(self.key(ip))
        except KeyNotFoundError:
            pass

    async def list(self) -> list[str]:
        """IPs of the unexpired leases, sorted as strings (as upstream orders them);
        expired ones are deleted on the way (CAS, so a concurrent renewal survives)."""
        now = self.now()
        ips: list[str] = []
        start_after: str | None = None
        while True:
            page = await self.storage.list(self.base, limit=500, start_after=start_after)
            for kv in page.items:
                ip, expires = _lease_of(kv)
                if ip is not None and expires is not None and expires > now:
                    ips.append(ip)
                    continue
                await self._reap(kv)
            if not page.more or not page.items:
                break
            start_after = page.items[-1].key
        return sorted(set(ips))

    async def _reap(self, kv: KeyValue) -> None:
        try:
            await self.storage.delete(kv.key, kv.mod_revision)
            log.info("master lease {key} expired; removed", key=kv.key)
        except (KeyNotFoundError, ConflictError):
            pass  # someone else removed it, or its owner just renewed it


def _decode(kv: KeyValue) -> dict[str, Any] | None:
    try:
        obj = decode_stored(kv.value)  # we write JSON; a real kube-apiserver writes protobuf
    except (ValueError, UnsupportedKind):
        return None
    return obj if isinstance(obj, dict) else None


def _lease_of(kv: KeyValue) -> tuple[str | None, float | None]:
    """(ip, expiry) of a stored lease; (None, None) for a value we cannot read."""
    obj = _decode(kv)
    if obj is None:
        return None, None
    try:
        ip = obj["subsets"][0]["addresses"][0]["ip"]
        expires = float(obj["leaseExpires"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None, None
    return (ip if isinstance(ip, str) and ip else None), expires
