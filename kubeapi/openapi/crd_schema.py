"""How a CRD version's ``openAPIV3Schema`` is published in /openapi/v2 and /openapi/v3.

The schema goes out nearly as written, with the fields every object has added (at the root and
in each ``x-kubernetes-embedded-resource``).  The Swagger 2.0 document is cut down the way
upstream cuts it for kubectl's old client-side validation, which cannot express open objects,
nullable values, defaults or the logical junctions: a node that preserves unknown fields loses its
type and structure, a root that does is published as a bare ``type: object``.
"""

from __future__ import annotations

import copy
from typing import Any

from kubeapi.openapi import meta

Schema = dict[str, Any]

PRESERVE = "x-kubernetes-preserve-unknown-fields"
EMBEDDED = "x-kubernetes-embedded-resource"

# Our wording; the leading words are the ones clients (and upstream's conformance tests) look for.
ROOT_TYPE_META: dict[str, Schema] = {
    "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this "
                   "representation of an object; servers convert the versions they know."},
    "kind": {"type": "string", "description": "Kind is a string value representing the REST resource "
             "this object represents, in CamelCase."},
}
EMBEDDED_TYPE_META: dict[str, Schema] = {
    "apiVersion": {"type": "string", "description": "apiVersion defines the versioned schema of the "
                   "embedded object."},
    "kind": {"type": "string", "description": "kind is a string value representing the type of the "
             "embedded object, in CamelCase."},
}
METADATA_DESCRIPTION = "Standard object's metadata: its name, namespace, labels, annotations and server-kept fields."
_JUNCTIONS = ("allOf", "anyOf", "oneOf", "not")


def metadata_ref(prefix: str) -> Schema:
    return meta.described({"$ref": prefix + meta.OBJECT_META}, METADATA_DESCRIPTION)


def published(schema: Schema, prefix: str) -> Schema:
    """The definition of a CRD version's kind (without its GVK extension) for the document whose
    references start with ``prefix``."""
    v2 = prefix == "#/definitions/"
    if v2 and schema.get(PRESERVE) is True:
        return {"type": "object"}
    out = _node(copy.deepcopy(schema), prefix, v2)
    _add_type_meta(out, prefix, ROOT_TYPE_META)
    return out


def _add_type_meta(node: Schema, prefix: str, described: dict[str, Schema]) -> None:
    props = node.setdefault("properties", {})
    for name, s in described.items():
        props.setdefault(name, dict(s))
    props["metadata"] = metadata_ref(prefix)


def _node(s: Schema, prefix: str, v2: bool) -> Schema:
    props = s.get("properties")
    nullable = {k for k, v in props.items() if isinstance(v, dict) and v.get("nullable") is True} \
        if isinstance(props, dict) else set()
    for key in ("properties", "patternProperties", "definitions"):
        if isinstance(s.get(key), dict):
            s[key] = {k: _node(v, prefix, v2) if isinstance(v, dict) else v for k, v in s[key].items()}
    for key in ("items", "additionalProperties", "additionalItems"):
        if isinstance(s.get(key), dict):
            s[key] = _node(s[key], prefix, v2)
    if s.get(EMBEDDED) is True and not (v2 and s.get(PRESERVE) is True):
        _add_type_meta(s, prefix, EMBEDDED_TYPE_META)
        required = [r for r in s.get("required") or [] if r not in ("kind", "apiVersion")]
        s["required"] = ["kind", "apiVersion", *required]
    return _for_v2(s, nullable) if v2 else s


def _for_v2(s: Schema, nullable_properties: set[str]) -> Schema:
    """kubectl's v2 validation knows neither nullable values (a nullable field is published
    untyped and not required) nor open objects (structure under one is dropped)."""
    for key in (*_JUNCTIONS, "default"):
        s.pop(key, None)
    if s.pop("nullable", False) is True or s.get(PRESERVE) is True:
        for key in ("type", "items", "properties"):
            s.pop(key, None)
    if s.get("type") == "array" and "items" not in s:
        s.pop("type")
    if s.get("required") and nullable_properties:
        s["required"] = [r for r in s["required"] if r not in nullable_properties]
        if not s["required"]:
            s.pop("required")
    return s
