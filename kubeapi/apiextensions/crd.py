"""The CustomResourceDefinition kind (apiextensions.k8s.io/v1): defaulting, validation and
strategy hooks.  Its structure comes from the catalog's generated schema when there is one;
``RESOURCE`` carries a minimal open schema so this module stands alone.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from kubeapi.api.types import FieldError, ResourceDef
from kubeapi.apiextensions import rules, structural
from kubeapi.registry import meta

Obj = dict[str, Any]
GROUP = "apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                  "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
                  "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_VERSION = re.compile(r"^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$")


def version_priority(name: str) -> tuple[int, int, int, str]:
    """Upstream's kube-aware version order: GA > beta > alpha, higher numbers first, then
    other names alphabetically (lower tuples sort first)."""
    m = _VERSION.match(name)
    if not m:
        return (3, 0, 0, name)
    major = int(m.group(1))
    stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, "")


def sorted_versions(names: list[str]) -> list[str]:
    return sorted(names, key=version_priority)


def storage_version(crd: Obj) -> str:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("storage"):
            return str(v.get("name"))
    return ""


def default(crd: Obj) -> None:
    """SetDefaults: names.singular/listKind, conversion strategy None."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str) and names["kind"]:
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    conv = spec.setdefault("conversion", {"strategy": "None"})
    if isinstance(conv, dict):
        conv.setdefault("strategy", "None")
        if conv.get("strategy") == "Webhook" and isinstance(conv.get("webhook"), dict):
            cc = conv["webhook"].get("clientConfig")
            if isinstance(cc, dict) and isinstance(cc.get("service"), dict):
                cc["service"].setdefault("port", 443)


def prepare_for_create(crd: Obj) -> None:
    st = storage_version(crd)
    crd["status"] = {"acceptedNames": {"kind": "", "plural": ""},
                     "storedVersions": [st] if st else []}


def _label_errors(path: str, value: Any) -> list[FieldError]:
    if not isinstance(value, str) or not value:
        return [FieldError("FieldValueRequired", path)]
    if not _DNS_LABEL.match(value) or len(value) > 63:
        return [FieldError("FieldValueInvalid", path, _DNS_LABEL_MSG, value, True)]
    return []


def _names_errors(names: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(names, dict):
        return [FieldError("FieldValueRequired", f"{path}.plural"), FieldError("FieldValueRequired",
                                                                               f"{path}.kind")]
    errs += _label_errors(f"{path}.plural", names.get("plural"))
    if names.get("singular"):
        errs += _label_errors(f"{path}.singular", names.get("singular"))
    kind = names.get("kind")
    if not kind:
        errs.append(FieldError("FieldValueRequired", f"{path}.kind"))
    elif not _DNS_LABEL.match(str(kind).lower()):
        errs.append(FieldError("FieldValueInvalid", f"{path}.kind", _DNS_LABEL_MSG, kind, True))
    list_kind = names.get("listKind")
    if list_kind and kind and list_kind == kind:
        errs.append(FieldError("FieldValueInvalid", f"{path}.listKind", "kind and listKind must be different",
                               list_kind, True))
    for i, sn in enumerate(names.get("shortNames") or []):
        errs += _label_errors(f"{path}.shortNames[{i}]", sn)
    for i, cat in enumerate(names.get("categories") or []):
        errs += _label_errors(f"{path}.categories[{i}]", cat)
    return errs


def _version_errors(v: Any, path: str) -> list[FieldError]:
    if not isinstance(v, dict):
        return [FieldError("FieldValueInvalid", path, "must be an object", v, True)]
    errs = _label_errors(f"{path}.name", v.get("name"))
    schema = (v.get("schema") or {}).get("openAPIV3Schema") if isinstance(v.get("schema"), dict) else None
    spath = f"{path}.schema.openAPIV3Schema"
    if schema is None:
        errs.append(FieldError("FieldValueRequired", spath, "schemas are required"))
    else:
        errs += structural.check(schema, spath)
        if not errs:
            _, rule_errs = rules.compile_schema(schema, spath)
            errs += rule_errs
    subs = v.get("subresources") or {}
    scale = subs.get("scale") if isinstance(subs, dict) else None
    if isinstance(scale, dict):
        for key in ("specReplicasPath", "statusReplicasPath"):
            p = scale.get(key)
            if not p:
                errs.append(FieldError("FieldValueRequired", f"{path}.subresources.scale.{key}"))
            elif not str(p).startswith("."):
                errs.append(FieldError("FieldValueInvalid", f"{path}.subresources.scale.{key}",
                                       "should be a json path under .spec" if key == "specReplicasPath"
                                       else "should be a json path under .status", p, True))
    for i, col in enumerate(v.get("additionalPrinterColumns") or []):
        cpath = f"{path}.additionalPrinterColumns[{i}]"
        if not isinstance(col, dict):
            continue
        if not col.get("name"):
            errs.append(FieldError("FieldValueRequired", f"{cpath}.name"))
        if col.get("type") not in ("integer", "number", "string", "boolean", "date"):
            errs.append(FieldError("FieldValueNotSupported", f"{cpath}.type",
                                   'supported values: "boolean", "date", "integer", "number", "string"',
                                   col.get("type", ""), True))
        if not col.get("jsonPath"):
            errs.append(FieldError("FieldValueRequired", f"{cpath}.jsonPath"))
    return errs


def validate(crd: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    spec: Obj = crd["spec"] if isinstance(crd.get("spec"), dict) else {}
    names: Obj = spec["names"] if isinstance(spec.get("names"), dict) else {}
    group = spec.get("group")
    name = meta.meta(crd).get("name") or ""
    if not group:
        errs.append(FieldError("FieldValueRequired", "spec.group"))
    else:
        bad = meta.dns1123_subdomain_errors(str(group))
        if bad:
            errs.append(FieldError("FieldValueInvalid", "spec.group", "; ".join(bad), group, True))
        elif "." not in str(group):
            errs.append(FieldError("FieldValueInvalid", "spec.group", "should be a domain with at least one dot",
                                   group, True))
    if name != f"{names.get('plural', '')}.{group or ''}":
        errs.append(FieldError("FieldValueInvalid", "metadata.name", 'must be spec.names.plural+"."+spec.group',
                               name, True))
    scope = spec.get("scope")
    if not scope:
        errs.append(FieldError("FieldValueRequired", "spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(FieldError("FieldValueNotSupported", "spec.scope", 'supported values: "Cluster", "Namespaced"',
                               scope, True))
    errs += _names_errors(spec.get("names"), "spec.names")
    versions = spec.get("versions") or []
    if not versions:
        errs.append(FieldError("FieldValueInvalid", "spec.versions", "must have exactly one version marked as "
                                                                     "storage version", versions, True))
    else:
        seen: set[str] = set()
        for i, v in enumerate(versions):
            errs += _version_errors(v, f"spec.versions[{i}]")
            vn = v.get("name") if isinstance(v, dict) else None
            if vn in seen:
                errs.append(FieldError("FieldValueInvalid", "spec.versions", "must contain unique version names",
                                       versions, True))
            seen.add(str(vn))
        if sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
            errs.append(FieldError("FieldValueInvalid", "spec.versions",
                                   "must have exactly one version marked as storage version", versions, True))
        if not any(isinstance(v, dict) and v.get("served") for v in versions):
            errs.append(FieldError("FieldValueInvalid", "spec.versions", "must have at least one served version",
                                   versions, True))
    conv = spec.get("conversion") or {}
    strategy = conv.get("strategy") if isinstance(conv, dict) else None
    if strategy not in ("None", "Webhook"):
        errs.append(FieldError("FieldValueNotSupported", "spec.conversion.strategy",
                               'supported values: "None", "Webhook"', strategy, True))
    elif strategy == "Webhook":
        cc = ((conv.get("webhook") or {}).get("clientConfig")) if isinstance(conv.get("webhook"), dict) else None
        if not isinstance(cc, dict):
            errs.append(FieldError("FieldValueRequired", "spec.conversion.webhook",
                                   "must be specified if strategy=Webhook"))
        elif bool(cc.get("url")) == bool(cc.get("service")):
            errs.append(FieldError("FieldValueRequired", "spec.conversion.webhook.clientConfig",
                                   "exactly one of url or service is required"))
        reviews = (conv.get("webhook") or {}).get("conversionReviewVersions")
        if isinstance(cc, dict) and not reviews:
            errs.append(FieldError("FieldValueRequired", "spec.conversion.webhook.conversionReviewVersions",
                                   "must include at least one of v1, v1beta1"))
    return errs


def validate_update(new: Obj, old: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    if ns.get("group") != os_.get("group"):
        errs.append(FieldError("FieldValueInvalid", "spec.group", "field is immutable", ns.get("group"), True))
    if ns.get("scope") != os_.get("scope"):
        errs.append(FieldError("FieldValueInvalid", "spec.scope", "field is immutable", ns.get("scope"), True))
    stored = (new.get("status") or {}).get("storedVersions") or []
    names = {v.get("name") for v in ns.get("versions") or [] if isinstance(v, dict)}
    for i, sv in enumerate(stored):
        if sv not in names:
            errs.append(FieldError("FieldValueInvalid", f"status.storedVersions[{i}]",
                                   "must appear in spec.versions", sv, True))
    return errs


async def on_update(_ctx: Any, new: Obj, old: Obj) -> None:
    """A new storage version joins status.storedVersions (objects may now be stored in it)."""
    st = storage_version(new)
    status = new.setdefault("status", {})
    stored = list(status.get("storedVersions") or [])
    if st and st not in stored:
        stored.append(st)
        status["storedVersions"] = stored


SCHEMA: Obj = {
    "type": "object",
    "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}

@dataclass(frozen=True)
class CRDResourceDef(ResourceDef):
    """The CRD kind: served by CRDStore (deletion through the cleanup finalizer)."""

    def make_store(self, server: Any) -> Any:
        from kubeapi.apiextensions.store import CRDStore

        store = CRDStore(self, server.storage, server.hook_context, prefix=server.prefix,
                         admission=server.admission, admission_observer=server.metrics.observe_admission)
        store.controller = getattr(server, "crd_controller", None)
        return store


RESOURCE = CRDResourceDef(
    group=GROUP, version="v1", kind="CustomResourceDefinition", plural="customresourcedefinitions",
    singular="customresourcedefinition", namespaced=False, short_names=("crd", "crds"),
    categories=("api-extensions",), subresources=("status",), has_status=True, has_generation=True,
    default=default, validate=validate, validate_update=validate_update, prepare_for_create=prepare_for_create,
    on_update=on_update, schema=SCHEMA,
)


def with_behaviour(structure: ResourceDef | None) -> ResourceDef:
    """The CRD ResourceDef: ``structure``'s schema (the catalog's generated one) with this
    module's hooks."""
    if structure is None:
        return RESOURCE
    return dataclasses.replace(RESOURCE, schema=structure.schema or SCHEMA)


