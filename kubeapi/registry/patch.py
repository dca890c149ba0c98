"""PATCH bodies by Content-Type: JSON patch and merge patch (patch_json), strategic merge
patch (patch_strategic) and server-side apply (apply); this module picks one and re-exports
their public names.

All functions work on plain JSON values and never mutate their inputs.  Failures are
``StatusError``s shaped as kube-apiserver's patch handler shapes them, because kubectl
prints ``reason``/``message`` verbatim.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubeapi.api.types import FieldError
from kubeapi.errors import StatusError, bad_request, invalid, unsupported_media_type
from kubeapi.registry.apply import apply_server_side, decode_apply_yaml
from kubeapi.registry.patch_json import (
    MAX_JSON_PATCH_OPERATIONS,
    apply_json_patch,
    apply_merge_patch,
    decode_json,
    go_json_error_message,
    rejected,
)
from kubeapi.registry.patch_strategic import apply_strategic_merge_patch

Schema = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Upstream's order, as listed in 415 answers.
BUILTIN_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
CUSTOM_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)


__all__ = ["APPLY_PATCH", "BUILTIN_PATCH_TYPES", "CUSTOM_PATCH_TYPES", "JSON_PATCH", "MAX_JSON_PATCH_OPERATIONS",
           "MERGE_PATCH", "STRATEGIC_MERGE_PATCH", "apply_json_patch", "apply_merge_patch", "apply_patch",
           "apply_server_side", "apply_strategic_merge_patch", "decode_apply_yaml", "decode_json",
           "go_json_error_message", "media_type", "rejected", "supported_patch_types",
           "validate_patch_options"]

# --- dispatch --------------------------------------------------------------------------------


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def supported_patch_types(schema: Schema | None) -> tuple[str, ...]:
    """Strategic merge needs Go struct tags upstream, so CRDs (no patch markers) lack it;
    here: kinds without a schema."""
    return BUILTIN_PATCH_TYPES if schema is not None else CUSTOM_PATCH_TYPES


def apply_patch(doc: dict[str, Any] | None, patch_type: str, body: bytes, schema: Schema | None,
                *, allow_strategic: bool | None = None) -> dict[str, Any]:
    """Apply a PATCH body of the given Content-Type to ``doc`` (None: no live object, only
    meaningful for apply).  ``allow_strategic`` overrides the schema-based choice (CRDs
    carry a schema but upstream still refuses strategic merge for them)."""
    mt = media_type(patch_type)
    accepted = BUILTIN_PATCH_TYPES if (schema is not None if allow_strategic is None else allow_strategic) \
        else CUSTOM_PATCH_TYPES
    if mt not in accepted:
        raise unsupported_media_type(mt, accepted)
    if mt == APPLY_PATCH:
        return apply_server_side(doc, decode_apply_yaml(body), schema)
    if doc is None:
        raise StatusError(404, "NotFound", "the server could not find the requested resource")
    if mt == JSON_PATCH:
        ops = decode_json(body)
        result = apply_json_patch(doc, ops)
    elif mt == MERGE_PATCH:
        try:
            patch = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise bad_request("Invalid JSON Patch") from None
        result = apply_merge_patch(doc, patch)
    else:
        result = apply_strategic_merge_patch(doc, decode_json(body), schema)
    if not isinstance(result, dict):
        raise invalid("", "", "", [FieldError("FieldValueInvalid", "patch", "patch result is not an object",
                                               orjson.dumps(result).decode(), True)])
    return result


def validate_patch_options(patch_type: str, field_manager: str, force_given: bool = False) -> None:
    """PatchOptions checks upstream makes before anything else (422 on PatchOptions)."""
    errs: list[FieldError] = []
    if media_type(patch_type) == APPLY_PATCH:
        if not field_manager:
            errs.append(FieldError("FieldValueRequired", "fieldManager", "is required for apply patch"))
    elif force_given:
        errs.append(FieldError("FieldValueForbidden", "force", "may not be specified for non-apply patch"))
    if len(field_manager) > 128:
        errs.append(FieldError("FieldValueTooLong", "fieldManager",
                               "may not be more than 128 bytes"))
    if errs:
        raise invalid("PatchOptions", "meta.k8s.io", "", errs)
