"""Shared validation rules for built-in kinds: names, labels, annotations, object
metadata, ports, and small helpers to build FieldErrors.  Detail strings follow
upstream apimachinery wording because clients and users match on them."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kubeapi.api.types import FieldError, Obj

Errors = list[FieldError]

# ---------------------------------------------------------------- error builders


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, detail)


def invalid(field: str, value: Any, detail: str = "") -> FieldError:
    return FieldError("FieldValueInvalid", field, detail, value, True)


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    opts = ", ".join(f'"{s}"' for s in supported)
    return FieldError("FieldValueNotSupported", field, f"supported values: {opts}", value, True)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", field, "", value, True)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, detail)


def too_long(field: str, limit: int) -> FieldError:
    return FieldError("FieldValueTooLong", field, f"must have at most {limit} bytes")


def type_invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueTypeInvalid", field, detail, value, True)


def each_object(items: Iterable[Any], p: str, errs: Errors) -> Iterator[tuple[str, Obj]]:
    """Walk a list that should hold objects: yields (``p[i]``, item) for each object and reports
    every other entry into ``errs`` as "must be an object", in list order."""
    for i, item in enumerate(items):
        ip = f"{p}[{i}]"
        if isinstance(item, dict):
            yield ip, item
        else:
            errs.append(type_invalid(ip, item, "must be an object"))


IMMUTABLE = "field is immutable"


def immutable(field: str, value: Any) -> FieldError:
    return invalid(field, value, IMMUTABLE)


# ---------------------------------------------------------------- name formats

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"
CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"

_DNS1123_LABEL = re.compile(f"^{DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN = re.compile(f"^{DNS1123_SUBDOMAIN_FMT}$")
_DNS1035_LABEL = re.compile(f"^{DNS1035_LABEL_FMT}$")
_QUALIFIED_NAME = re.compile(f"^{QUALIFIED_NAME_FMT}$")
_LABEL_VALUE = re.compile(f"^{LABEL_VALUE_FMT}$")
_CONFIG_KEY = re.compile(f"^{CONFIG_KEY_FMT}$")


def _regex_msg(what: str, fmt: str, examples: Iterable[str]) -> str:
    ex = ",  or ".join(f"'{e}'" for e in examples)
    return f"{what} (e.g. {ex}, regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


DNS1123_SUBDOMAIN_MSG = _regex_msg(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character", DNS1123_SUBDOMAIN_FMT, ["example.com"])
DNS1123_LABEL_MSG = _regex_msg(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character", DNS1123_LABEL_FMT, ["my-name", "123-abc"])
DNS1035_LABEL_MSG = _regex_msg(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character", DNS1035_LABEL_FMT,
    ["my-name", "abc-123"])
QUALIFIED_NAME_MSG = _regex_msg(
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character", QUALIFIED_NAME_FMT, ["MyName", "my.name", "123-abc"])
LABEL_VALUE_MSG = _regex_msg(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character", LABEL_VALUE_FMT,
    ["MyValue", "my_value", "12345"])
CONFIG_KEY_MSG = _regex_msg(
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'", CONFIG_KEY_FMT,
    ["key.name", "KEY_NAME", "key-name"])


def dns1123_subdomain(value: str) -> list[str]:
    """Problems with ``value`` as an RFC 1123 subdomain (empty list when fine)."""
    out = []
    if len(value) > 253:
        out.append(_max_len(253))
    if not _DNS1123_SUBDOMAIN.match(value):
        out.append(DNS1123_SUBDOMAIN_MSG)
    return out


def dns1123_label(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append(_max_len(63))
    if not _DNS1123_LABEL.match(value):
        out.append(DNS1123_LABEL_MSG)
    return out


def dns1035_label(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append(_max_len(63))
    if not _DNS1035_LABEL.match(value):
        out.append(DNS1035_LABEL_MSG)
    return out


def qualified_name(value: str) -> list[str]:
    """Label keys, annotation keys, finalizers: ``[prefix/]name``."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        prefix = None
    elif len(parts) == 2:
        prefix, name = parts
    else:
        return [_regex_msg(
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character", QUALIFIED_NAME_FMT,
            ["MyName", "my.name", "123-abc"])
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    out = []
    if prefix is not None:
        if not prefix:
            out.append("prefix part must be non-empty")
        else:
            out.extend("prefix part " + m for m in dns1123_subdomain(prefix))
    if not name:
        out.append("name part must be non-empty")
    else:
        if len(name) > 63:
            out.append("name part " + _max_len(63))
        if not _QUALIFIED_NAME.match(name):
            out.append(QUALIFIED_NAME_MSG)
    return out


def label_value(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append(_max_len(63))
    if not _LABEL_VALUE.match(value):
        out.append(LABEL_VALUE_MSG)
    return out


def config_key(value: str) -> list[str]:
    out = []
    if len(value) > 253:
        out.append(_max_len(253))
    if not _CONFIG_KEY.match(value):
        out.append(CONFIG_KEY_MSG)
    if value == ".":
        out.append("must not be '.'")
    elif value == "..":
        out.append("must not be '..'")
    elif value.startswith(".."):
        out.append("must not start with '..'")
    return out


NameCheck = Callable[[str], list[str]]

# ---------------------------------------------------------------- metadata

TOTAL_ANNOTATION_SIZE = 256 * 1024


def validate_labels(labels: Any, field: str) -> Errors:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [type_invalid(field, labels, "must be an object")]
    errs: Errors = []
    for k, v in labels.items():
        for msg in qualified_name(k):
            errs.append(invalid(field, k, msg))
        if not isinstance(v, str):
            errs.append(type_invalid(f"{field}", v, "must be a string"))
            continue
        for msg in label_value(v):
            errs.append(invalid(field, v, msg))
    return errs


def validate_annotations(ann: Any, field: str) -> Errors:
    if ann is None:
        return []
    if not isinstance(ann, dict):
        return [type_invalid(field, ann, "must be an object")]
    errs: Errors = []
    total = 0
    for k, v in ann.items():
        for msg in qualified_name(k.lower()):
            errs.append(invalid(field, k, msg))
        total += len(k) + len(v if isinstance(v, str) else str(v))
    if total > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long(field, TOTAL_ANNOTATION_SIZE))
    return errs


def validate_object_meta(obj: Obj, name_check: NameCheck = dns1123_subdomain,
                         namespaced: bool = True) -> Errors:
    """Name, generateName, labels, annotations, finalizers, ownerReferences."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [required("metadata.name", "name or generateName is required")]
    errs: Errors = []
    name = meta.get("name")
    gen = meta.get("generateName")
    if not name:
        if not gen:
            errs.append(required("metadata.name", "name or generateName is required"))
    elif not isinstance(name, str):
        errs.append(type_invalid("metadata.name", name, "must be a string"))
    else:
        for msg in name_check(name):
            errs.append(invalid("metadata.name", name, msg))
    if gen and isinstance(gen, str):
        # generateName only needs to be a valid prefix: strip a trailing '-'.
        probe = gen[:-1] if gen.endswith("-") else gen
        if probe:
            for msg in name_check(probe):
                errs.append(invalid("metadata.generateName", gen, msg))
    ns = meta.get("namespace")
    if not namespaced and ns:
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))
    elif namespaced and isinstance(ns, str) and ns:
        for msg in dns1123_label(ns):
            errs.append(invalid("metadata.namespace", ns, msg))
    errs += validate_labels(meta.get("labels"), "metadata.labels")
    errs += validate_annotations(meta.get("annotations"), "metadata.annotations")
    fins = meta.get("finalizers")
    if isinstance(fins, list):
        for i, f in enumerate(fins):
            if not isinstance(f, str):
                errs.append(type_invalid(f"metadata.finalizers[{i}]", f, "must be a string"))
                continue
            for msg in qualified_name(f):
                errs.append(invalid(f"metadata.finalizers[{i}]", f, msg))
    refs = meta.get("ownerReferences")
    if isinstance(refs, list):
        controllers = 0
        for p, ref in each_object(refs, "metadata.ownerReferences", errs):
            for key in ("apiVersion", "kind", "name", "uid"):
                if not ref.get(key):
                    errs.append(invalid(f"{p}.{key}", ref.get(key, ""), f"{key} must not be empty"))
            if ref.get("controller"):
                controllers += 1
        if controllers > 1:
            errs.append(invalid("metadata.ownerReferences", refs,
                                "Only one reference can have Controller set to true"))
    return errs


def validate_object_meta_update(new: Obj, old: Obj) -> Errors:
    """Name, namespace, uid and creationTimestamp do not change."""
    nm, om = new.get("metadata") or {}, old.get("metadata") or {}
    errs: Errors = []
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        if key in nm and nm.get(key) != om.get(key) and om.get(key) is not None:
            errs.append(immutable(f"metadata.{key}", nm.get(key)))
    return errs


# ---------------------------------------------------------------- value helpers


def get(obj: Any, path: str, default: Any = None) -> Any:
    """``get(o, 'spec.template.spec')``: dotted lookup through dicts, ``default`` if absent."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def check_port(value: Any, field: str) -> Errors:
    if not isinstance(value, int) or isinstance(value, bool):
        return [type_invalid(field, value, "must be an integer")]
    if not 1 <= value <= 65535:
        return [invalid(field, value, "must be between 1 and 65535, inclusive")]
    return []


PROTOCOLS = ("SCTP", "TCP", "UDP")


def check_protocol(value: Any, field: str) -> Errors:
    if value is None:
        return []
    if value not in PROTOCOLS:
        return [not_supported(field, value, PROTOCOLS)]
    return []


def check_enum(value: Any, field: str, allowed: Iterable[str], required_: bool = False) -> Errors:
    allowed = tuple(allowed)
    if value is None or value == "":
        return [required(field)] if required_ else []
    if value not in allowed:
        return [not_supported(field, value, allowed)]
    return []


def check_non_negative(value: Any, field: str) -> Errors:
    if value is None:
        return []
    if not isinstance(value, int) or isinstance(value, bool):
        return [type_invalid(field, value, "must be an integer")]
    if value < 0:
        return [invalid(field, value, "must be greater than or equal to 0")]
    return []


def check_positive(value: Any, field: str) -> Errors:
    if value is None:
        return []
    if not isinstance(value, int) or isinstance(value, bool):
        return [type_invalid(field, value, "must be an integer")]
    if value <= 0:
        return [invalid(field, value, "must be greater than zero")]
    return []


def check_ip(value: Any, field: str) -> Errors:
    try:
        ipaddress.ip_address(value)
    except (ValueError, TypeError):
        return [invalid(field, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def check_string_map(value: Any, field: str) -> Errors:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [type_invalid(field, value, "must be an object")]
    return [type_invalid(f"{field}[{k}]", v, "must be a string")
            for k, v in value.items() if not isinstance(v, str)]


def check_config_keys(data: Any, field: str) -> Errors:
    if not isinstance(data, dict):
        return []
    errs: Errors = []
    for k in data:
        for msg in config_key(k):
            errs.append(invalid(field, k, msg))
    return errs


def check_base64_values(data: Any, field: str) -> Errors:
    """Secret data values travel as base64 in JSON."""
    if not isinstance(data, dict):
        return []
    errs: Errors = []
    for k, v in data.items():
        if not isinstance(v, str):
            errs.append(type_invalid(f"{field}[{k}]", v, "must be a base64-encoded string"))
            continue
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            errs.append(invalid(f"{field}[{k}]", "<secret contents redacted>",
                                "illegal base64 data"))
    return errs


_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
QUANTITY_MSG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def is_quantity(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and bool(_QUANTITY.match(value))


_QUANTITY_SCALE = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
                   "P": 1e15, "E": 1e18, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
                   "Pi": 2.0**50, "Ei": 2.0**60}


def quantity_value(value: Any) -> float:
    """Numeric value of a resource quantity (approximate; for comparisons only)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = _QUANTITY.match(str(value))
    if not m:
        raise ValueError(value)
    num, suffix = m.group(1), m.group(2) or ""
    sign = -1.0 if str(value).startswith("-") else 1.0
    if suffix[:1] in ("e", "E"):
        return sign * float(num + suffix)
    return sign * float(num) * _QUANTITY_SCALE[suffix]


def check_selector(sel: Any, field: str, required_: bool = True,
                   owner: str = "deployment") -> Errors:
    """A metav1.LabelSelector: matchLabels and matchExpressions."""
    if sel is None:
        return [required(field)] if required_ else []
    if not isinstance(sel, dict):
        return [type_invalid(field, sel, "must be an object")]
    errs = validate_labels(sel.get("matchLabels"), f"{field}.matchLabels")
    exprs = sel.get("matchExpressions") or []
    if isinstance(exprs, list):
        for p, e in each_object(exprs, f"{field}.matchExpressions", errs):
            op = e.get("operator")
            values = e.get("values") or []
            if op in ("In", "NotIn"):
                if not values:
                    errs.append(required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
            elif op in ("Exists", "DoesNotExist"):
                if values:
                    errs.append(forbidden(f"{p}.values",
                                          "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
            else:
                errs.append(invalid(f"{p}.operator", op, "not a valid selector operator"))
            for msg in qualified_name(str(e.get("key", ""))):
                errs.append(invalid(f"{p}.key", e.get("key", ""), msg))
    if required_ and not sel.get("matchLabels") and not sel.get("matchExpressions"):
        errs.append(invalid(field, sel, f"empty selector is invalid for {owner}"))
    return errs


def selector_matches(sel: Any, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (dict form) selects ``labels``."""
    if not isinstance(sel, dict):
        return False
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        key, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and key in labels and labels[key] in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
