"""What a plugin factory is given: storage to read (and, for quota, CAS-write) objects, and its
own section of --admission-control-config-file.  `get` and `list` read through the watch
cache where there is one (kubeapi.admission.reads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeapi.admission.reads import cached_get, cached_list
from kubeapi.registry.codec import decode_stored
from kubeapi.storage.interface import Storage


@dataclass
class PluginContext:
    storage: Storage
    prefix: str = "/registry"
    media_type: str = "application/json"
    config: dict[str, Any] = field(default_factory=dict)  # plugin name -> its configuration object
    clock: Any = None  # IReactorTime for plugins that schedule work (quota recounts); None in unit tests
    catalog: Any = None  # the served kinds (a Catalog), for plugins that look a kind up (policy params)

    def key(self, segment: str, namespace: str, name: str = "") -> str:
        base = f"{self.prefix.rstrip('/')}/{segment}/"
        return base + (f"{namespace}/" if namespace else "") + name

    async def get(self, segment: str, namespace: str, name: str) -> dict[str, Any] | None:
        kv = await cached_get(self.storage, self.key(segment, namespace, name))
        return None if kv is None else decode_stored(kv.value)

    async def list(self, segment: str, namespace: str = "") -> list[dict[str, Any]]:
        res = await cached_list(self.storage, self.key(segment, namespace))
        return [decode_stored(kv.value) for kv in res.items]
