"""The `twistd kubeapi` command line: kube-apiserver's flag names and defaults.

Flags may also come from ``--config DIR`` (``DIR/kubeapi.yaml``, keys are the flag names
without dashes); the command line wins over the file.  Every bad value fails here, as a
``usage.UsageError`` with one clear line, before anything listens.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable
from typing import Any

import yaml
from twisted.python import usage

from kubeapi.aggregator import flags as aggregator_flags
from kubeapi.audit.flags import AUDIT_PARAMETERS
from kubeapi.audit.flags import validate as validate_audit
from kubeapi.auth.authn import flags as authn_flags
from kubeapi.flagtypes import boolean as _bool
from kubeapi.flagtypes import duration as _duration
from kubeapi.flagtypes import ip as _ip
from kubeapi.flagtypes import non_negative as _positive_int
from kubeapi.flagtypes import one_of as _one_of
from kubeapi.flagtypes import parse_bool
from kubeapi.flagtypes import port as _port

# Upstream's --authorization-mode names, in upstream's order.  Each but ABAC is implemented
# (kubeapi.auth.authorizer.AUTHORIZER_FACTORIES); ABAC is refused with its own line.
AUTHORIZATION_MODES = ("AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node")

# Upstream's admission plugin names (kube-apiserver v1.33), in their execution order.
ADMISSION_PLUGINS = (
    "AlwaysAdmit", "NamespaceAutoProvision", "NamespaceLifecycle", "NamespaceExists",
    "LimitPodHardAntiAffinityTopology", "LimitRanger", "ServiceAccount", "NodeRestriction",
    "TaintNodesByCondition", "AlwaysPullImages", "ImagePolicyWebhook", "PodSecurity",
    "PodNodeSelector", "Priority", "DefaultTolerationSeconds", "PodTolerationRestriction",
    "EventRateLimit", "ExtendedResourceToleration", "DefaultStorageClass",
    "StorageObjectInUseProtection", "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize", "RuntimeClass", "CertificateApproval", "CertificateSigning",
    "ClusterTrustBundleAttest", "CertificateSubjectRestriction", "DefaultIngressClass",
    "DenyServiceExternalIPs", "PodTopologyLabels", "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook", "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook",
    "ResourceQuota", "AlwaysDeny",
)
# The plugins kube-apiserver enables when --enable-admission-plugins does not name them.
DEFAULT_ADMISSION_PLUGINS = (
    "NamespaceLifecycle", "LimitRanger", "ServiceAccount", "TaintNodesByCondition", "PodSecurity",
    "Priority", "DefaultTolerationSeconds", "DefaultStorageClass", "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize", "RuntimeClass", "CertificateApproval", "CertificateSigning",
    "ClusterTrustBundleAttest", "CertificateSubjectRestriction", "DefaultIngressClass",
    "MutatingAdmissionWebhook", "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook",
    "ResourceQuota",
)

DEFAULT_CERT_DIR = "/var/run/kubernetes"
BOOL_FLAGS = ("anonymous-auth", "enable-priority-and-fairness", *authn_flags.BOOL_FLAGS,
              *aggregator_flags.BOOL_FLAGS)
FILE_FLAGS = ("tls-cert-file", "tls-private-key-file", "client-ca-file", "etcd-cafile",
              "etcd-certfile", "etcd-keyfile", "authorization-webhook-config-file",
              *authn_flags.FILE_FLAGS, "admission-control-config-file",
              *aggregator_flags.FILE_FLAGS,
              "kubelet-client-certificate", "kubelet-client-key", "kubelet-certificate-authority")
# Upstream's NodeAddressTypes, the default order of --kubelet-preferred-address-types.
KUBELET_ADDRESS_TYPES = ("Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP")


def parse_port_range(text: str) -> tuple[int, int]:
    """``30000-32767`` (or a single port, or ``base+size``) → inclusive (low, high)."""
    t = text.strip()
    try:
        if "+" in t:
            base, size = t.split("+", 1)
            low, high = int(base), int(base) + int(size) - 1
        elif "-" in t:
            a, b = t.split("-", 1)
            low, high = int(a), int(b)
        else:
            low = high = int(t)
    except ValueError:
        raise ValueError(f"invalid port range {text!r}") from None
    if not (1 <= low <= high <= 65535):
        raise ValueError(f"invalid port range {text!r}")
    return low, high


def default_advertise_address() -> str:
    """First non-loopback IPv4 address of this host (the one its default route uses)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # UDP connect sends nothing; it only picks a route
            addr = s.getsockname()[0]
            if addr and not addr.startswith("127.") and addr != "0.0.0.0":
                return str(addr)
    except OSError:
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addr = str(info[4][0])
            if not addr.startswith("127."):
                return addr
    except OSError:
        pass
    return "127.0.0.1"


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def _cidr(value: str) -> str:
    parts = _split(value)
    if not parts or len(parts) > 2:
        raise ValueError(f"--service-cluster-ip-range: {value!r} must be one CIDR (or two, dual-stack)")
    out = []
    for p in parts:
        try:
            net = ipaddress.ip_network(p, strict=False)
        except ValueError:
            raise ValueError(f"--service-cluster-ip-range: {p!r} is not a valid CIDR") from None
        if net.num_addresses < 4:
            raise ValueError(f"--service-cluster-ip-range: {p!r} is too small (need at least a /30)")
        out.append(str(net))
    return ",".join(out)


def _node_ports(value: str) -> str:
    try:
        low, high = parse_port_range(value)
    except ValueError:
        raise ValueError(f"--service-node-port-range: {value!r} is not a valid port range "
                         f"(use e.g. 30000-32767)") from None
    return f"{low}-{high}"


# Kept here as plain names so that `twistd kubeapi --help` imports neither the codec nor the
# controllers (kubeapi.registry.codec.MEDIA_TYPES, kubeapi.controllers.bootstrap hold the same).
STORAGE_MEDIA_TYPES = ("application/json", "application/vnd.kubernetes.protobuf")


def _log_level(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"--v: {value!r} is not a log level (an integer)") from None
    if n < 0:
        raise ValueError(f"--v: {n} must not be negative")
    return n


ENDPOINT_RECONCILER_TYPES = ("lease", "none")
LOGGING_FORMATS = ("text", "json")  # kubeapi.logs.LOGGING_FORMATS holds the same


class Options(usage.Options):
    """kube-apiserver's flags (the subset kubeapi serves), parsed by twistd."""

    synopsis = "[options]"
    longdesc = ("Run the Kubernetes API server.  Flags follow kube-apiserver's names; "
                "--config DIR reads DIR/kubeapi.yaml (keys are flag names without dashes), "
                "and flags given on the command line win over the file.")

    optParameters: list[list[Any]] = [
        ["config", None, None, "Directory holding kubeapi.yaml with flag values."],
        ["secure-port", None, 6443, "Port to serve HTTPS on.", _port("secure-port", False)],
        ["bind-address", None, "0.0.0.0", "Address to serve HTTPS on.", _ip("bind-address")],
        ["insecure-port", None, 8080, "Port to serve unauthenticated HTTP on (0 disables).",
         _port("insecure-port", True)],
        ["insecure-bind-address", None, "127.0.0.1", "Address to serve plain HTTP on.",
         _ip("insecure-bind-address")],
        ["advertise-address", None, None,
         "Address published to the cluster (the kubernetes Service's endpoint).",
         _ip("advertise-address")],
        ["cert-dir", None, DEFAULT_CERT_DIR,
         "Where the self-signed serving certificate is written when --tls-cert-file is not given."],
        ["tls-cert-file", None, None, "Serving certificate (PEM, with any intermediates)."],
        ["tls-private-key-file", None, None, "Private key of --tls-cert-file (PEM)."],
        ["client-ca-file", None, None, "CA bundle that signs client certificates."],
        ["service-cluster-ip-range", None, "10.0.0.0/24", "CIDR ClusterIPs are allocated from.",
         _cidr],
        ["service-node-port-range", None, "30000-32767", "Port range NodePorts are allocated from.",
         _node_ports],
        ["etcd-prefix", None, "/registry", "Key prefix of every object in storage."],
        ["etcd-servers", None, "", "Comma-separated etcd URLs; empty = embedded store in --data-dir."],
        ["etcd-cafile", None, None, "CA that signs the etcd servers' certificates."],
        ["etcd-certfile", None, None, "Client certificate for etcd."],
        ["etcd-keyfile", None, None, "Client key for etcd."],
        ["etcd-compaction-interval", None, 300.0, "How often to compact storage history (e.g. 5m).",
         _duration("etcd-compaction-interval")],
        ["storage-media-type", None, "application/json", "Encoding of stored objects.",
         _one_of("storage-media-type", STORAGE_MEDIA_TYPES)],
        ["data-dir", None, "./data", "Directory of the embedded store."],
        ["workers", None, 1, "Processes serving the same ports (SO_REUSEPORT), one per core to use; "
         "more than one needs --etcd-servers.", _positive_int("workers")],
        ["encryption-provider-config", None, None,
         "EncryptionConfiguration file: which resources are encrypted at rest, and how."],
        ["authorization-mode", None, "AlwaysAllow", "Comma-separated authorizers, in order."],
        ["authorization-webhook-config-file", None, None,
         "Kubeconfig of the SubjectAccessReview webhook (--authorization-mode=Webhook)."],
        ["authorization-webhook-version", None, "v1", "authorization.k8s.io version sent to the webhook.",
         _one_of("authorization-webhook-version", ("v1", "v1beta1"))],
        ["authorization-webhook-cache-authorized-ttl", None, 300.0,
         "How long to cache allowed webhook answers (e.g. 5m0s).",
         _duration("authorization-webhook-cache-authorized-ttl")],
        ["authorization-webhook-cache-unauthorized-ttl", None, 30.0,
         "How long to cache other webhook answers (e.g. 30s).",
         _duration("authorization-webhook-cache-unauthorized-ttl")],
        ["anonymous-auth", None, True, "Serve unauthenticated requests as system:anonymous.",
         _bool("anonymous-auth")],
        ["enable-admission-plugins", None, "", "Admission plugins to turn on besides the defaults."],
        ["disable-admission-plugins", None, "", "Admission plugins to turn off."],
        ["admission-control-config-file", None, None,
         "AdmissionConfiguration (apiserver.config.k8s.io/v1) with per-plugin configuration."],
        ["max-requests-inflight", None, 400, "Limit on concurrent non-mutating requests (0 = none).",
         _positive_int("max-requests-inflight")],
        ["max-mutating-requests-inflight", None, 200,
         "Limit on concurrent mutating requests (0 = none).",
         _positive_int("max-mutating-requests-inflight")],
        ["shutdown-delay-duration", None, 0.0,
         "On SIGTERM, keep serving this long with /readyz failing, so load balancers drain us.",
         _duration("shutdown-delay-duration")],
        ["request-timeout", None, 60.0, "Default deadline of a non-watch request (e.g. 1m0s).",
         _duration("request-timeout")],
        ["min-request-timeout", None, 1800, "Minimum watch timeout in seconds (randomised up to 2x).",
         _positive_int("min-request-timeout")],
        ["endpoint-reconciler-type", None, "lease",
         "How the kubernetes Service's endpoints are kept: lease (every live server), none.",
         _one_of("endpoint-reconciler-type", ENDPOINT_RECONCILER_TYPES)],
        ["v", "v", 0, "Log verbosity.", _log_level],
        *authn_flags.PARAMETERS,
        ["logging-format", None, "text", "Log format: text (klog-style lines) or json.",
         _one_of("logging-format", LOGGING_FORMATS)],
        ["enable-priority-and-fairness", None, True,
         "Classify and queue requests by FlowSchemas and PriorityLevelConfigurations; false keeps "
         "the plain max-in-flight limits.", _bool("enable-priority-and-fairness")],
        ["enable-namespace-controller", None, True,
         "Run the built-in namespace controller (off when kube-controller-manager runs one).",
         _bool("enable-namespace-controller")],
        *AUDIT_PARAMETERS,
        *aggregator_flags.PARAMETERS,
        ["kubelet-preferred-address-types", None, ",".join(KUBELET_ADDRESS_TYPES),
         "List of the preferred NodeAddressTypes to use for kubelet connections."],
        ["kubelet-client-certificate", None, None, "Path to a client cert file for TLS (to kubelets)."],
        ["kubelet-client-key", None, None, "Path to a client key file for TLS (to kubelets)."],
        ["kubelet-certificate-authority", None, None,
         "Path to a cert file for the certificate authority of kubelets' serving certificates; "
         "without it kubelet certificates are not verified."],
        ["kubelet-timeout", None, 5.0, "Timeout for kubelet operations (connecting to a kubelet).",
         _duration("kubelet-timeout")],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.explicit: set[str] = set()  # flags the user gave (file or command line)
        self.config_file: str | None = None
        self.argv: list[str] = []
        for flag in authn_flags.MULTI_FLAGS:
            self[flag] = []

    def opt_log_level(self, value: str) -> None:
        """Same as --v."""
        try:
            self["v"] = _log_level(value)
        except ValueError as e:
            raise usage.UsageError(str(e).replace("--v", "--log-level")) from None

    def parseOptions(self, options: list[str] | None = None) -> None:
        """Parse, failing with one clear line: a UsageError when called directly, and under
        twistd (which would print its whole usage first) that line on stderr and exit 1."""
        import sys

        try:
            self._parse(list(sys.argv[1:] if options is None else options))
        except usage.UsageError as e:
            if getattr(self, "parent", None) is None:
                raise
            raise SystemExit(f"kubeapi: {e}") from None

    def _parse(self, argv: list[str]) -> None:
        self.argv = list(argv)  # as given: --workers starts its other workers with these
        argv = self._expand_bools(argv)
        config_dir = self._find_config(argv)
        file_args = self._read_config(config_dir) if config_dir else []
        self.explicit = {self._flag_name(a) for a in file_args + argv if a.startswith("--")}
        try:
            super().parseOptions(file_args + argv)
        except usage.UsageError as e:
            raise usage.UsageError(_unwrap(str(e))) from None

    @staticmethod
    def _flag_name(arg: str) -> str:
        return arg[2:].split("=", 1)[0]

    @staticmethod
    def _expand_bools(argv: list[str]) -> list[str]:
        """pflag lets a bool flag stand alone (``--anonymous-auth``); getopt wants a value."""
        out = []
        for i, a in enumerate(argv):
            name = a[2:] if a.startswith("--") else ""
            if name in BOOL_FLAGS:
                nxt = argv[i + 1] if i + 1 < len(argv) else ""
                try:
                    parse_bool(nxt)
                    out.append(a)  # "--anonymous-auth false" keeps its value
                except ValueError:
                    out.append(a + "=true")
            else:
                out.append(a)
        return out

    @staticmethod
    def _find_config(argv: list[str]) -> str | None:
        found = None
        for i, a in enumerate(argv):
            if a == "--":
                break
            if a.startswith("--config="):
                found = a.split("=", 1)[1]
            elif a == "--config":
                if i + 1 >= len(argv):
                    raise usage.UsageError("--config requires a directory")
                found = argv[i + 1]
        return found

    def _read_config(self, directory: str) -> list[str]:
        """``DIR/kubeapi.yaml`` as ``--key=value`` arguments placed before the command line."""
        path = os.path.join(directory, "kubeapi.yaml")
        self.config_file = path
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except OSError as e:
            raise usage.UsageError(f"--config: cannot read {path}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise usage.UsageError(f"--config: {path} is not valid YAML: {_first_line(str(e))}") from None
        if data is None:
            return []
        if not isinstance(data, dict):
            raise usage.UsageError(f"--config: {path} must be a mapping of flag names to values")
        known = {p[0] for p in self.optParameters} | {"log-level", *authn_flags.MULTI_FLAGS}
        args = []
        for key, value in data.items():
            k = str(key)
            if k not in known or k == "config":
                raise usage.UsageError(f"--config: {path}: unknown key {k!r}")
            if value is None:
                continue
            if k in authn_flags.MULTI_FLAGS:
                args += [f"--{k}={v}" for v in (value if isinstance(value, list) else [value])]
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, list):
                text = ",".join(str(v) for v in value)
            else:
                text = str(value)
            args.append(f"--{k}={text}")
        return args

    def postOptions(self) -> None:
        modes = _split(self["authorization-mode"])
        if not modes:
            raise usage.UsageError("--authorization-mode: at least one mode is required")
        for m in modes:
            if m not in AUTHORIZATION_MODES:
                raise usage.UsageError(f"--authorization-mode: {m!r} is not a valid mode "
                                       f"(valid: {', '.join(AUTHORIZATION_MODES)})")
        if len(set(modes)) != len(modes):
            raise usage.UsageError("--authorization-mode: a mode may only be given once")
        if "ABAC" in modes:
            raise usage.UsageError("--authorization-mode: ABAC is not supported by kubeapi")
        if "Webhook" in modes and not self["authorization-webhook-config-file"]:
            raise usage.UsageError("--authorization-mode=Webhook requires --authorization-webhook-config-file")
        self["authorization-mode"] = modes
        for flag in ("enable-admission-plugins", "disable-admission-plugins"):
            names = _split(self[flag])
            for n in names:
                if n not in ADMISSION_PLUGINS:
                    raise usage.UsageError(f"--{flag}: plugin {n!r} is unknown")
            self[flag] = names
        both = set(self["enable-admission-plugins"]) & set(self["disable-admission-plugins"])
        if both:
            raise usage.UsageError(f"--enable-admission-plugins and --disable-admission-plugins "
                                   f"both name {sorted(both)[0]!r}")
        self["etcd-servers"] = _split(self["etcd-servers"])
        for url in self["etcd-servers"]:
            if not re.match(r"^(https?|unix|unixs)://[^\s]+$", url):
                raise usage.UsageError(f"--etcd-servers: {url!r} is not a URL (e.g. https://127.0.0.1:2379)")
        if self["workers"] < 1:
            raise usage.UsageError("--workers: must be at least 1")
        if self["workers"] > 1 and not self["etcd-servers"]:
            raise usage.UsageError("--workers: more than one worker needs --etcd-servers "
                                   "(the embedded store belongs to one process)")
        if not self["etcd-prefix"].startswith("/"):
            raise usage.UsageError(f"--etcd-prefix: {self['etcd-prefix']!r} must start with '/'")
        for flag in FILE_FLAGS:
            path = self[flag]
            if path and not os.access(path, os.R_OK):
                raise usage.UsageError(f"--{flag}: cannot read {path}")
        if bool(self["tls-cert-file"]) != bool(self["tls-private-key-file"]):
            raise usage.UsageError("--tls-cert-file and --tls-private-key-file must be given together")
        if bool(self["etcd-certfile"]) != bool(self["etcd-keyfile"]):
            raise usage.UsageError("--etcd-certfile and --etcd-keyfile must be given together")
        self._check_kubelet()
        if self["advertise-address"] is None:
            bind = self["bind-address"]
            if bind not in ("0.0.0.0", "::") and not bind.startswith("127."):
                self["advertise-address"] = bind
            else:
                self["advertise-address"] = default_advertise_address()
        if self["secure-port"] == self["insecure-port"]:
            raise usage.UsageError("--secure-port and --insecure-port must differ")
        try:
            authn_flags.check(self)
            aggregator_flags.check(self)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        audit_errors = validate_audit(self)
        if audit_errors:
            raise usage.UsageError(audit_errors[0])

    def _check_kubelet(self) -> None:
        types = _split(self["kubelet-preferred-address-types"])
        if not types:
            raise usage.UsageError("--kubelet-preferred-address-types: at least one type is required")
        for t in types:
            if t not in KUBELET_ADDRESS_TYPES:
                raise usage.UsageError(f"--kubelet-preferred-address-types: {t!r} is not a node address type "
                                       f"(valid: {', '.join(KUBELET_ADDRESS_TYPES)})")
        self["kubelet-preferred-address-types"] = types
        if bool(self["kubelet-client-certificate"]) != bool(self["kubelet-client-key"]):
            raise usage.UsageError("--kubelet-client-certificate and --kubelet-client-key must be given together")

    # Derived values other modules read.
    def service_cidrs(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(c) for c in self["service-cluster-ip-range"].split(",")]

    def node_port_range(self) -> tuple[int, int]:
        return parse_port_range(self["service-node-port-range"])

    def admission_plugins(self) -> list[str]:
        """The enabled plugin names, in upstream's execution order."""
        on = set(DEFAULT_ADMISSION_PLUGINS) | set(self["enable-admission-plugins"])
        on -= set(self["disable-admission-plugins"])
        return [p for p in ADMISSION_PLUGINS if p in on]


def _multi(flag: str) -> Callable[[Options, str], None]:
    def opt(self: Options, value: str) -> None:
        self[flag] = [*self[flag], value]
    opt.__doc__ = authn_flags.MULTI_HELP[flag]
    return opt


for _flag in authn_flags.MULTI_FLAGS:
    setattr(Options, "opt_" + _flag.replace("-", "_"), _multi(_flag))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _unwrap(message: str) -> str:
    """Drop twisted's 'Parameter type enforcement failed: ' prefix from our own messages."""
    prefix = "Parameter type enforcement failed: "
    if message.startswith(prefix):
        return message[len(prefix):]
    if message.startswith("option --") and message.endswith("not recognized"):
        return f"unknown flag: {message.split()[1]}"
    return message
