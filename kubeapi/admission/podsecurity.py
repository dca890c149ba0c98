"""PodSecurity: the namespace labels ``pod-security.kubernetes.io/{enforce,warn,audit}`` pick a
Pod Security Standard (privileged, baseline, restricted); a pod violating the enforced level is
refused with upstream's ``violates PodSecurity "<level>:<version>": ...`` and the warn level's
violations come back as Warning headers.  The most important controls of each level are checked,
in upstream's order; see BASELINE and RESTRICTED."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeapi import errors
from kubeapi.admission.context import PluginContext
from kubeapi.admission.interface import Attributes
from kubeapi.admission.podutil import display_name, is_core

Obj = dict[str, Any]
LEVELS = ("privileged", "baseline", "restricted")
LABEL = "pod-security.kubernetes.io/"
BASELINE_CAPS = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                           "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})


def _containers(spec: Obj) -> list[Obj]:
    return [c for part in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(part) or [] if isinstance(c, dict)]


def _plural(one: str, many: str, n: int) -> str:
    return one if n == 1 else many


def _quote(items: list[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def _sc(c: Obj) -> Obj:
    return c.get("securityContext") or {}


def allow_privilege_escalation(spec: Obj) -> tuple[str, str] | None:
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    if bad:
        return ("allowPrivilegeEscalation != false", f"{_plural('container', 'containers', len(bad))} {_quote(bad)} "
                "must set securityContext.allowPrivilegeEscalation=false")
    return None


def capabilities_baseline(spec: Obj) -> tuple[str, str] | None:
    bad, caps = [], set()
    for c in _containers(spec):
        added = [a for a in (_sc(c).get("capabilities") or {}).get("add") or [] if a not in BASELINE_CAPS]
        if added:
            bad.append(c.get("name", ""))
            caps.update(added)
    if bad:
        return ("non-default capabilities", f"{_plural('container', 'containers', len(bad))} {_quote(bad)} must not "
                f"include {_quote(sorted(caps))} in securityContext.capabilities.add")
    return None


def capabilities_restricted(spec: Obj) -> tuple[str, str] | None:
    missing, adding, caps = [], [], set()
    for c in _containers(spec):
        capab = _sc(c).get("capabilities") or {}
        if "ALL" not in (capab.get("drop") or []):
            missing.append(c.get("name", ""))
        added = [a for a in capab.get("add") or [] if a != "NET_BIND_SERVICE"]
        if added:
            adding.append(c.get("name", ""))
            caps.update(added)
    details = []
    if missing:
        details.append(f"{_plural('container', 'containers', len(missing))} {_quote(missing)} must set "
                       'securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{_plural('container', 'containers', len(adding))} {_quote(adding)} must not include "
                       f"{_quote(sorted(caps))} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def host_namespaces(spec: Obj) -> tuple[str, str] | None:
    used = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return ("host namespaces", ", ".join(used)) if used else None


def host_path_volumes(spec: Obj) -> tuple[str, str] | None:
    vols = [v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict) and v.get("hostPath")]
    return ("hostPath volumes", f"{_plural('volume', 'volumes', len(vols))} {_quote(vols)}") if vols else None


def host_ports(spec: Obj) -> tuple[str, str] | None:
    bad, ports = [], set()
    for c in _containers(spec):
        used = [str(p["hostPort"]) for p in c.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")]
        if used:
            bad.append(c.get("name", ""))
            ports.update(used)
    if bad:
        return ("hostPort", f"{_plural('container', 'containers', len(bad))} {_quote(bad)} "
                f"{_plural('uses', 'use', len(bad))} {_plural('hostPort', 'hostPorts', len(ports))} "
                f"{', '.join(sorted(ports))}")
    return None


def privileged(spec: Obj) -> tuple[str, str] | None:
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("privileged") is True]
    if bad:
        return ("privileged", f"{_plural('container', 'containers', len(bad))} {_quote(bad)} must not set "
                "securityContext.privileged=true")
    return None


def run_as_non_root(spec: Obj) -> tuple[str, str] | None:
    pod_sc = spec.get("securityContext") or {}
    setters = []
    pod_ok = False
    if pod_sc.get("runAsNonRoot") is False:
        setters.append("pod")
    elif pod_sc.get("runAsNonRoot") is True:
        pod_ok = True
    explicit, implicit = [], []
    for c in _containers(spec):
        v = _sc(c).get("runAsNonRoot")
        if v is False:
            explicit.append(c.get("name", ""))
        elif v is None and not pod_ok:
            implicit.append(c.get("name", ""))
    if explicit:
        setters.append(f"{_plural('container', 'containers', len(explicit))} {_quote(explicit)}")
    if setters:
        return ("runAsNonRoot != true", f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false")
    if implicit:
        return ("runAsNonRoot != true", f"pod or {_plural('container', 'containers', len(implicit))} "
                f"{_quote(implicit)} must set securityContext.runAsNonRoot=true")
    return None


def seccomp_restricted(spec: Obj) -> tuple[str, str] | None:
    ok_types = ("RuntimeDefault", "Localhost")
    pod_type = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    setters, bad_values = [], set()
    if pod_type is not None and pod_type not in ok_types:
        setters.append("pod")
        bad_values.add(pod_type)
    explicit, implicit = [], []
    for c in _containers(spec):
        t = (_sc(c).get("seccompProfile") or {}).get("type")
        if t is not None and t not in ok_types:
            explicit.append(c.get("name", ""))
            bad_values.add(t)
        elif t is None and pod_type not in ok_types:
            implicit.append(c.get("name", ""))
    if explicit:
        setters.append(f"{_plural('container', 'containers', len(explicit))} {_quote(explicit)}")
    if setters:
        return ("seccompProfile", f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
                f"{_quote(sorted(bad_values))}")
    if implicit:
        return ("seccompProfile", f"pod or {_plural('container', 'containers', len(implicit))} {_quote(implicit)} "
                'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"')
    return None


_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                    "persistentVolumeClaim", "projected", "secret")


def restricted_volumes(spec: Obj) -> tuple[str, str] | None:
    bad, types = [], set()
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        kinds = [k for k in v if k != "name"]
        if any(k in _ALLOWED_VOLUMES for k in kinds):
            continue
        bad.append(v.get("name", ""))
        types.add(kinds[0] if kinds else "unknown")
    if bad:
        return ("restricted volume types", f"{_plural('volume', 'volumes', len(bad))} {_quote(bad)} "
                f"{_plural('uses', 'use', len(bad))} "
                f"{_plural('restricted volume type', 'restricted volume types', len(types))} {_quote(sorted(types))}")
    return None


Check = Callable[[Obj], tuple[str, str] | None]
# Upstream evaluates baseline checks, then restricted ones, each sorted by check id; at the
# restricted level some restricted checks replace a baseline one.
BASELINE: list[tuple[str, Check]] = sorted([
    ("capabilities_baseline", capabilities_baseline), ("hostNamespaces", host_namespaces),
    ("hostPathVolumes", host_path_volumes), ("hostPorts", host_ports), ("privileged", privileged)])
RESTRICTED: list[tuple[str, Check]] = sorted([
    ("allowPrivilegeEscalation", allow_privilege_escalation), ("capabilities_restricted", capabilities_restricted),
    ("restrictedVolumes", restricted_volumes), ("runAsNonRoot", run_as_non_root),
    ("seccompProfile_restricted", seccomp_restricted)])
OVERRIDES = {"capabilities_baseline", "hostPathVolumes"}  # replaced by capabilities_restricted, restrictedVolumes


def evaluate(level: str, spec: Obj) -> str:
    """The aggregated forbidden detail for a level ('' when the pod meets it)."""
    if level == "baseline":
        checks = BASELINE
    elif level == "restricted":
        checks = [c for c in BASELINE if c[0] not in OVERRIDES] + RESTRICTED
    else:
        return ""
    parts = []
    for _, check in checks:
        res = check(spec)
        if res is not None:
            reason, detail = res
            parts.append(f"{reason} ({detail})" if detail else reason)
    return ", ".join(parts)


def policy(labels: dict[str, str], mode: str) -> tuple[str, str]:
    level = labels.get(LABEL + mode, "privileged")
    version = labels.get(LABEL + mode + "-version", "latest") or "latest"
    return (level if level in LEVELS else "privileged", version)


class PodSecurity:
    name = "PodSecurity"

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        conf = ctx.config.get("PodSecurity") or {}
        defaults = conf.get("defaults") or {}
        self._defaults = {m: (defaults.get(m, "privileged"), defaults.get(m + "-version", "latest"))
                          for m in ("enforce", "warn", "audit")}
        ex = conf.get("exemptions") or {}
        self._exempt_ns = set(ex.get("namespaces") or [])
        self._exempt_users = set(ex.get("usernames") or [])

    async def admit(self, attrs: Attributes) -> None:
        return None

    async def validate(self, attrs: Attributes) -> None:
        if not is_core(attrs, "pods") or not isinstance(attrs.object, dict):
            return
        if attrs.subresource not in ("", "ephemeralcontainers") or attrs.operation not in ("CREATE", "UPDATE"):
            return
        if attrs.namespace in self._exempt_ns or (attrs.user is not None and attrs.user.name in self._exempt_users):
            return
        if attrs.operation == "UPDATE" and attrs.subresource == "" and attrs.old_object is not None:
            # Only spec changes are re-evaluated (metadata/status updates of running pods are allowed).
            if (attrs.object.get("spec") or {}) == (attrs.old_object.get("spec") or {}):
                return
        ns = await self._ctx.get("namespaces", "", attrs.namespace) or {}
        labels = (ns.get("metadata") or {}).get("labels") or {}
        spec = attrs.object.get("spec") or {}
        enforce = policy(labels, "enforce") if LABEL + "enforce" in labels else self._defaults["enforce"]
        detail = evaluate(enforce[0], spec)
        if detail:
            raise errors.forbidden("pods", "", display_name(attrs),
                                   f'violates PodSecurity "{enforce[0]}:{enforce[1]}": {detail}')
        warn = policy(labels, "warn") if LABEL + "warn" in labels else self._defaults["warn"]
        detail = evaluate(warn[0], spec)
        if detail:
            attrs.warnings.append(f'would violate PodSecurity "{warn[0]}:{warn[1]}": {detail}')
