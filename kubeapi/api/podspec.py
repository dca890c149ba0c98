"""PodSpec rules shared by pods and every workload template (deployments, replicasets,
statefulsets, daemonsets, jobs, cronjobs, replicationcontrollers, podtemplates):
defaulting, validation, immutability on pod update, and the QoS class."""

from __future__ import annotations

import re
from typing import Any

from kubeapi.api.validation import (
    QUANTITY_MSG,
    Errors,
    check_enum,
    check_non_negative,
    check_port,
    check_positive,
    check_protocol,
    check_string_map,
    dns1123_label,
    dns1123_subdomain,
    duplicate,
    each_object,
    forbidden,
    get,
    invalid,
    is_quantity,
    not_supported,
    quantity_value,
    required,
    type_invalid,
    validate_annotations,
    validate_labels,
)
from kubeapi.jsontypes import deep_copy

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")

# ---------------------------------------------------------------- defaulting


def _default_probe(p: Any) -> None:
    if not isinstance(p, dict):
        return
    p.setdefault("timeoutSeconds", 1)
    p.setdefault("periodSeconds", 10)
    p.setdefault("successThreshold", 1)
    p.setdefault("failureThreshold", 3)
    hg = p.get("httpGet")
    if isinstance(hg, dict):
        hg.setdefault("path", "/")
        hg.setdefault("scheme", "HTTP")


def image_pull_policy(image: str) -> str:
    """Always for ``:latest`` or untagged images, else IfNotPresent (digests count as tags)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def default_container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if "imagePullPolicy" not in c and isinstance(c.get("image"), str):
        c["imagePullPolicy"] = image_pull_policy(c["image"])
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        fr = get(env, "valueFrom.fieldRef")
        if isinstance(fr, dict):
            fr.setdefault("apiVersion", "v1")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(key))


def _default_volume(v: Any) -> None:
    if not isinstance(v, dict):
        return
    for src in ("configMap", "secret", "downwardAPI", "projected"):
        if isinstance(v.get(src), dict):
            v[src].setdefault("defaultMode", 420)
    if isinstance(v.get("hostPath"), dict):
        v["hostPath"].setdefault("type", "")
    if v.keys() == {"name"}:
        v["emptyDir"] = {}


def default_pod_spec(spec: Any) -> None:
    """SetDefaults_PodSpec and the containers inside, applied to pods and templates alike."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    host_net = bool(spec.get("hostNetwork"))
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            default_container(c)
            if host_net and isinstance(c, dict):
                for p in c.get("ports") or []:
                    if isinstance(p, dict) and "hostPort" not in p and "containerPort" in p:
                        p["hostPort"] = p["containerPort"]
    for v in spec.get("volumes") or []:
        _default_volume(v)
    # The deprecated alias mirrors serviceAccountName in v1 output.
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    elif spec.get("serviceAccount") and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"]


def default_pod_template(tmpl: Any) -> None:
    if isinstance(tmpl, dict):
        default_pod_spec(tmpl.get("spec"))


def default_requests_from_limits(spec: Any) -> None:
    """Pods only: a container's requests default to its limits (SetDefaults_Pod)."""
    if not isinstance(spec, dict):
        return
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            res = c.get("resources") if isinstance(c, dict) else None
            if isinstance(res, dict) and isinstance(res.get("limits"), dict):
                req = res.setdefault("requests", {})
                for name, val in res["limits"].items():
                    req.setdefault(name, val)


# ---------------------------------------------------------------- QoS


def qos_class(spec: Any) -> str:
    """BestEffort / Burstable / Guaranteed as the kubelet and apiserver compute it."""
    containers = list(get(spec, "containers", []) or []) + list(get(spec, "initContainers", []) or [])
    requests: dict[str, float] = {}
    limits: dict[str, float] = {}
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {} if isinstance(c, dict) else {}
        req = {k: v for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")}
        lim = {k: v for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")}
        for k, v in req.items():
            if _q(v) != 0:
                requests[k] = requests.get(k, 0) + _q(v)
        for k, v in lim.items():
            if _q(v) != 0:
                limits[k] = limits.get(k, 0) + _q(v)
        if set(lim) != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(requests.get(k) == limits.get(k) for k in ("cpu", "memory")) \
            and set(requests) == {"cpu", "memory"}:
        return "Guaranteed"
    return "Burstable"


def _q(v: Any) -> float:
    try:
        return quantity_value(v)
    except ValueError:
        return 0.0


# ---------------------------------------------------------------- validation

_IANA_SVC = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[^=]+$")


def port_name(name: str) -> list[str]:
    """IANA_SVC_NAME rules for named ports."""
    out = []
    if len(name) > 15:
        out.append("must be no more than 15 characters")
    if not _IANA_SVC.match(name):
        out.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        out.append("must not contain consecutive hyphens")
    if not re.search("[a-z]", name):
        out.append("must contain at least one letter (a-z)")
    return out


def _validate_resources(res: Any, p: str) -> Errors:
    if res is None:
        return []
    if not isinstance(res, dict):
        return [type_invalid(p, res, "must be an object")]
    errs: Errors = []
    for part in ("limits", "requests"):
        vals = res.get(part) or {}
        if not isinstance(vals, dict):
            errs.append(type_invalid(f"{p}.{part}", vals, "must be an object"))
            continue
        for k, v in vals.items():
            if not is_quantity(v):
                errs.append(invalid(f"{p}.{part}[{k}]", v, QUANTITY_MSG))
            elif _q(v) < 0:
                errs.append(invalid(f"{p}.{part}[{k}]", v, "must be greater than or equal to 0"))
    lim = res.get("limits") or {}
    req = res.get("requests") or {}
    if isinstance(lim, dict) and isinstance(req, dict):
        for k, v in req.items():
            if k in lim and is_quantity(v) and is_quantity(lim[k]) and _q(v) > _q(lim[k]):
                errs.append(invalid(f"{p}.requests", v,
                                    f"must be less than or equal to {k} limit of {lim[k]}"))
    return errs


def _validate_container(c: Any, p: str, volumes: set[str], init: bool = False) -> Errors:
    if not isinstance(c, dict):
        return [type_invalid(p, c, "must be an object")]
    errs: Errors = []
    name = c.get("name")
    if not name:
        errs.append(required(f"{p}.name"))
    elif isinstance(name, str):
        for msg in dns1123_label(name):
            errs.append(invalid(f"{p}.name", name, msg))
    if not c.get("image"):
        errs.append(required(f"{p}.image"))
    elif not isinstance(c["image"], str):
        errs.append(type_invalid(f"{p}.image", c["image"], "must be a string"))
    elif c["image"] != c["image"].strip():
        errs.append(invalid(f"{p}.image", c["image"], "must not have leading or trailing whitespace"))
    errs += check_enum(c.get("imagePullPolicy"), f"{p}.imagePullPolicy", PULL_POLICIES)
    errs += check_enum(c.get("terminationMessagePolicy"), f"{p}.terminationMessagePolicy",
                       TERMINATION_MESSAGE_POLICIES)
    port_names: set[str] = set()
    for pp, port in each_object(c.get("ports") or [], f"{p}.ports", errs):
        if "containerPort" not in port:
            errs.append(required(f"{pp}.containerPort"))
        else:
            errs += check_port(port["containerPort"], f"{pp}.containerPort")
        if port.get("hostPort") not in (None, 0):
            errs += check_port(port["hostPort"], f"{pp}.hostPort")
        errs += check_protocol(port.get("protocol"), f"{pp}.protocol")
        pn = port.get("name")
        if pn:
            for msg in port_name(str(pn)):
                errs.append(invalid(f"{pp}.name", pn, msg))
            if pn in port_names:
                errs.append(duplicate(f"{pp}.name", pn))
            port_names.add(pn)
    for ep, env in each_object(c.get("env") or [], f"{p}.env", errs):
        en = env.get("name")
        if not en:
            errs.append(required(f"{ep}.name"))
        elif not isinstance(en, str) or not _ENV_NAME.match(en):
            errs.append(invalid(f"{ep}.name", en,
                                "a valid environment variable name must consist only of printable "
                                "ASCII characters other than '='"))
        if "value" in env and env.get("valueFrom"):
            errs.append(invalid(f"{ep}.valueFrom", "",
                                "may not be specified when `value` is not empty"))
    mount_paths: set[str] = set()
    for vp, vm in each_object(c.get("volumeMounts") or [], f"{p}.volumeMounts", errs):
        vn = vm.get("name")
        if not vn:
            errs.append(required(f"{vp}.name"))
        elif vn not in volumes:
            errs.append(_not_found(f"{vp}.name", vn))
        mp = vm.get("mountPath")
        if not mp:
            errs.append(required(f"{vp}.mountPath"))
        elif mp in mount_paths:
            errs.append(invalid(f"{vp}.mountPath", mp, "must be unique"))
        else:
            mount_paths.add(mp)
    errs += _validate_resources(c.get("resources"), f"{p}.resources")
    if not init and c.get("restartPolicy") is not None:
        errs.append(forbidden(f"{p}.restartPolicy",
                              "may not be set for non-init containers"))
    return errs


def _not_found(field: str, value: Any) -> Any:
    from kubeapi.api.types import FieldError

    return FieldError("FieldValueNotFound", field, "", value, True)


# Upstream's validateSysctls (pkg/apis/core/validation) and utilsysctl.GetNamespace
# (k8s.io/component-helpers/node/util/sysctl).
SYSCTL_MAX_LENGTH = 253
_SYSCTL_SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
SYSCTL_PATTERN = "^(" + _SYSCTL_SEGMENT + "[\\./])*" + _SYSCTL_SEGMENT + "$"
_SYSCTL_RE = re.compile(SYSCTL_PATTERN)
_IPC_SYSCTLS = frozenset(("kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
                          "kernel.shm", "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.msg"))


def sysctl_namespace(name: str) -> str:
    """"Net", "IPC" or "" (not namespaced), as utilsysctl.GetNamespace: slash-separated
    names normalized to dots, a ``*`` ends the name (a prefix)."""
    sep = re.search(r"[./]", name)
    if sep and sep.group() == "/":
        name = name.translate(str.maketrans("./", "/."))
    name = name.split("*", 1)[0]
    if name in _IPC_SYSCTLS or name.startswith("fs.mqueue."):
        return "IPC"
    return "Net" if name.startswith("net.") else ""


def _validate_sysctls(spec: Any, p: str) -> Errors:
    sc = spec.get("securityContext")
    sysctls = sc.get("sysctls") if isinstance(sc, dict) else None
    if not sysctls or not isinstance(sysctls, list):
        return []
    errs: Errors = []
    seen: set[str] = set()
    for i, s in enumerate(sysctls):
        if not isinstance(s, dict):
            continue
        name, fp = str(s.get("name") or ""), f"{p}.securityContext.sysctls[{i}].name"
        if not name:
            errs.append(required(fp))
        elif len(name) > SYSCTL_MAX_LENGTH or not _SYSCTL_RE.fullmatch(name):
            errs.append(invalid(fp, name, f"must have at most {SYSCTL_MAX_LENGTH} characters and match regex "
                                          f"{SYSCTL_PATTERN}"))
        elif name in seen:
            errs.append(duplicate(fp, name))
        ns = sysctl_namespace(name)
        if ns == "Net" and spec.get("hostNetwork"):
            errs.append(invalid(fp, name, "may not be specified when 'hostNetwork' is true"))
        elif ns == "IPC" and spec.get("hostIPC"):
            errs.append(invalid(fp, name, "may not be specified when 'hostIPC' is true"))
        seen.add(name)
    return errs


def validate_pod_spec(spec: Any, p: str = "spec") -> Errors:
    """Validation of a PodSpec at path ``p`` (``spec`` or ``spec.template.spec``)."""
    if spec is None:
        return [required(p)]
    if not isinstance(spec, dict):
        return [type_invalid(p, spec, "must be an object")]
    errs: Errors = []
    volumes: set[str] = set()
    for vp, v in each_object(spec.get("volumes") or [], f"{p}.volumes", errs):
        vn = v.get("name")
        if not vn:
            errs.append(required(f"{vp}.name"))
            continue
        for msg in dns1123_label(str(vn)):
            errs.append(invalid(f"{vp}.name", vn, msg))
        if vn in volumes:
            errs.append(duplicate(f"{vp}.name", vn))
        volumes.add(vn)
    containers = spec.get("containers")
    if not containers:
        errs.append(required(f"{p}.containers"))
    elif not isinstance(containers, list):
        errs.append(type_invalid(f"{p}.containers", containers, "must be an array"))
        containers = []
    names: set[str] = set()
    for key, init in (("initContainers", True), ("containers", False)):
        items = spec.get(key) or []
        if not isinstance(items, list):
            continue
        for i, c in enumerate(items):
            cp = f"{p}.{key}[{i}]"
            errs += _validate_container(c, cp, volumes, init)
            n = c.get("name") if isinstance(c, dict) else None
            if n:
                if n in names:
                    errs.append(duplicate(f"{cp}.name", n))
                names.add(n)
    errs += check_enum(spec.get("restartPolicy"), f"{p}.restartPolicy", RESTART_POLICIES)
    errs += check_enum(spec.get("dnsPolicy"), f"{p}.dnsPolicy", DNS_POLICIES)
    errs += check_non_negative(spec.get("terminationGracePeriodSeconds"),
                               f"{p}.terminationGracePeriodSeconds")
    errs += check_positive(spec.get("activeDeadlineSeconds"), f"{p}.activeDeadlineSeconds")
    errs += check_string_map(spec.get("nodeSelector"), f"{p}.nodeSelector")
    sa = spec.get("serviceAccountName")
    if sa:
        for msg in dns1123_subdomain(str(sa)):
            errs.append(invalid(f"{p}.serviceAccountName", sa, msg))
    nn = spec.get("nodeName")
    if nn:
        for msg in dns1123_subdomain(str(nn)):
            errs.append(invalid(f"{p}.nodeName", nn, msg))
    for key in ("hostname", "subdomain"):
        hv = spec.get(key)
        if hv:
            for msg in dns1123_label(str(hv)):
                errs.append(invalid(f"{p}.{key}", hv, msg))
    for tp, t in each_object(spec.get("tolerations") or [], f"{p}.tolerations", errs):
        op = t.get("operator")
        if op not in (None, "", "Exists", "Equal"):
            errs.append(not_supported(f"{tp}.operator", op, ("Equal", "Exists")))
        if op == "Exists" and t.get("value"):
            errs.append(invalid(f"{tp}.operator", t.get("value"),
                                "value must be empty when `operator` is 'Exists'"))
        eff = t.get("effect")
        if eff not in (None, "", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(not_supported(f"{tp}.effect", eff,
                                      ("NoExecute", "NoSchedule", "PreferNoSchedule")))
    errs += _validate_sysctls(spec, p)
    return errs


def validate_pod_template(tmpl: Any, p: str = "spec.template") -> Errors:
    """A PodTemplateSpec inside a workload: labels, annotations, then its PodSpec."""
    if tmpl is None:
        return [required(p)]
    if not isinstance(tmpl, dict):
        return [type_invalid(p, tmpl, "must be an object")]
    errs = validate_labels(get(tmpl, "metadata.labels"), f"{p}.metadata.labels")
    errs += validate_annotations(get(tmpl, "metadata.annotations"), f"{p}.metadata.annotations")
    errs += validate_pod_spec(tmpl.get("spec"), f"{p}.spec")
    if isinstance(tmpl.get("spec"), dict) and tmpl["spec"].get("activeDeadlineSeconds") is not None:
        pass
    return errs


# ---------------------------------------------------------------- pod update

POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _strip_mutable(spec: Any) -> Any:
    """A copy of ``spec`` without the fields a pod update may change."""

    s = deep_copy(spec) if isinstance(spec, dict) else {}
    for key in ("containers", "initContainers"):
        for c in s.get(key) or []:
            if isinstance(c, dict):
                c.pop("image", None)
    s.pop("activeDeadlineSeconds", None)
    s.pop("tolerations", None)
    s.pop("schedulingGates", None)
    s.pop("ephemeralContainers", None)  # changed only through the subresource
    s.pop("terminationGracePeriodSeconds", None)
    return s


def validate_pod_spec_update(new: Any, old: Any) -> Errors:
    errs: Errors = []
    if _strip_mutable(new) != _strip_mutable(old):
        errs.append(forbidden("spec", POD_UPDATE_FORBIDDEN))
    old_tol = [t for t in (get(old, "tolerations") or [])]
    new_tol = [t for t in (get(new, "tolerations") or [])]
    if any(t not in new_tol for t in old_tol):
        errs.append(forbidden("spec.tolerations",
                              "existing toleration can not be modified except its tolerationSeconds"))
    for key in ("containers", "initContainers"):
        for i, c in enumerate(get(new, key) or []):
            if isinstance(c, dict) and "image" in c and not c.get("image"):
                errs.append(required(f"spec.{key}[{i}].image"))
    ad_old, ad_new = get(old, "activeDeadlineSeconds"), get(new, "activeDeadlineSeconds")
    if ad_old is not None and (ad_new is None or (isinstance(ad_new, int) and ad_new > ad_old)):
        errs.append(invalid("spec.activeDeadlineSeconds", ad_new,
                            "must be less than or equal to previous value"))
    return errs
