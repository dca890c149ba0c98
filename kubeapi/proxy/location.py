"""Where a proxy, log or stream request goes: upstream's ResourceLocation rules for nodes,
pods and services, and the kubelet URLs of pods/log, exec, attach and portforward.

Every refusal is upstream's Status (``invalid node request``, ``address not allowed``,
``no endpoints available for service``, ``pod X does not have a host assigned``...).
"""

from __future__ import annotations

import ipaddress
import random
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from twisted.internet import threads

from kubeapi.errors import StatusError, bad_request, service_unavailable

if TYPE_CHECKING:
    from kubeapi.proxy.kubelet import KubeletConfig

Obj = dict[str, Any]
VALID_SCHEMES = ("", "http", "https")


@dataclass
class Target:
    """One backend: ``scheme://host:port`` plus the path and query to ask for."""

    scheme: str
    host: str
    port: int | None
    path: str = ""
    query: str = ""
    kubelet: bool = False  # reached with the kubelet client certificate (and CA, if any)
    skip_verify: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 443 if self.scheme == "https" else 80

    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path or ''}" + (f"?{self.query}" if self.query else "")


def split_scheme_name_port(ident: str) -> tuple[str, str, str, bool]:
    """``name``, ``name:port`` or ``scheme:name:port`` as upstream's SplitSchemeNamePort."""
    parts = ident.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return "", "", "", False
    if name and scheme in VALID_SCHEMES:
        return scheme, name, port, True
    return "", "", "", False


def go_quote(s: str) -> str:
    """Go's %q for the plain strings these messages hold."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def is_global_unicast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Go's net.IP.IsGlobalUnicast (private ranges count; loopback and link-local do not)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return False
    return not (isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"))


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


async def check_proxyable_hostname(host: str) -> None:
    """Upstream resolves a node's address and refuses it unless every answer is global unicast."""
    ip = parse_ip(host)
    if ip is not None:
        ips = [ip]
    else:
        try:
            infos = await threads.deferToThread(socket.getaddrinfo, host, None)
        except OSError:
            raise bad_request(f"lookup {host}: no such host") from None
        ips = [ip for ip in (parse_ip(str(i[4][0]).split("%")[0]) for i in infos) if ip is not None]
        if not ips:
            raise bad_request("no addresses for hostname")
    if not all(is_global_unicast(i) for i in ips):
        raise bad_request("address not allowed")


def _go_addresses(addresses: list[Obj]) -> str:
    return "[" + " ".join("{" + f"{a.get('type', '')} {a.get('address', '')}" + "}" for a in addresses) + "]"


def preferred_address(node: Obj, types: tuple[str, ...]) -> str:
    addresses = [a for a in ((node.get("status") or {}).get("addresses") or []) if isinstance(a, dict)]
    for t in types:
        for a in addresses:
            if a.get("type") == t:
                return str(a.get("address", ""))
    # Upstream's NoMatchError is not a Status: it reaches the client as a 500 with reason Unknown.
    raise StatusError(500, "", f"no preferred addresses found; known addresses: {_go_addresses(addresses)}")


def kubelet_port(node: Obj, default: int) -> int:
    port = ((((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {})
            .get("Port"))
    return port if isinstance(port, int) and port > 0 else default


async def _get(server: Any, plural: str, ns: str, name: str) -> Obj:
    obj: Obj = await server.store("", "v1", plural).get(ns, name, "")
    return obj


async def node_connection(server: Any, node_name: str) -> tuple[str, int]:
    """(address, kubelet port) of a node, as upstream's NodeConnectionInfoGetter finds them."""
    cfg: KubeletConfig = server.kubelet
    node = await _get(server, "nodes", "", node_name)
    return preferred_address(node, cfg.preferred_address_types), kubelet_port(node, cfg.default_port)


async def node_target(server: Any, ident: str) -> Target:
    """nodes/{ident}/proxy: the kubelet itself, or another port of the node."""
    scheme, name, port, ok = split_scheme_name_port(ident)
    if not ok:
        raise bad_request(f"invalid node request {go_quote(ident)}")
    host, kport = await node_connection(server, name)
    await check_proxyable_hostname(host)
    if port == "" or port == str(kport):
        return Target("https", host, kport, kubelet=True)
    return Target(scheme or "http", host, _port_number(port))


def _port_number(port: str) -> int | None:
    try:
        n = int(port)
    except ValueError:
        raise service_unavailable(f'error trying to reach service: dial tcp: address {port}: invalid port') from None
    if not 0 < n < 65536:
        raise service_unavailable(f"error trying to reach service: dial tcp: address {port}: invalid port")
    return n


def pod_ip(pod: Obj) -> str:
    ips = (pod.get("status") or {}).get("podIPs") or []
    if ips and isinstance(ips[0], dict):
        return str(ips[0].get("ip", ""))
    return ""


async def pod_target(server: Any, ns: str, ident: str) -> Target:
    """pods/{ident}/proxy: the pod's first IP at the named port, or its first declared port."""
    scheme, name, port, ok = split_scheme_name_port(ident)
    if not ok:
        raise bad_request(f"invalid pod request {go_quote(ident)}")
    pod = await _get(server, "pods", ns, name)
    if port == "":
        for c in (pod.get("spec") or {}).get("containers") or []:
            ports = c.get("ports") or []
            if ports:
                port = str(ports[0].get("containerPort", ""))
                break
    ip = parse_ip(pod_ip(pod))
    if ip is None or not is_global_unicast(ip):
        raise bad_request("address not allowed")
    return Target(scheme or "http", str(ip), _port_number(port) if port else None)


async def service_target(server: Any, ns: str, ident: str) -> Target:
    """services/{ident}/proxy through the service's Endpoints, as upstream picks one."""
    scheme, name, port, ok = split_scheme_name_port(ident)
    if not ok:
        raise bad_request(f"invalid service request {go_quote(ident)}")
    if port.isdigit() or (port.startswith("-") and port[1:].isdigit()):
        number = int(port)
        svc = await _get(server, "services", ns, name)
        for p in (svc.get("spec") or {}).get("ports") or []:
            if p.get("port") == number:
                port = str(p.get("name") or "")
                break
        else:
            raise service_unavailable(f"no service port {number} found for service {go_quote(name)}")
    eps = await _get(server, "endpoints", ns, name)
    subsets = [s for s in eps.get("subsets") or [] if isinstance(s, dict)]
    if not subsets:
        raise service_unavailable(f"no endpoints available for service {go_quote(name)}")
    start = random.randrange(len(subsets))
    for i in range(len(subsets)):
        ss = subsets[(start + i) % len(subsets)]
        addrs = ss.get("addresses") or []
        if not addrs:
            continue
        for p in ss.get("ports") or []:
            if (p.get("name") or "") != port:
                continue
            first = random.randrange(len(addrs))
            for j in range(len(addrs)):
                addr = addrs[(first + j) % len(addrs)]
                if await _valid_address(server, ns, addr):
                    return Target(scheme or "http", str(addr.get("ip", "")), int(p.get("port", 0)))
    raise service_unavailable(f"no endpoints available for service {go_quote(ident)}")


async def _valid_address(server: Any, ns: str, addr: Obj) -> bool:
    """Upstream only proxies to an endpoint address backed by a pod of this namespace that has
    that IP."""
    ref = addr.get("targetRef") or {}
    if not ref or ref.get("namespace") != ns:
        return False
    try:
        pod = await _get(server, "pods", ns, str(ref.get("name", "")))
    except StatusError:
        return False
    return any(isinstance(p, dict) and p.get("ip") == addr.get("ip")
               for p in (pod.get("status") or {}).get("podIPs") or [])


# ------------------------------------------------------------------ kubelet streams


def container_names(pod: Obj) -> list[str]:
    spec = pod.get("spec") or {}
    names = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        names += [str(c.get("name", "")) for c in spec.get(key) or [] if isinstance(c, dict)]
    return names


def validate_container(container: str, pod: Obj) -> str:
    name = (pod.get("metadata") or {}).get("name", "")
    if not container:
        containers = (pod.get("spec") or {}).get("containers") or []
        if len(containers) == 1:
            return str(containers[0].get("name", ""))
        if not containers:
            raise bad_request(f"a container name must be specified for pod {name}")
        raise bad_request(f"a container name must be specified for pod {name}, choose one of: "
                          f"[{' '.join(container_names(pod))}]")
    if container not in container_names(pod):
        raise bad_request(f"container {container} is not valid for pod {name}")
    return container


async def kubelet_target(server: Any, node_name: str, path: str, params: list[tuple[str, str]],
                         skip_verify: bool = False) -> Target:
    host, port = await node_connection(server, node_name)
    return Target("https", host, port, path=path, query=urlencode(params), kubelet=True,
                  skip_verify=skip_verify)


async def log_target(server: Any, ns: str, name: str, container: str, params: list[tuple[str, str]],
                     skip_verify: bool) -> Target | None:
    """The kubelet's containerLogs URL; None when the pod has no node yet (upstream: 204)."""
    pod = await _get(server, "pods", ns, name)
    container = validate_container(container, pod)
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    if not node_name:
        return None
    path = f"/containerLogs/{quote(ns)}/{quote(name)}/{quote(container)}"
    return await kubelet_target(server, node_name, path, params, skip_verify)


async def stream_target(server: Any, kind: str, ns: str, name: str, container: str,
                        params: list[tuple[str, str]]) -> Target:
    """exec / attach (a container) and portForward (the pod) on the pod's kubelet."""
    pod = await _get(server, "pods", ns, name)
    if kind != "portForward":
        container = validate_container(container, pod)
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    if not node_name:
        raise bad_request(f"pod {name} does not have a host assigned")
    path = f"/{kind}/{quote(ns)}/{quote(name)}" + (f"/{quote(container)}" if kind != "portForward" else "")
    return await kubelet_target(server, node_name, path, params)
