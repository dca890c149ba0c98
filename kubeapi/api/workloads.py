"""Rules shared by the controllers' kinds (deployments, replicasets, statefulsets,
daemonsets, jobs, replicationcontrollers): template/selector agreement, selector
immutability, replica counts, and the common printing columns."""

from __future__ import annotations

from typing import Any

from kubeapi.api.podspec import validate_pod_template
from kubeapi.api.printing import format_label_selector, wide
from kubeapi.api.types import Column, Obj
from kubeapi.api.validation import (
    Errors,
    check_non_negative,
    check_selector,
    get,
    immutable,
    invalid,
    not_supported,
    selector_matches,
)

SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def validate_selected_template(spec: Obj, owner: str, p: str = "spec",
                               selector_required: bool = True) -> Errors:
    """Selector present and valid, template valid, and the selector selects the template."""
    sel = spec.get("selector")
    errs = check_selector(sel, f"{p}.selector", selector_required, owner)
    tmpl = spec.get("template")
    errs += validate_pod_template(tmpl, f"{p}.template")
    if isinstance(sel, dict) and isinstance(tmpl, dict) and (sel.get("matchLabels") or
                                                             sel.get("matchExpressions")):
        labels = get(tmpl, "metadata.labels") or {}
        if not selector_matches(sel, labels):
            errs.append(invalid(f"{p}.template.metadata.labels", labels, SELECTOR_MISMATCH))
    return errs


def validate_replicas(spec: Obj, p: str = "spec") -> Errors:
    return check_non_negative(spec.get("replicas"), f"{p}.replicas")


def selector_immutable(new: Obj, old: Obj, p: str = "spec.selector") -> Errors:
    ns, os_ = get(new, p), get(old, p)
    if os_ is not None and ns != os_:
        return [immutable(p, ns)]
    return []


def restart_policy_only(spec: Obj, allowed: tuple[str, ...], p: str) -> Errors:
    rp = get(spec, "template.spec.restartPolicy")
    if rp not in allowed:
        return [not_supported(f"{p}.template.spec.restartPolicy", rp, allowed)]
    return []


def selector_col(path: str = "spec.selector") -> Column:
    return wide("Selector", "string", lambda o: format_label_selector(get(o, path)),
                "A label query over pods that should match the replica count.")


def int_or(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
