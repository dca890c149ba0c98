"""networking.k8s.io/v1: Ingress, IngressClass, NetworkPolicy, IPAddress, ServiceCIDR
(behaviour hooks; structure is generated)."""

from __future__ import annotations

import ipaddress
from typing import Any

from kubeapi.api import facts
from kubeapi.api.printing import NONE, age_col, col, format_label_selector, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    check_enum,
    get,
    immutable,
    invalid,
    not_supported,
    required,
    validate_object_meta,
    validate_object_meta_update,
)

GROUP = "networking.k8s.io"
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")


# ---------------------------------------------------------------- ingresses

def validate_ingress(ing: Obj) -> list[FieldError]:
    errs = validate_object_meta(ing)
    spec = ing.get("spec") or {}
    if not spec.get("rules") and not spec.get("defaultBackend"):
        errs.append(invalid("spec", spec, "either `defaultBackend` or `rules` must be specified"))
    for i, rule in enumerate(spec.get("rules") or []):
        http = (rule or {}).get("http")
        if http is None:
            continue
        if not http.get("paths"):
            errs.append(required(f"spec.rules[{i}].http.paths"))
        for j, path in enumerate(http.get("paths") or []):
            p = f"spec.rules[{i}].http.paths[{j}]"
            pt = (path or {}).get("pathType")
            if not pt:
                errs.append(required(f"{p}.pathType", "pathType must be specified"))
            elif pt not in PATH_TYPES:
                errs.append(not_supported(f"{p}.pathType", pt, PATH_TYPES))
            elif pt in ("Exact", "Prefix") and not str(path.get("path", "")).startswith("/"):
                errs.append(invalid(f"{p}.path", path.get("path", ""), "must be an absolute path"))
            if not (path or {}).get("backend"):
                errs.append(required(f"{p}.backend"))
    return errs


def _hosts(ing: Obj) -> str:
    hosts = [r.get("host") for r in get(ing, "spec.rules") or [] if r.get("host")]
    if not hosts:
        return "*"
    text = ",".join(hosts[:4])
    return text + (f" + {len(hosts) - 4} more..." if len(hosts) > 4 else "")


def _lb_address(ing: Obj) -> str:
    found = sorted({i.get("ip") or i.get("hostname") for i in get(ing, "status.loadBalancer.ingress") or []
                    if i.get("ip") or i.get("hostname")})
    return ",".join(found)


INGRESSES = facts.resource(
    GROUP, "v1", "ingresses",
    columns=(
        name_col(),
        col("Class", "string", lambda o: get(o, "spec.ingressClassName") or NONE, "The name of the IngressClass"),
        col("Hosts", "string", _hosts, "Hosts that incoming requests are matched against"),
        col("Address", "string", _lb_address, "Address is a list containing ingress points for the load-balancer"),
        col("Ports", "string", lambda o: "80, 443" if get(o, "spec.tls") else "80", "Ports of TLS configurations"),
        age_col(),
    ),
    validate=validate_ingress, validate_update=validate_object_meta_update, has_generation=True,
    storage_path="ingress",
)


def _ingress_class_params(o: Obj) -> str:
    p = get(o, "spec.parameters")
    if not p:
        return NONE
    kind = p.get("kind", "") + ("." + p["apiGroup"] if p.get("apiGroup") else "")
    return f"{kind}/{p.get('name', '')}"


def validate_ingress_class_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if get(new, "spec.controller") != get(old, "spec.controller"):
        errs.append(immutable("spec.controller", get(new, "spec.controller")))
    return errs


INGRESSCLASSES = facts.resource(
    GROUP, "v1", "ingressclasses",
    columns=(name_col(),
             col("Controller", "string", lambda o: get(o, "spec.controller") or "", "Controller"),
             col("Parameters", "string", _ingress_class_params, "Parameters"),
             age_col()),
    validate=lambda o: validate_object_meta(o, namespaced=False),
    validate_update=validate_ingress_class_update, has_generation=True,
)

# ---------------------------------------------------------------- networkpolicies


def default_network_policy(np: Obj) -> None:
    spec = np.setdefault("spec", {})
    for key in ("ingress", "egress"):
        for rule in spec.get(key) or []:
            for port in (rule or {}).get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def validate_network_policy(np: Obj) -> list[FieldError]:
    errs = validate_object_meta(np)
    for i, t in enumerate(get(np, "spec.policyTypes") or []):
        errs += check_enum(t, f"spec.policyTypes[{i}]", ("Egress", "Ingress"))
    return errs


NETWORKPOLICIES = facts.resource(
    GROUP, "v1", "networkpolicies",
    columns=(name_col(), col("Pod-Selector", "string", lambda o: format_label_selector(get(o, "spec.podSelector")),
                             "Selects the pods to which this NetworkPolicy object applies"), age_col()),
    default=default_network_policy, validate=validate_network_policy,
    validate_update=validate_object_meta_update, has_generation=True,
)

# ---------------------------------------------------------------- ipaddresses & servicecidrs


def validate_ip_address(ip: Obj) -> list[FieldError]:
    errs = validate_object_meta(ip, lambda _name: [], namespaced=False)
    name = get(ip, "metadata.name") or ""
    try:
        canonical = str(ipaddress.ip_address(name))
        if canonical != name:
            errs.append(invalid("metadata.name", name, f"must be in canonical form (\"{canonical}\")"))
    except ValueError:
        errs.append(invalid("metadata.name", name, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    ref = get(ip, "spec.parentRef")
    if not ref:
        errs.append(required("spec.parentRef"))
    else:
        for f in ("resource", "name"):
            if not ref.get(f):
                errs.append(required(f"spec.parentRef.{f}"))
    return errs


def validate_ip_address_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if get(new, "spec.parentRef") != get(old, "spec.parentRef"):
        errs.append(immutable("spec.parentRef", get(new, "spec.parentRef")))
    return errs


def _parent_ref(o: Obj) -> str:
    ref = get(o, "spec.parentRef") or {}
    group = ref.get("group") or ""
    ns = ref.get("namespace") or ""
    res = ref.get("resource", "") + ("." + group if group else "")
    return f"{res}/{ns + '/' if ns else ''}{ref.get('name', '')}"


IPADDRESSES = facts.resource(
    GROUP, "v1", "ipaddresses",
    columns=(name_col(), col("ParentRef", "string", _parent_ref, "ParentRef references the resource (usually a "
                                                                  "Service) that this IP address is assigned to")),
    validate=validate_ip_address, validate_update=validate_ip_address_update,
)


def _cidrs(o: Obj) -> Any:
    return ",".join(get(o, "spec.cidrs") or [])


def validate_service_cidr(sc: Obj) -> list[FieldError]:
    errs = validate_object_meta(sc, namespaced=False)
    cidrs = get(sc, "spec.cidrs") or []
    if not cidrs:
        errs.append(required("spec.cidrs"))
    if len(cidrs) > 2:
        errs.append(invalid("spec", sc.get("spec"), "may only hold up to 2 values"))
    for i, c in enumerate(cidrs):
        try:
            ipaddress.ip_network(c, strict=True)
        except ValueError:
            errs.append(invalid(f"spec.cidrs[{i}]", c, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
                                                       "2001:db8::/64)"))
    return errs


def validate_service_cidr_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    if get(new, "spec.cidrs") != get(old, "spec.cidrs"):
        errs.append(immutable("spec.cidrs", get(new, "spec.cidrs")))
    return errs


SERVICECIDRS = facts.resource(
    GROUP, "v1", "servicecidrs",
    columns=(name_col(), col("CIDRs", "string", _cidrs, "spec.cidrs of the ServiceCIDR"), age_col()),
    validate=validate_service_cidr, validate_update=validate_service_cidr_update,
)

RESOURCES: list[ResourceDef] = [INGRESSCLASSES, INGRESSES, IPADDRESSES, NETWORKPOLICIES, SERVICECIDRS]
