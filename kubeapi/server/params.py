"""Query-string (and DeleteOptions body) parsing into the registry's option objects,
refusing malformed values with upstream's 400/422 answers."""

from __future__ import annotations

import re
from typing import Any

from kubeapi.api.types import FieldError
from kubeapi.errors import StatusError, bad_request, invalid
from kubeapi.registry.options import DeleteOptions, ListOptions, WriteOptions
from kubeapi.server.context import RequestContext
from kubeapi.server.requestinfo import query_bool

FIELD_VALIDATION = ("", "Ignore", "Warn", "Strict")
PROPAGATION = ("Orphan", "Background", "Foreground")


INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_DECIMAL = re.compile(r"[+-]?[0-9]+")
_DIGITS = re.compile(r"[0-9]+")


def parse_int(name: str, text: str) -> int:
    """A query integer as Go's strconv.ParseInt(text, 10, 64) reads it."""
    try:
        if not _DECIMAL.fullmatch(text):  # int() also takes "1_000", spaces and non-ASCII digits
            raise ValueError
        value = int(text, 10)
    except ValueError:
        raise bad_request(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None
    if not INT64_MIN <= value <= INT64_MAX:
        raise bad_request(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def parse_resource_version(text: str) -> int | None:
    """resourceVersion as the storage versioner parses it (a uint64); None when absent.
    Unparsable or out-of-range values are a 400 before any storage is asked."""
    if text == "":
        return None
    if not _DIGITS.fullmatch(text):
        raise bad_request(f'invalid resource version: strconv.ParseUint: parsing "{text}": invalid syntax')
    value = int(text)
    if value > 2 ** 64 - 1:
        raise bad_request(f'invalid resource version: strconv.ParseUint: parsing "{text}": value out of range')
    if value > INT64_MAX:  # no store reaches such a revision; keep it out of SQLite and etcd
        raise bad_request(f'invalid resource version: {text}: too large')
    return value


# DeleteOptions' fields and their Go types; a body field of another JSON type is the 400 the
# Go decoder gives (``{"dryRun": "All"}`` must never be read as "not a dry run").
_DELETE_OPTION_TYPES = {"apiVersion": "string", "kind": "string", "gracePeriodSeconds": "int64",
                        "preconditions": "Preconditions", "orphanDependents": "bool",
                        "propagationPolicy": "string", "dryRun": "[]string",
                        "ignoreStoreReadErrorWithClusterBreakingPotential": "bool"}
_PRECONDITION_TYPES = {"uid": "string", "resourceVersion": "string"}
_JSON_KIND = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


def _fits(value: Any, go_type: str) -> bool:
    if value is None:
        return True
    if go_type == "string":
        return isinstance(value, str)
    if go_type == "bool":
        return isinstance(value, bool)
    if go_type == "int64":
        return isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX
    if go_type == "[]string":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, dict)


def check_delete_body(body: dict[str, Any]) -> None:
    """400 for a DeleteOptions body field of the wrong type, worded as Go's decoder."""
    for key, go_type in _DELETE_OPTION_TYPES.items():
        value = body.get(key)
        if not _fits(value, go_type):
            _type_error("DeleteOptions", key, go_type, value)
        if key == "preconditions" and isinstance(value, dict):
            for pkey, ptype in _PRECONDITION_TYPES.items():
                if not _fits(value.get(pkey), ptype):
                    _type_error("Preconditions", f"preconditions.{pkey}", ptype, value.get(pkey))


def _type_error(struct: str, field: str, go_type: str, value: Any) -> None:
    if go_type == "[]string" and isinstance(value, list):
        bad = next(v for v in value if not isinstance(v, str))
        go_type, value = "string", bad
    got = _JSON_KIND.get(type(value), "value")
    if go_type == "int64" and isinstance(value, int) and not isinstance(value, bool):
        got = f"number {value}"
    elif got == "number" and go_type != "int64":
        got = f"number {value}"
    raise bad_request(f"json: cannot unmarshal {got} into Go struct field {struct}.{field} of type {go_type}")


def _opt_int(ctx: RequestContext, name: str) -> int | None:
    v = ctx.query.get(name)
    if not v or v[0] == "":
        return None
    return parse_int(name, v[0])


def list_options(ctx: RequestContext) -> ListOptions:
    opts = ListOptions(
        label_selector=ctx.param("labelSelector"),
        field_selector=ctx.param("fieldSelector"),
        continue_=ctx.param("continue"),
        resource_version=ctx.param("resourceVersion"),
        resource_version_match=ctx.param("resourceVersionMatch"),
        allow_watch_bookmarks=query_bool(ctx.query.get("allowWatchBookmarks")),
    )
    limit = _opt_int(ctx, "limit")
    if limit is not None:
        opts.limit = max(limit, 0)
    opts.timeout_seconds = _opt_int(ctx, "timeoutSeconds")
    parse_resource_version(opts.resource_version)
    if "sendInitialEvents" in ctx.query:
        opts.send_initial_events = query_bool(ctx.query.get("sendInitialEvents"))
    if opts.resource_version_match not in ("", "NotOlderThan", "Exact"):
        raise _invalid("ListOptions", "resourceVersionMatch", "FieldValueNotSupported",
                       opts.resource_version_match, 'supported values: "Exact", "NotOlderThan", ""')
    if opts.resource_version_match and not opts.resource_version:
        raise _invalid("ListOptions", "resourceVersionMatch", "FieldValueForbidden", None,
                       "resourceVersionMatch is forbidden unless resourceVersion is provided")
    return opts


def _invalid(kind: str, field: str, type_: str, value: Any, detail: str) -> StatusError:
    return invalid(kind, "meta.k8s.io", "", [FieldError(type_, field, detail, value,
                                                        has_value=value is not None)])


def dry_run(ctx: RequestContext, kind: str, values: list[str] | None = None) -> bool:
    vals = values if values is not None else ctx.query.get("dryRun", [])
    vals = [v for v in vals if v != ""] if values is None else vals
    for v in vals:
        if v != "All":
            raise _invalid(kind, "dryRun", "FieldValueNotSupported", vals, 'supported values: "All"')
    ctx.dry_run = bool(vals)
    return bool(vals)


def write_options(ctx: RequestContext, kind: str) -> WriteOptions:
    fv = ctx.param("fieldValidation")
    if fv not in FIELD_VALIDATION:
        raise bad_request(f"invalid fieldValidation directive: {fv}")
    force = query_bool(ctx.query.get("force"))
    if "force" in ctx.query and kind != "PatchOptions":
        force = False
    manager = ctx.param("fieldManager")
    if len(manager) > 128:
        raise _invalid(kind, "fieldManager", "FieldValueTooLong", None, "may not be more than 128 bytes")
    return WriteOptions(dry_run=dry_run(ctx, kind), field_manager=ctx.param("fieldManager"),
                        field_validation=fv, force=force, user=ctx.user, warnings=ctx.warnings,
                        audit_annotations=ctx.audit_annotations, user_agent=ctx.header("user-agent") or "")


def delete_options(ctx: RequestContext, body: dict[str, Any] | None) -> tuple[DeleteOptions, bool | None]:
    """DeleteOptions from the body (kind DeleteOptions) then the query, which wins.
    Also returns orphanDependents when given (it decides 200 vs 202)."""
    body = body or {}
    check_delete_body(body)
    opts = DeleteOptions(user=ctx.user)
    grace = body.get("gracePeriodSeconds")
    if grace is not None:
        if not isinstance(grace, int) or isinstance(grace, bool):
            raise bad_request("gracePeriodSeconds must be an integer")
        opts.grace_period_seconds = grace
    q_grace = _opt_int(ctx, "gracePeriodSeconds")
    if q_grace is not None:
        opts.grace_period_seconds = q_grace
    prop = ctx.param("propagationPolicy") or body.get("propagationPolicy")
    orphan: bool | None = body.get("orphanDependents") if isinstance(body.get("orphanDependents"), bool) else None
    if "orphanDependents" in ctx.query:
        orphan = query_bool(ctx.query.get("orphanDependents"))
    if prop is not None and orphan is not None:
        raise _invalid("DeleteOptions", "propagationPolicy", "FieldValueInvalid", prop,
                       "orphanDependents and deletionPropagation cannot be both set")
    if prop is not None:
        if prop not in PROPAGATION:
            raise _invalid("DeleteOptions", "propagationPolicy", "FieldValueNotSupported", prop,
                           'supported values: "Foreground", "Background", "Orphan", "nil"')
        opts.propagation_policy = prop
    elif orphan is not None:
        opts.propagation_policy = "Orphan" if orphan else "Background"
    pre = body.get("preconditions") or {}
    if isinstance(pre, dict):
        opts.precondition_uid = pre.get("uid")
        opts.precondition_resource_version = pre.get("resourceVersion")
    body_dry = body.get("dryRun")
    q_dry = [v for v in ctx.query.get("dryRun", []) if v != ""]
    opts.dry_run = dry_run(ctx, "DeleteOptions", q_dry or (body_dry if isinstance(body_dry, list) else []))
    return opts, orphan
