"""The discovery.k8s.io group: endpointslices."""

from __future__ import annotations

from typing import Any

from kubeapi.api import facts
from kubeapi.api.printing import age_col, col, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    Errors,
    check_enum,
    check_ip,
    check_port,
    check_protocol,
    dns1123_label,
    dns1123_subdomain,
    immutable,
    invalid,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "discovery.k8s.io"
ADDRESS_TYPES = ("IPv4", "IPv6", "FQDN")
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100


def _with_more(items: list[str], count: int, limit: int = 3) -> str:
    text = ",".join(items[:limit])
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def format_ports(es: Obj) -> str:
    ports = es.get("ports") or []
    out = []
    for p in ports:
        if p.get("port") is not None:
            out.append(str(p["port"]))
        elif p.get("name") is not None:
            out.append(str(p["name"]))
        else:
            out.append("*")
    return _with_more(out, len(ports))


def format_endpoints(es: Obj) -> str:
    addrs = [a for ep in es.get("endpoints") or [] for a in ep.get("addresses") or []]
    return _with_more(addrs, len(addrs))


def default_slice(es: Obj) -> None:
    for p in es.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("name", "")
            p.setdefault("protocol", "TCP")


def _check_address(addr: Any, atype: str, p: str) -> Errors:
    if atype in ("IPv4", "IPv6"):
        errs = check_ip(addr, p)
        if not errs and (":" in str(addr)) != (atype == "IPv6"):
            errs = [invalid(p, addr, f"must be an {atype} address")]
        return errs
    if atype == "FQDN":
        return [invalid(p, addr, m) for m in dns1123_subdomain(str(addr))]
    return []


def validate_slice(es: Obj) -> list[FieldError]:
    errs = validate_object_meta(es)
    atype = es.get("addressType")
    errs += check_enum(atype, "addressType", ADDRESS_TYPES, required_=True)
    endpoints = es.get("endpoints") or []
    if len(endpoints) > MAX_ENDPOINTS:
        errs.append(FieldError("FieldValueTooMany", "endpoints", f"must have at most {MAX_ENDPOINTS} items",
                        len(endpoints), True))
    for i, ep in enumerate(endpoints):
        p = f"endpoints[{i}]"
        addrs = ep.get("addresses") or []
        if not addrs:
            errs.append(required(f"{p}.addresses", "must contain at least 1 address"))
        elif len(addrs) > MAX_ADDRESSES:
            errs.append(FieldError("FieldValueTooMany", f"{p}.addresses",
                            f"must have at most {MAX_ADDRESSES} items", len(addrs), True))
        for j, a in enumerate(addrs):
            errs += _check_address(a, str(atype), f"{p}.addresses[{j}]")
        host = ep.get("hostname")
        if host:
            errs += [invalid(f"{p}.hostname", host, m) for m in dns1123_label(host)]
    for i, port in enumerate(es.get("ports") or []):
        p = f"ports[{i}]"
        if port.get("name"):
            errs += [invalid(f"{p}.name", port["name"], m) for m in dns1123_label(port["name"])]
        if port.get("port") is not None:
            errs += check_port(port["port"], f"{p}.port")
        errs += check_protocol(port.get("protocol"), f"{p}.protocol")
    return errs


def validate_slice_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if new.get("addressType") != old.get("addressType"):
        errs.append(immutable("addressType", new.get("addressType")))
    return errs



ENDPOINT_SLICES = facts.resource(
    GROUP, "v1", "endpointslices",
    columns=(
        name_col(),
        col("AddressType", "string", lambda o: o.get("addressType") or "",
            "The type of address carried by this EndpointSlice."),
        col("Ports", "string", format_ports, "Ports provided by this EndpointSlice."),
        col("Endpoints", "string", format_endpoints, "Endpoints in this EndpointSlice."),
        age_col(),
    ),
    default=default_slice,
    validate=validate_slice,
    validate_update=validate_slice_update,
    has_generation=True,
)

RESOURCES: list[ResourceDef] = [ENDPOINT_SLICES]
