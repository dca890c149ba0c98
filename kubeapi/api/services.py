"""core/v1 services: defaulting, validation, printing, and the hooks that allocate and
release ClusterIPs and NodePorts through the server's persistent allocators."""

from __future__ import annotations

from typing import Any

from kubeapi.api import facts
from kubeapi.api.podspec import port_name
from kubeapi.api.printing import NONE, age_col, col, format_labels, name_col, wide
from kubeapi.api.types import FieldError, HookContext, Obj
from kubeapi.api.validation import (
    Errors,
    check_enum,
    check_ip,
    check_port,
    check_protocol,
    check_string_map,
    dns1035_label,
    dns1123_label,
    dns1123_subdomain,
    duplicate,
    each_object,
    forbidden,
    get,
    invalid,
    required,
    type_invalid,
    validate_object_meta,
    validate_object_meta_update,
)

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")

# ---------------------------------------------------------------- defaulting


def default_service(svc: Obj) -> None:
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        spec = svc["spec"] = {}
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "ClientIP":
        cfg = spec.setdefault("sessionAffinityConfig", {})
        if isinstance(cfg, dict):
            cfg.setdefault("clientIP", {}).setdefault("timeoutSeconds", 10800)
    for p in spec.get("ports") or []:
        if not isinstance(p, dict):
            continue
        p.setdefault("protocol", "TCP")
        if p.get("targetPort") in (None, 0, ""):
            if "port" in p:
                p["targetPort"] = p["port"]
    stype = spec["type"]
    if stype in NODE_PORT_TYPES:
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if stype == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if stype != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])
        ip = spec.get("clusterIP")
        if ip and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [ip]
        elif spec.get("clusterIPs") and not ip:
            spec["clusterIP"] = spec["clusterIPs"][0]


def prepare_service(svc: Obj) -> None:
    svc["status"] = {"loadBalancer": {}}


# ---------------------------------------------------------------- validation


def _is_headless(spec: Obj) -> bool:
    return spec.get("clusterIP") == "None" or (spec.get("clusterIPs") or [None])[0] == "None"


def _validate_target_port(tp: Any, p: str) -> Errors:
    if isinstance(tp, bool):
        return [type_invalid(p, tp, "must be an integer or a string")]
    if isinstance(tp, int):
        return check_port(tp, p)
    if isinstance(tp, str):
        return [invalid(p, tp, m) for m in port_name(tp)]
    return []


def validate_service(svc: Obj) -> list[FieldError]:
    errs = validate_object_meta(svc, dns1035_label)
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        return errs + [required("spec")]
    stype = spec.get("type") or "ClusterIP"
    errs += check_enum(stype, "spec.type", SERVICE_TYPES)
    errs += check_enum(spec.get("sessionAffinity"), "spec.sessionAffinity", ("ClientIP", "None"))
    errs += check_string_map(spec.get("selector"), "spec.selector")
    ports = spec.get("ports") or []
    if not isinstance(ports, list):
        return errs + [type_invalid("spec.ports", ports, "must be an array")]
    if not ports and stype != "ExternalName" and not _is_headless(spec):
        errs.append(required("spec.ports"))
    names: set[str] = set()
    seen: set[tuple[Any, Any]] = set()
    for pp, port in each_object(ports, "spec.ports", errs):
        name = port.get("name")
        if len(ports) > 1 and not name:
            errs.append(required(f"{pp}.name"))
        if name:
            for m in dns1123_label(str(name)):  # service port names are DNS-1123 labels ("80-8080")
                errs.append(invalid(f"{pp}.name", name, m))
            if name in names:
                errs.append(duplicate(f"{pp}.name", name))
            names.add(name)
        errs += check_port(port.get("port"), f"{pp}.port")
        errs += check_protocol(port.get("protocol"), f"{pp}.protocol")
        errs += _validate_target_port(port.get("targetPort"), f"{pp}.targetPort")
        np = port.get("nodePort")
        if np not in (None, 0):
            if stype not in NODE_PORT_TYPES:
                errs.append(forbidden(f"{pp}.nodePort", f"may not be used when `type` is '{stype}'"))
            else:
                errs += check_port(np, f"{pp}.nodePort")
        key = (port.get("port"), port.get("protocol", "TCP"))
        if key in seen:
            errs.append(duplicate(pp, port))
        seen.add(key)
    if stype == "ExternalName":
        ext = spec.get("externalName")
        if not ext:
            errs.append(required("spec.externalName"))
        else:
            for m in dns1123_subdomain(str(ext).rstrip(".")):
                errs.append(invalid("spec.externalName", ext, m))
        if spec.get("clusterIP") and spec.get("clusterIP") != "":
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
    ips = spec.get("clusterIPs") or []
    for i, ip in enumerate(ips if isinstance(ips, list) else []):
        if i == 0 and ip == "None":
            continue
        for e in check_ip(ip, f"spec.clusterIPs[{i}]"):
            errs.append(e)
    if isinstance(ips, list) and ips and spec.get("clusterIP") and spec["clusterIP"] != ips[0]:
        errs.append(invalid("spec.clusterIPs", ips, "element [0] must match clusterIP"))
    for i, ip in enumerate(spec.get("externalIPs") or []):
        errs += check_ip(ip, f"spec.externalIPs[{i}]")
    if stype in NODE_PORT_TYPES:
        errs += check_enum(spec.get("externalTrafficPolicy"), "spec.externalTrafficPolicy",
                           ("Cluster", "Local"))
        if _is_headless(spec):
            errs.append(invalid("spec.clusterIPs[0]", "None",
                                f"may not be set to 'None' for {stype} services"))
    errs += check_enum(spec.get("internalTrafficPolicy"), "spec.internalTrafficPolicy",
                       ("Cluster", "Local"))
    errs += check_enum(spec.get("ipFamilyPolicy"), "spec.ipFamilyPolicy",
                       ("PreferDualStack", "RequireDualStack", "SingleStack"))
    for i, fam in enumerate(spec.get("ipFamilies") or []):
        errs += check_enum(fam, f"spec.ipFamilies[{i}]", ("IPv4", "IPv6"))
    return errs


def validate_service_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    if "ExternalName" in (ns.get("type"), os_.get("type")):
        return errs
    new_ips = ns.get("clusterIPs") or ([ns["clusterIP"]] if ns.get("clusterIP") else [])
    old_ips = os_.get("clusterIPs") or ([os_["clusterIP"]] if os_.get("clusterIP") else [])
    if new_ips and old_ips and new_ips[0] != old_ips[0]:
        errs.append(invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return errs


# ---------------------------------------------------------------- allocation hooks


def _needs_ip(spec: Obj) -> bool:
    return spec.get("type") != "ExternalName" and not _is_headless(spec)


def _needs_node_ports(spec: Obj) -> bool:
    t = spec.get("type")
    return t == "NodePort" or (t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True))


async def _release_all(ctx: HookContext, ips: list[str], ports: list[int]) -> None:
    for ip in ips:
        await ctx.allocators.release_cluster_ip(ip)
    for port in ports:
        await ctx.allocators.release_node_port(port)


async def _allocate(ctx: HookContext, name: str, spec: Obj, keep_ports: dict[tuple[Any, Any], int],
                    taken_ip: str | None) -> tuple[list[str], list[int]]:
    """Allocate what ``spec`` needs; returns what was newly taken (to undo on failure)."""
    new_ips: list[str] = []
    new_ports: list[int] = []
    try:
        if _needs_ip(spec) and not taken_ip:
            requested = spec.get("clusterIP") or None
            ip = await ctx.allocators.allocate_cluster_ip(requested, name)
            new_ips.append(ip)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        elif _is_headless(spec) and spec.get("type") != "ExternalName":
            spec["clusterIP"] = "None"
            spec["clusterIPs"] = ["None"]
        if spec.get("type") in NODE_PORT_TYPES:
            for i, port in enumerate(spec.get("ports") or []):
                key = (port.get("port"), port.get("protocol", "TCP"))
                want = port.get("nodePort") or None
                if want is not None and keep_ports.get(key) == want:
                    continue
                if want is None and key in keep_ports and _needs_node_ports(spec):
                    port["nodePort"] = keep_ports[key]
                    continue
                if want is None and not _needs_node_ports(spec):
                    continue
                got = await ctx.allocators.allocate_node_port(want, name, f"spec.ports[{i}].nodePort")
                new_ports.append(got)
                port["nodePort"] = got
            if spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
                if not spec.get("healthCheckNodePort"):
                    got = await ctx.allocators.allocate_node_port(None, name, "spec.healthCheckNodePort")
                    new_ports.append(got)
                    spec["healthCheckNodePort"] = got
    except BaseException:
        await _release_all(ctx, new_ips, new_ports)
        raise
    return new_ips, new_ports


def _node_ports(spec: Obj) -> dict[tuple[Any, Any], int]:
    out: dict[tuple[Any, Any], int] = {}
    for p in spec.get("ports") or []:
        if isinstance(p, dict) and p.get("nodePort"):
            out[(p.get("port"), p.get("protocol", "TCP"))] = p["nodePort"]
    return out


def _real_ips(spec: Obj) -> list[str]:
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [ip for ip in ips if ip and ip != "None"]


async def on_create(ctx: HookContext, svc: Obj) -> None:
    spec = svc.setdefault("spec", {})
    await _allocate(ctx, (svc.get("metadata") or {}).get("name", ""), spec, {}, None)


async def on_update(ctx: HookContext, new: Obj, old: Obj) -> None:
    ns = new.setdefault("spec", {})
    os_ = old.get("spec") or {}
    old_ips = _real_ips(os_)
    kept_ip: str | None = None
    if ns.get("type") != "ExternalName" and old_ips and not _is_headless(ns):
        # A PUT without clusterIP keeps the one already allocated.
        if not ns.get("clusterIP") and not ns.get("clusterIPs"):
            ns["clusterIP"] = old_ips[0]
            ns["clusterIPs"] = list(os_.get("clusterIPs") or old_ips)
        kept_ip = ns.get("clusterIP") if ns.get("clusterIP") == old_ips[0] else None
    if ns.get("type") == "ExternalName":
        ns.pop("clusterIP", None)
        ns.pop("clusterIPs", None)
    old_ports = _node_ports(os_)
    await _allocate(ctx, (new.get("metadata") or {}).get("name", ""), ns, old_ports, kept_ip)
    # Release what the new object no longer holds.
    still_ips = set(_real_ips(ns))
    still_ports = set(_node_ports(ns).values())
    if ns.get("healthCheckNodePort"):
        still_ports.add(ns["healthCheckNodePort"])
    gone_ports = [p for p in old_ports.values() if p not in still_ports]
    hc = os_.get("healthCheckNodePort")
    if hc and hc not in still_ports:
        gone_ports.append(hc)
    await _release_all(ctx, [ip for ip in old_ips if ip not in still_ips], gone_ports)


async def on_delete(ctx: HookContext, svc: Obj) -> None:
    spec = svc.get("spec") or {}
    ports = list(_node_ports(spec).values())
    if spec.get("healthCheckNodePort"):
        ports.append(spec["healthCheckNodePort"])
    await _release_all(ctx, _real_ips(spec), ports)


# ---------------------------------------------------------------- printing


def _lb_ips(svc: Obj) -> list[str]:
    out = []
    for ing in get(svc, "status.loadBalancer.ingress") or []:
        if ing.get("ip"):
            out.append(ing["ip"])
        elif ing.get("hostname"):
            out.append(ing["hostname"])
    return out


def external_ip(svc: Obj) -> str:
    spec = svc.get("spec") or {}
    ext = list(spec.get("externalIPs") or [])
    stype = spec.get("type") or "ClusterIP"
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(ext) if ext else NONE
    if stype == "LoadBalancer":
        lb = _lb_ips(svc)
        if ext:
            return ",".join(lb + ext)
        return ",".join(lb) if lb else "<pending>"
    if stype == "ExternalName":
        return spec.get("externalName") or ""
    return "<unknown>"


def port_string(svc: Obj) -> str:
    pieces = []
    for p in get(svc, "spec.ports") or []:
        proto = p.get("protocol", "TCP")
        if p.get("nodePort"):
            pieces.append(f"{p.get('port')}:{p['nodePort']}/{proto}")
        else:
            pieces.append(f"{p.get('port')}/{proto}")
    return ",".join(pieces) if pieces else NONE


def cluster_ip(svc: Obj) -> str:
    ips = get(svc, "spec.clusterIPs") or []
    return ips[0] if ips else NONE


COLUMNS = (
    name_col(),
    col("Type", "string", lambda o: get(o, "spec.type") or "",
        "type determines how the Service is exposed."),
    col("Cluster-IP", "string", cluster_ip,
        "clusterIP is the IP address of the service and is usually assigned randomly."),
    col("External-IP", "string", external_ip,
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept "
        "traffic for this service."),
    col("Port(s)", "string", port_string, "The list of ports that are exposed by this service."),
    age_col(),
    wide("Selector", "string", lambda o: format_labels(get(o, "spec.selector")),
         "Route service traffic to pods with label keys and values matching this selector."),
)




SERVICES = facts.resource(
    "", "v1", "services",
    storage_path="services/specs",
    columns=COLUMNS,
    field_selectors={"spec.clusterIP": lambda o: get(o, "spec.clusterIP") or "",
                     "spec.type": lambda o: get(o, "spec.type") or ""},
    default=default_service,
    validate=validate_service,
    validate_update=validate_service_update,
    prepare_for_create=prepare_service,
    has_status=True,
    return_deleted_object=True,
    on_create=on_create,
    on_update=on_update,
    on_delete=on_delete,
    allow_create_on_update=True,
)
