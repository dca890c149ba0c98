"""core/v1 pods and podtemplates: printing (READY / STATUS / RESTARTS the way kubectl
shows them), field selectors, defaulting, validation and create-time status."""

from __future__ import annotations

from typing import Any

from kubeapi.api import facts
from kubeapi.api.podspec import (
    default_pod_spec,
    default_pod_template,
    default_requests_from_limits,
    qos_class,
    validate_pod_spec,
    validate_pod_spec_update,
    validate_pod_template,
)
from kubeapi.api.printing import NONE, age_col, col, format_labels, name_col, wide
from kubeapi.api.types import Column, FieldError, Obj
from kubeapi.api.validation import get, validate_object_meta, validate_object_meta_update
from kubeapi.timefmt import age

# ---------------------------------------------------------------- printing


def _restartable_init(spec: Any, name: str) -> bool:
    for c in get(spec, "initContainers", []) or []:
        if c.get("name") == name:
            return c.get("restartPolicy") == "Always"
    return False


def _initialized(status: Any) -> bool:
    return any(c.get("type") == "Initialized" and c.get("status") == "True"
               for c in get(status, "conditions", []) or [])


def _has_ready(status: Any) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in get(status, "conditions", []) or [])


def _later(a: str, b: Any) -> str:
    return b if isinstance(b, str) and b > a else a


def pod_summary(pod: Obj) -> tuple[int, int, str, int, str]:
    """(ready, total, status reason, restarts, last restart time) as kubectl prints them."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    total = len(spec.get("containers") or [])
    ready = 0
    restarts = 0
    init_restarts = 0
    last = ""
    last_init = ""
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    inits = spec.get("initContainers") or []
    total += sum(1 for c in inits if c.get("restartPolicy") == "Always")
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        finished = get(cs, "lastState.terminated.finishedAt")
        last = _later(last, finished)
        sidecar = _restartable_init(spec, cs.get("name", ""))
        if sidecar:
            init_restarts += int(cs.get("restartCount") or 0)
            last_init = _later(last_init, finished)
        term = get(cs, "state.terminated")
        waiting = get(cs, "state.waiting")
        if term is not None and int(term.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            if not term.get("reason"):
                if term.get("signal"):
                    reason = f"Init:Signal:{term['signal']}"
                else:
                    reason = f"Init:ExitCode:{term.get('exitCode', 0)}"
            else:
                reason = "Init:" + term["reason"]
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(inits)}"
        initializing = True
        break
    if not initializing or _initialized(status):
        restarts = init_restarts
        last = last_init
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            last = _later(last, get(cs, "lastState.terminated.finishedAt"))
            waiting = get(cs, "state.waiting")
            term = get(cs, "state.terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                if term.get("signal"):
                    reason = f"Signal:{term['signal']}"
                else:
                    reason = f"ExitCode:{term.get('exitCode', 0)}"
            elif cs.get("ready") and get(cs, "state.running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_ready(status) else "NotReady"
    deleting = get(pod, "metadata.deletionTimestamp") is not None
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return ready, total, reason, restarts, last


def _ready(pod: Obj) -> str:
    r, t, *_ = pod_summary(pod)
    return f"{r}/{t}"


def _status(pod: Obj) -> str:
    return pod_summary(pod)[2]


def _restarts(pod: Obj) -> str:
    _, _, _, n, last = pod_summary(pod)
    if n and last:
        return f"{n} ({age(last)} ago)"
    return str(n)


def _pod_ip(pod: Obj) -> str:
    ips = get(pod, "status.podIPs") or []
    ip = ips[0].get("ip", "") if ips else get(pod, "status.podIP", "")
    return ip or NONE


def _readiness_gates(pod: Obj) -> str:
    gates = get(pod, "spec.readinessGates") or []
    if not gates:
        return NONE
    conds = get(pod, "status.conditions") or []
    n = 0
    for g in gates:
        for c in conds:
            if c.get("type") == g.get("conditionType"):
                n += c.get("status") == "True"
                break
    return f"{n}/{len(gates)}"


POD_COLUMNS: tuple[Column, ...] = (
    name_col(),
    col("Ready", "string", _ready, "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", _status, "The aggregate status of the containers in this pod."),
    col("Restarts", "string", _restarts,
        "The number of times the containers in this pod have been restarted and when the last "
        "container in this pod has restarted."),
    age_col(),
    wide("IP", "string", _pod_ip, "IP address allocated to the pod. Routable at least within the "
                                  "cluster. Empty if not yet allocated."),
    wide("Node", "string", lambda p: get(p, "spec.nodeName") or NONE,
         "NodeName indicates in which node this pod is scheduled."),
    wide("Nominated Node", "string", lambda p: get(p, "status.nominatedNodeName") or NONE,
         "nominatedNodeName is set only when this pod preempts other pods on the node."),
    wide("Readiness Gates", "string", _readiness_gates,
         "If specified, all readiness gates will be evaluated for pod readiness."),
)

# ---------------------------------------------------------------- field selectors


def _host_network(p: Obj) -> str:
    return "true" if get(p, "spec.hostNetwork") else "false"


def _first_pod_ip(p: Obj) -> str:
    ips = get(p, "status.podIPs") or []
    return ips[0].get("ip", "") if ips else (get(p, "status.podIP") or "")


POD_FIELDS = {
    "spec.nodeName": lambda p: get(p, "spec.nodeName") or "",
    "spec.restartPolicy": lambda p: get(p, "spec.restartPolicy") or "",
    "spec.schedulerName": lambda p: get(p, "spec.schedulerName") or "",
    "spec.serviceAccountName": lambda p: get(p, "spec.serviceAccountName") or "",
    "spec.hostNetwork": _host_network,
    "status.phase": lambda p: get(p, "status.phase") or "",
    "status.podIP": _first_pod_ip,
    "status.nominatedNodeName": lambda p: get(p, "status.nominatedNodeName") or "",
}

# ---------------------------------------------------------------- strategy


def default_pod(pod: Obj) -> None:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    default_pod_spec(spec)
    default_requests_from_limits(spec)
    # serviceAccount is the deprecated alias of serviceAccountName (kept equal by conversion);
    # the name itself, priority and the default tolerations come from admission plugins.
    if spec.get("serviceAccountName"):
        spec.setdefault("serviceAccount", spec["serviceAccountName"])


def prepare_pod(pod: Obj) -> None:
    status = pod.setdefault("status", {})
    if not isinstance(status, dict):
        status = pod["status"] = {}
    status["phase"] = "Pending"
    status["qosClass"] = qos_class(pod.get("spec") or {})


def validate_pod(pod: Obj) -> list[FieldError]:
    errs = validate_object_meta(pod)
    errs += validate_pod_spec(pod.get("spec"), "spec")
    return errs


def validate_pod_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old)
    errs += validate_pod_spec_update(new.get("spec") or {}, old.get("spec") or {})
    return errs



PODS = facts.resource(
    "", "v1", "pods",
    columns=POD_COLUMNS,
    field_selectors=POD_FIELDS,
    default=default_pod,
    validate=validate_pod,
    validate_update=validate_pod_update,
    prepare_for_create=prepare_pod,
    has_status=True,
    return_deleted_object=True,
    has_generation=True,
)

# ---------------------------------------------------------------- podtemplates


def _template_containers(o: Obj) -> str:
    return ",".join(c.get("name", "") for c in get(o, "template.spec.containers", []) or [])


def _template_images(o: Obj) -> str:
    return ",".join(c.get("image", "") for c in get(o, "template.spec.containers", []) or [])


def validate_podtemplate(o: Obj) -> list[FieldError]:
    return validate_object_meta(o) + validate_pod_template(o.get("template"), "template")


PODTEMPLATES = facts.resource(
    "", "v1", "podtemplates",
    columns=(
        name_col(),
        col("Containers", "string", _template_containers, "Names of each container in the template."),
        col("Images", "string", _template_images, "Images referenced by each container in the template."),
        col("Pod Labels", "string", lambda o: format_labels(get(o, "template.metadata.labels")),
            "The labels for the pod template."),
    ),
    default=lambda o: default_pod_template(o.get("template")),
    validate=validate_podtemplate,
    validate_update=validate_object_meta_update,
    return_deleted_object=True,
)
