"""admissionregistration.k8s.io/v1: webhook configurations, ValidatingAdmissionPolicy and bindings,
stored and served (behaviour hooks; structure is generated).  The admission chain acts on them."""

from __future__ import annotations

from kubeapi.api import facts
from kubeapi.api.printing import age_col, col, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import required, validate_object_meta, validate_object_meta_update

GROUP = "admissionregistration.k8s.io"


def default_webhooks(cfg: Obj) -> None:
    mutating = cfg.get("kind") == "MutatingWebhookConfiguration"
    for wh in cfg.get("webhooks") or []:
        if not isinstance(wh, dict):
            continue
        wh.setdefault("failurePolicy", "Fail")
        wh.setdefault("matchPolicy", "Equivalent")
        wh.setdefault("namespaceSelector", {})
        wh.setdefault("objectSelector", {})
        wh.setdefault("timeoutSeconds", 10)
        if mutating:
            wh.setdefault("reinvocationPolicy", "Never")
        for rule in wh.get("rules") or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
        svc = (wh.get("clientConfig") or {}).get("service")
        if isinstance(svc, dict):
            svc.setdefault("port", 443)


def validate_webhooks(cfg: Obj) -> list[FieldError]:
    errs = validate_object_meta(cfg, namespaced=False)
    for i, wh in enumerate(cfg.get("webhooks") or []):
        p = f"webhooks[{i}]"
        if not (wh or {}).get("name"):
            errs.append(required(f"{p}.name"))
        if not (wh or {}).get("sideEffects"):
            errs.append(required(f"{p}.sideEffects", "must specify one of None, NoneOnDryRun"))
        if not (wh or {}).get("admissionReviewVersions"):
            errs.append(required(f"{p}.admissionReviewVersions", "must specify one of v1, v1beta1"))
        cc = (wh or {}).get("clientConfig") or {}
        if bool(cc.get("url")) == bool(cc.get("service")):
            errs.append(required(f"{p}.clientConfig", "exactly one of url or service is required"))
    return errs


WEBHOOK_COLUMNS = (name_col(), col("Webhooks", "integer", lambda o: len(o.get("webhooks") or []),
                                   "Webhooks indicates the number of webhooks in the configuration"),
                   age_col())


def default_policy(vap: Obj) -> None:
    spec = vap.setdefault("spec", {})
    spec.setdefault("failurePolicy", "Fail")
    mc = spec.setdefault("matchConstraints", {}) if "matchConstraints" in spec else None
    if mc is not None:
        mc.setdefault("matchPolicy", "Equivalent")
        mc.setdefault("namespaceSelector", {})
        mc.setdefault("objectSelector", {})


def validate_policy(vap: Obj) -> list[FieldError]:
    errs = validate_object_meta(vap, namespaced=False)
    spec = vap.get("spec") or {}
    if not spec.get("validations") and not spec.get("auditAnnotations"):
        errs.append(required("spec.validations", "validations or auditAnnotations must contain at least one item"))
    for i, v in enumerate(spec.get("validations") or []):
        if not (v or {}).get("expression"):
            errs.append(required(f"spec.validations[{i}].expression"))
    return errs


def validate_binding(b: Obj) -> list[FieldError]:
    errs = validate_object_meta(b, namespaced=False)
    spec = b.get("spec") or {}
    if not spec.get("policyName"):
        errs.append(required("spec.policyName"))
    if not spec.get("validationActions"):
        errs.append(required("spec.validationActions"))
    return errs


RESOURCES: list[ResourceDef] = [
    facts.resource(GROUP, "v1", "mutatingwebhookconfigurations", columns=WEBHOOK_COLUMNS,
                   default=default_webhooks, validate=validate_webhooks,
                   validate_update=validate_object_meta_update, has_generation=True),
    facts.resource(GROUP, "v1", "validatingadmissionpolicies", default=default_policy,
                   validate=validate_policy, validate_update=validate_object_meta_update, has_generation=True),
    facts.resource(GROUP, "v1", "validatingadmissionpolicybindings", validate=validate_binding,
                   validate_update=validate_object_meta_update, has_generation=True),
    facts.resource(GROUP, "v1", "validatingwebhookconfigurations", columns=WEBHOOK_COLUMNS,
                   default=default_webhooks, validate=validate_webhooks,
                   validate_update=validate_object_meta_update, has_generation=True),
]
