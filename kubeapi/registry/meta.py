"""ObjectMeta chores shared by every verb: timestamps, names, uids, dotted paths and the
generic metadata validation upstream runs for all kinds (ValidateObjectMeta)."""

from __future__ import annotations

import functools
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from kubeapi.api.types import FieldError
from kubeapi.jsontypes import deep_copy

Obj = dict[str, Any]

# Upstream's generateName alphabet (no vowels, no confusable digits).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
RANDOM_LENGTH = 5
MAX_NAME_LENGTH = 63
MAX_GENERATED_NAME_LENGTH = MAX_NAME_LENGTH - RANDOM_LENGTH

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


_now_text: list[Any] = [-1, ""]  # (whole second, its RFC3339 text): several stamps per write


def now_rfc3339() -> str:
    """RFC3339 at second precision in UTC, as metav1.Time serializes."""
    second = int(time.time())
    if second != _now_text[0]:
        _now_text[1] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        _now_text[0] = second
    return _now_text[1]  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=1024)  # the same few timestamps recur on every write (managedFields)
def parse_rfc3339(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def format_rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_plus(seconds: int) -> str:
    return format_rfc3339(datetime.now(UTC).timestamp() + seconds)


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(base: str) -> str:
    """generateName + 5 random characters; the base is cut so the result fits 63."""
    base = base[:MAX_GENERATED_NAME_LENGTH]
    return base + "".join(secrets.choice(NAME_ALPHABET) for _ in range(RANDOM_LENGTH))


def meta(obj: Obj) -> Obj:
    """The object's metadata dict, created if missing or not a dict."""
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def deepcopy(obj: Obj) -> Obj:
    return deep_copy(obj)  # type: ignore[no-any-return]


def get_path(obj: Any, path: str) -> Any:
    """Read a dotted path (``spec.replicas``); None when any step is missing."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def set_path(obj: Obj, path: str, value: Any) -> None:
    parts = path.split(".")
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value


def _name_path_segment(name: str) -> list[str]:
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    out = []
    for bad in ("/", "%"):
        if bad in name:
            out.append(f"may not contain '{bad}'")
    return out


def dns1123_subdomain_errors(name: str) -> list[str]:
    out = []
    if len(name) > 253:
        out.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.match(name):
        out.append("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                   "'-' or '.', and must start and end with an alphanumeric character (e.g. "
                   "'example.com', regex used for validation is "
                   "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    return out


def _qualified_name_errors(key: str) -> list[str]:
    prefix, _, name = key.rpartition("/")
    out = []
    if "/" in prefix:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must "
                "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
                "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if prefix or key.startswith("/"):
        if not prefix:
            out.append("prefix part must be non-empty")
        else:
            out += ["prefix part " + e for e in dns1123_subdomain_errors(prefix)]
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME.match(name):
        out.append("name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
                   "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                   "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
    return out


def validate_labels(labels: Any, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if labels is None:
        return errs
    if not isinstance(labels, dict):
        return [FieldError("FieldValueTypeInvalid", field, "must be a map", labels, True)]
    for k, v in labels.items():
        for msg in _qualified_name_errors(str(k)):
            errs.append(FieldError("FieldValueInvalid", field, msg, k, True))
        sv = v if isinstance(v, str) else str(v)
        if len(sv) > 63:
            errs.append(FieldError("FieldValueInvalid", f"{field}", "must be no more than 63 characters",
                                   sv, True))
        elif not _LABEL_VALUE.match(sv):
            errs.append(FieldError(
                "FieldValueInvalid", field,
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                "'my_value',  or '12345', regex used for validation is "
                "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')", sv, True))
    return errs


def validate_object_meta(obj: Obj, namespaced: bool, check_name_format: bool) -> list[FieldError]:
    """The checks upstream applies to every kind's metadata on create and update."""
    m = obj.get("metadata") or {}
    errs: list[FieldError] = []
    name = m.get("name") or ""
    if not name:
        if not m.get("generateName"):
            errs.append(FieldError("FieldValueRequired", "metadata.name",
                                   "name or generateName is required"))
    else:
        for msg in _name_path_segment(name):
            errs.append(FieldError("FieldValueInvalid", "metadata.name", msg, name, True))
        if check_name_format and not _name_path_segment(name):
            for msg in dns1123_subdomain_errors(name):
                errs.append(FieldError("FieldValueInvalid", "metadata.name", msg, name, True))
    ns = m.get("namespace") or ""
    if namespaced and not ns:
        errs.append(FieldError("FieldValueRequired", "metadata.namespace"))
    if not namespaced and ns:
        errs.append(FieldError("FieldValueForbidden", "metadata.namespace", "not allowed on this type"))
    errs += validate_labels(m.get("labels"), "metadata.labels")
    ann = m.get("annotations")
    if ann is not None:
        if not isinstance(ann, dict):
            errs.append(FieldError("FieldValueTypeInvalid", "metadata.annotations", "must be a map",
                                   ann, True))
        else:
            total = 0
            for k, v in ann.items():
                for msg in _qualified_name_errors(str(k)):
                    errs.append(FieldError("FieldValueInvalid", "metadata.annotations", msg, k, True))
                total += len(str(k)) + len(str(v))
            if total > 256 * 1024:
                errs.append(FieldError("FieldValueTooLong", "metadata.annotations",
                                       "must have at most 262144 bytes"))
    return errs


def validate_immutable_meta(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateObjectMetaUpdate: identity fields never change; no new finalizers while deleting."""
    nm, om = new.get("metadata") or {}, old.get("metadata") or {}
    errs: list[FieldError] = []
    for f in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
              "deletionGracePeriodSeconds"):
        if nm.get(f) != om.get(f):
            errs.append(FieldError("FieldValueInvalid", f"metadata.{f}", "field is immutable",
                                   nm.get(f), True))
    if om.get("deletionTimestamp"):
        added = [f for f in (nm.get("finalizers") or []) if f not in (om.get("finalizers") or [])]
        if added:
            errs.append(FieldError(
                "FieldValueForbidden", "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted, found new finalizers "
                "[]string{" + ", ".join(f'"{f}"' for f in added) + "}"))
    return errs


def dedupe(errs: list[FieldError]) -> list[FieldError]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for e in errs:
        k = (e.type, e.field, e.detail)
        if k not in seen:
            seen.add(k)
            out.append(e)
    return out
