"""Where an APIService's Service lives: a ready endpoint address (--enable-aggregator-routing)
or the Service's ClusterIP, as upstream's endpoint and cluster-IP service resolvers answer.

Also the facts the availability controller checks (Service present, port served, ready
EndpointSlice endpoints with the port's name), so both read the objects the same way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from kubeapi.errors import StatusError
from kubeapi.registry.options import ListOptions

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class ResolveError(Exception):
    """The Service cannot be turned into an address; the message says why (logged only)."""


@dataclass(frozen=True)
class ServiceRef:
    namespace: str
    name: str
    port: int

    @classmethod
    def of(cls, apiservice: Obj) -> ServiceRef:
        s = (apiservice.get("spec") or {}).get("service") or {}
        return cls(str(s.get("namespace", "")), str(s.get("name", "")), int(s.get("port") or 443))

    @property
    def server_name(self) -> str:
        """The TLS name upstream verifies: <service>.<namespace>.svc."""
        return f"{self.name}.{self.namespace}.svc"


async def get_service(server: Any, ref: ServiceRef) -> Obj | None:
    try:
        obj: Obj = await server.store("", "v1", "services").get(ref.namespace, ref.name)
    except StatusError as e:
        if e.code == 404:
            return None
        raise
    return obj


async def endpoint_slices(server: Any, ref: ServiceRef) -> list[Obj]:
    listed = await server.store("discovery.k8s.io", "v1", "endpointslices").list(
        ref.namespace, ListOptions(label_selector=f"{SERVICE_NAME_LABEL}={ref.name}"))
    return list(listed.get("items") or [])


def port_name(service: Obj, port: int) -> str | None:
    """The name of the Service port numbered ``port`` ("" when unnamed), None when there is none."""
    for p in (service.get("spec") or {}).get("ports") or []:
        if p.get("port") == port:
            return str(p.get("name") or "")
    return None


def _ready(endpoint: Obj) -> bool:
    ready = (endpoint.get("conditions") or {}).get("ready")
    return ready is None or ready is True


def ready_addresses(slices: list[Obj], name: str) -> list[tuple[str, int]]:
    """(first address, port) of every ready endpoint in slices whose port is named ``name``."""
    out: list[tuple[str, int]] = []
    for sl in slices:
        ports = [p.get("port") for p in sl.get("ports") or [] if (p.get("name") or "") == name and p.get("port")]
        if not ports:
            continue
        for ep in sl.get("endpoints") or []:
            addresses = ep.get("addresses") or []
            if _ready(ep) and addresses:
                out.append((str(addresses[0]), int(ports[0])))
    return out


async def resolve(server: Any, ref: ServiceRef, routing: bool) -> tuple[str, int]:
    """(host, port) to dial for the Service; ResolveError when there is nowhere to go."""
    service = await get_service(server, ref)
    if service is None:
        raise ResolveError(f'service "{ref.name}" not found')
    svc_spec = service.get("spec") or {}
    kind = svc_spec.get("type") or "ClusterIP"
    if kind == "ExternalName" and not routing:
        return str(svc_spec.get("externalName", "")), ref.port
    if kind not in ("ClusterIP", "LoadBalancer", "NodePort"):
        raise ResolveError(f'unsupported service type "{kind}"')
    name = port_name(service, ref.port)
    if name is None:
        raise ResolveError(f"no service port {ref.port} found for service \"{ref.name}\"")
    if not routing:
        ip = svc_spec.get("clusterIP") or ""
        if ip == "None":
            raise ResolveError('cannot route to service with ClusterIP "None"')
        return str(ip), ref.port
    addresses = ready_addresses(await endpoint_slices(server, ref), name)
    if not addresses:
        raise ResolveError(f"no endpoints available for service \"{ref.name}\"")
    return random.choice(addresses)
