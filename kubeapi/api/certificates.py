"""certificates.k8s.io/v1: CertificateSigningRequest with /status and /approval (behaviour hooks;
structure is generated).

Strategies as upstream: a main write keeps the stored status; /status may change the status but
not the approval conditions' meaning (spec kept); /approval changes only status.conditions
(the certificate is kept)."""

from __future__ import annotations

from kubeapi.api import facts
from kubeapi.api.printing import NONE, age_col, col, name_col
from kubeapi.api.types import FieldError, Obj, ResourceDef
from kubeapi.api.validation import (
    get,
    invalid,
    not_supported,
    required,
    validate_object_meta,
    validate_object_meta_update,
)
from kubeapi.auth.user import UserInfo

GROUP = "certificates.k8s.io"
CONDITION_TYPES = ("Approved", "Denied", "Failed")
KEY_USAGES = ("signing", "digital signature", "content commitment", "key encipherment", "key agreement",
              "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
              "server auth", "client auth", "code signing", "email protection", "s/mime",
              "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
              "microsoft sgc", "netscape sgc")


def validate_csr(csr: Obj) -> list[FieldError]:
    errs = validate_object_meta(csr, namespaced=False)
    spec = csr.get("spec") or {}
    if not spec.get("request"):
        errs.append(required("spec.request"))
    if not spec.get("signerName"):
        errs.append(required("spec.signerName"))
    if not spec.get("usages"):
        errs.append(required("spec.usages"))
    for i, u in enumerate(spec.get("usages") or []):
        if u not in KEY_USAGES:
            errs.append(not_supported(f"spec.usages[{i}]", u, KEY_USAGES))
    secs = spec.get("expirationSeconds")
    if isinstance(secs, int) and secs < 600:
        errs.append(invalid("spec.expirationSeconds", secs, "may not specify a duration less than 600 seconds "
                                                            "(10 minutes)"))
    errs += _validate_conditions(csr)
    return errs


def _validate_conditions(csr: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    types = set()
    for i, c in enumerate(get(csr, "status.conditions") or []):
        t = (c or {}).get("type")
        p = f"status.conditions[{i}]"
        if not t:
            errs.append(required(f"{p}.type"))
        if t in seen and t in CONDITION_TYPES:
            errs.append(FieldError("FieldValueDuplicate", f"{p}.type", "", t, True))
        seen.add(t or "")
        types.add(t)
        if c.get("status") not in ("True", "False", "Unknown"):
            errs.append(not_supported(f"{p}.status", c.get("status", ""), ("False", "True", "Unknown")))
    if {"Approved", "Denied"} <= types:
        errs.append(invalid("status.conditions", get(csr, "status.conditions"),
                            "Approved and Denied conditions are mutually exclusive"))
    return errs


def validate_csr_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = validate_object_meta_update(new, old) + _validate_conditions(new)
    if new.get("spec") != old.get("spec"):
        errs.append(invalid("spec", new.get("spec"), "field is immutable"))
    return errs


def prepare_csr(csr: Obj) -> None:
    csr["status"] = {}


def stamp_csr_requester(csr: Obj, user: UserInfo | None) -> None:
    """Upstream's PrepareForCreate: the requester's identity replaces whatever the body claims."""
    spec = csr.setdefault("spec", {})
    for f in ("username", "uid", "groups", "extra"):
        spec.pop(f, None)
    if user is None:
        return
    if user.name:
        spec["username"] = user.name
    if user.uid:
        spec["uid"] = user.uid
    if user.groups:
        spec["groups"] = list(user.groups)
    if user.extra:
        spec["extra"] = {k: list(v) for k, v in user.extra.items()}


def approval_update(old: Obj, new: Obj) -> Obj:
    """/approval: only status.conditions come from the request."""
    out = old
    status = out.setdefault("status", {})
    conds = get(new, "status.conditions")
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)
    return out


def csr_condition(csr: Obj) -> str:
    types = {c.get("type") for c in get(csr, "status.conditions") or []}
    text = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        text += ",Failed"
    if get(csr, "status.certificate"):
        text += ",Issued"
    return text


def _duration(csr: Obj) -> str:
    secs = get(csr, "spec.expirationSeconds")
    if not isinstance(secs, int):
        return NONE
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size * 2 or (unit == "m" and secs >= 60):
            whole, rest = divmod(secs, size)
            if unit == "h" and secs < 8 * 3600 and rest >= 60:
                return f"{whole}h{rest // 60}m"
            return f"{whole}{unit}"
    return f"{secs}s"


CERTIFICATESIGNINGREQUESTS = facts.resource(
    GROUP, "v1", "certificatesigningrequests",
    columns=(
        name_col(), age_col(),
        col("SignerName", "string", lambda o: get(o, "spec.signerName") or NONE, "Signer name"),
        col("Requestor", "string", lambda o: get(o, "spec.username") or "", "Request user name"),
        col("RequestedDuration", "string", _duration, "Requested duration"),
        col("Condition", "string", csr_condition, "Condition of the request"),
    ),
    validate=validate_csr, validate_update=validate_csr_update, prepare_for_create=prepare_csr, stamp_requester=stamp_csr_requester,
    update_strategies={"approval": approval_update},
    field_selectors={"spec.signerName": lambda o: get(o, "spec.signerName") or ""},
)

RESOURCES: list[ResourceDef] = [CERTIFICATESIGNINGREQUESTS]
