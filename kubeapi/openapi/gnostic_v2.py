"""The Swagger 2.0 document as gnostic's ``openapi.v2.Document`` protobuf.

kubectl 1.27/1.28 fetch ``/openapi/v2`` only in this form (Accept
``application/com.github.proto-openapi.spec.v2@v1.0+protobuf``); upstream produces it by
parsing its JSON with gnostic and marshalling the result, so we walk our JSON document the
same way.  Field numbers and oneofs follow gnostic's ``openapiv2/OpenAPIv2.proto``
(proto3: zero scalars are left out, present objects are written even when empty, fields in
number order).  Free-form values (``default``, ``enum``, ``example``, ``x-*`` extensions)
become ``Any{yaml}`` holding the value's JSON text, which is valid YAML for every reader.
Keys gnostic has no field for are dropped rather than failing the whole document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from kubeapi.protobuf.wire import field_bytes, field_double, field_varint

# The media type upstream answers with, whichever of the two protobuf subtypes was asked for.
PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
# What kubectl 1.27/1.28 ask for (kube-openapi's "deprecated" spelling).
PROTOBUF_V2_DEPRECATED = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

Encode = Callable[[Any], bytes]
Put = Callable[[int, Any], bytes]


# --- field kinds: (field number, JSON value) -> bytes -----------------------------------------


def _string(num: int, v: Any) -> bytes:
    return field_bytes(num, v.encode()) if isinstance(v, str) and v else b""


def _bool(num: int, v: Any) -> bytes:
    return field_varint(num, 1) if v is True else b""


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v != 0


def _double(num: int, v: Any) -> bytes:
    return field_double(num, float(v)) if _number(v) else b""


def _int64(num: int, v: Any) -> bytes:
    return field_varint(num, int(v)) if _number(v) and float(v).is_integer() else b""


def _strings(num: int, v: Any) -> bytes:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list):
        return b""
    return b"".join(field_bytes(num, s.encode()) for s in v if isinstance(s, str))


def any_value(v: Any) -> bytes:
    """gnostic's ``Any``: only ``yaml`` (field 2) is set."""
    return field_bytes(2, orjson.dumps(v))


def _any(num: int, v: Any) -> bytes:
    return field_bytes(num, any_value(v))


def _anys(num: int, v: Any) -> bytes:
    return b"".join(_any(num, x) for x in v) if isinstance(v, list) else b""


def _one(encode: Encode) -> Put:
    return lambda num, v: field_bytes(num, encode(v))


def _many(encode: Encode) -> Put:
    return lambda num, v: b"".join(field_bytes(num, encode(x)) for x in v) if isinstance(v, list) else b""


def _later(name: str) -> Encode:
    """Refer to a message encoder defined further down (the schema types are recursive)."""
    return lambda v: globals()[name](v)


def _vendor_extensions(num: int, obj: dict[str, Any]) -> bytes:
    """``repeated NamedAny vendor_extension``: every ``x-`` key, in document order."""
    return b"".join(field_bytes(num, field_bytes(1, k.encode()) + _any(2, v))
                    for k, v in obj.items() if k.startswith("x-"))


def _message(*fields: tuple[int, str, Put], ext: int = 0) -> Encode:
    """An encoder for a message whose fields map one JSON key each, plus ``x-*`` keys at
    ``ext`` (always the highest number in gnostic's messages, so written last)."""
    ordered = sorted(fields)

    def encode(obj: Any) -> bytes:
        if not isinstance(obj, dict):
            return b""
        out = bytearray()
        for num, key, put in ordered:
            if key in obj:
                out += put(num, obj[key])
        if ext:
            out += _vendor_extensions(ext, obj)
        return bytes(out)

    return encode


def _named_pairs(num: int, value: Encode, obj: dict[str, Any], keep: Callable[[str], bool]) -> bytes:
    """``repeated Named<X>{name = 1, value = 2}`` at ``num``: the kept keys, in document order."""
    return b"".join(field_bytes(num, field_bytes(1, k.encode()) + field_bytes(2, value(v)))
                    for k, v in obj.items() if keep(k))


def _named(value: Encode) -> Encode:
    """A JSON map as a message holding only its named pairs, in field 1."""
    return lambda obj: _named_pairs(1, value, obj, lambda k: True) if isinstance(obj, dict) else b""


# --- small messages -----------------------------------------------------------------------------

external_docs = _message((1, "description", _string), (2, "url", _string), ext=3)
json_reference = _message((1, "$ref", _string), (2, "description", _string))
xml = _message((1, "name", _string), (2, "namespace", _string), (3, "prefix", _string),
               (4, "attribute", _bool), (5, "wrapped", _bool), ext=6)
contact = _message((1, "name", _string), (2, "url", _string), (3, "email", _string), ext=4)
license_ = _message((1, "name", _string), (2, "url", _string), ext=3)
info = _message((1, "title", _string), (2, "version", _string), (3, "description", _string),
                (4, "termsOfService", _string), (5, "contact", _one(contact)),
                (6, "license", _one(license_)), ext=7)
tag = _message((1, "name", _string), (2, "description", _string), (3, "externalDocs", _one(external_docs)), ext=4)


def _string_array(v: Any) -> bytes:
    return _strings(1, v)


security_requirement = _named(_string_array)

# --- Schema -------------------------------------------------------------------------------------


def _type_item(v: Any) -> bytes:
    return _strings(1, v)


def _items_item(v: Any) -> bytes:
    return b"".join(field_bytes(1, schema(x)) for x in (v if isinstance(v, list) else [v]))


def _additional_properties(v: Any) -> bytes:
    """``AdditionalPropertiesItem`` oneof: schema = 1, boolean = 2 (a set oneof bool is written even if false)."""
    if isinstance(v, bool):
        return field_varint(2, int(v))
    return field_bytes(1, schema(v))


schema = _message(
    (1, "$ref", _string), (2, "format", _string), (3, "title", _string), (4, "description", _string),
    (5, "default", _any), (6, "multipleOf", _double), (7, "maximum", _double), (8, "exclusiveMaximum", _bool),
    (9, "minimum", _double), (10, "exclusiveMinimum", _bool), (11, "maxLength", _int64),
    (12, "minLength", _int64), (13, "pattern", _string), (14, "maxItems", _int64), (15, "minItems", _int64),
    (16, "uniqueItems", _bool), (17, "maxProperties", _int64), (18, "minProperties", _int64),
    (19, "required", _strings), (20, "enum", _anys), (21, "additionalProperties", _one(_additional_properties)),
    (22, "type", _one(_type_item)), (23, "items", _one(_items_item)), (24, "allOf", _many(_later("schema"))),
    (25, "properties", _one(_named(_later("schema")))), (26, "discriminator", _string),
    (27, "readOnly", _bool), (28, "xml", _one(xml)), (29, "externalDocs", _one(external_docs)),
    (30, "example", _any), ext=31)

file_schema = _message(
    (1, "format", _string), (2, "title", _string), (3, "description", _string), (4, "default", _any),
    (5, "required", _strings), (6, "type", _string), (7, "readOnly", _bool),
    (8, "externalDocs", _one(external_docs)), (9, "example", _any), ext=10)

# --- parameters, headers ------------------------------------------------------------------------

# The validation keys shared by PrimitivesItems, Header and the non-body parameter sub-schemas,
# numbered consecutively from wherever each message starts them.
_PRIMITIVE_KEYS: tuple[tuple[str, Put], ...] = (
    ("type", _string), ("format", _string), ("items", _one(_later("primitives_items"))),
    ("collectionFormat", _string), ("default", _any), ("maximum", _double), ("exclusiveMaximum", _bool),
    ("minimum", _double), ("exclusiveMinimum", _bool), ("maxLength", _int64), ("minLength", _int64),
    ("pattern", _string), ("maxItems", _int64), ("minItems", _int64), ("uniqueItems", _bool),
    ("enum", _anys), ("multipleOf", _double),
)


def _numbered(lead: tuple[tuple[str, Put], ...], tail: tuple[tuple[str, Put], ...] = ()) -> tuple[Any, ...]:
    keys = (*lead, *_PRIMITIVE_KEYS, *tail)
    return tuple((i, k, put) for i, (k, put) in enumerate(keys, 1))


def _with_ext(fields: tuple[Any, ...]) -> Encode:
    return _message(*fields, ext=len(fields) + 1)


primitives_items = _with_ext(_numbered(()))
header = _with_ext(_numbered((), (("description", _string),)))
_PARAM_LEAD: tuple[tuple[str, Put], ...] = (("required", _bool), ("in", _string), ("description", _string),
                                            ("name", _string))
header_or_path_parameter = _with_ext(_numbered(_PARAM_LEAD))
query_or_form_parameter = _with_ext(_numbered((*_PARAM_LEAD, ("allowEmptyValue", _bool))))

body_parameter = _message((1, "description", _string), (2, "name", _string), (3, "in", _string),
                          (4, "required", _bool), (5, "schema", _one(schema)), ext=6)

# NonBodyParameter oneof by ``in``: header = 1, formData = 2, query = 3, path = 4.
_NON_BODY: dict[str, tuple[int, Encode]] = {
    "header": (1, header_or_path_parameter), "formData": (2, query_or_form_parameter),
    "query": (3, query_or_form_parameter), "path": (4, header_or_path_parameter),
}


def parameter(v: Any) -> bytes:
    """``Parameter`` oneof: body_parameter = 1, non_body_parameter = 2."""
    if not isinstance(v, dict):
        return b""
    where = v.get("in")
    if where == "body":
        return field_bytes(1, body_parameter(v))
    if where in _NON_BODY:
        num, encode = _NON_BODY[where]
        return field_bytes(2, field_bytes(num, encode(v)))
    return b""


def parameters_item(v: Any) -> bytes:
    """``ParametersItem`` oneof: parameter = 1, json_reference = 2."""
    if isinstance(v, dict) and "$ref" in v:
        return field_bytes(2, json_reference(v))
    return field_bytes(1, parameter(v))


# --- responses ----------------------------------------------------------------------------------


def schema_item(v: Any) -> bytes:
    """``SchemaItem`` oneof: schema = 1, file_schema = 2 (``type: file``)."""
    if isinstance(v, dict) and v.get("type") == "file":
        return field_bytes(2, file_schema(v))
    return field_bytes(1, schema(v))


response = _message((1, "description", _string), (2, "schema", _one(schema_item)),
                    (3, "headers", _one(_named(header))), (4, "examples", _one(_named(any_value))), ext=5)


def response_value(v: Any) -> bytes:
    """``ResponseValue`` oneof: response = 1, json_reference = 2."""
    if isinstance(v, dict) and "$ref" in v:
        return field_bytes(2, json_reference(v))
    return field_bytes(1, response(v))


def _is_response_code(k: str) -> bool:
    return k == "default" or (len(k) == 3 and k.isdigit())


def responses(v: Any) -> bytes:
    """``Responses``: response_code = 1 (status codes and ``default``), vendor_extension = 2."""
    if not isinstance(v, dict):
        return b""
    return _named_pairs(1, response_value, v, _is_response_code) + _vendor_extensions(2, v)


# --- operations and paths -----------------------------------------------------------------------

operation = _message(
    (1, "tags", _strings), (2, "summary", _string), (3, "description", _string),
    (4, "externalDocs", _one(external_docs)), (5, "operationId", _string), (6, "produces", _strings),
    (7, "consumes", _strings), (8, "parameters", _many(parameters_item)), (9, "responses", _one(responses)),
    (10, "schemes", _strings), (11, "deprecated", _bool), (12, "security", _many(security_requirement)),
    ext=13)

path_item = _message(
    (1, "$ref", _string), (2, "get", _one(operation)), (3, "put", _one(operation)), (4, "post", _one(operation)),
    (5, "delete", _one(operation)), (6, "options", _one(operation)), (7, "head", _one(operation)),
    (8, "patch", _one(operation)), (9, "parameters", _many(parameters_item)), ext=10)


def paths(v: Any) -> bytes:
    """``Paths``: vendor_extension = 1, path = 2 (keys starting with ``/``)."""
    if not isinstance(v, dict):
        return b""
    return _vendor_extensions(1, v) + _named_pairs(2, path_item, v, lambda k: k.startswith("/"))


# --- security definitions -----------------------------------------------------------------------



def _scopes(v: Any) -> bytes:
    """``Oauth2Scopes``: repeated NamedString{name = 1, value = 2} in field 1."""
    if not isinstance(v, dict):
        return b""
    return b"".join(field_bytes(1, _string(1, k) + _string(2, s)) for k, s in v.items())


_OAUTH_KEYS: dict[str, tuple[int, Encode]] = {
    "implicit": (3, _message((1, "type", _string), (2, "flow", _string), (3, "scopes", _one(_scopes)),
                             (4, "authorizationUrl", _string), (5, "description", _string), ext=6)),
    "password": (4, _message((1, "type", _string), (2, "flow", _string), (3, "scopes", _one(_scopes)),
                             (4, "tokenUrl", _string), (5, "description", _string), ext=6)),
    "application": (5, _message((1, "type", _string), (2, "flow", _string), (3, "scopes", _one(_scopes)),
                                (4, "tokenUrl", _string), (5, "description", _string), ext=6)),
    "accessCode": (6, _message((1, "type", _string), (2, "flow", _string), (3, "scopes", _one(_scopes)),
                               (4, "authorizationUrl", _string), (5, "tokenUrl", _string),
                               (6, "description", _string), ext=7)),
}
basic_security = _message((1, "type", _string), (2, "description", _string), ext=3)
api_key_security = _message((1, "type", _string), (2, "name", _string), (3, "in", _string),
                            (4, "description", _string), ext=5)


def security_definitions_item(v: Any) -> bytes:
    """``SecurityDefinitionsItem`` oneof by ``type`` (and ``flow`` for oauth2)."""
    if not isinstance(v, dict):
        return b""
    kind = v.get("type")
    if kind == "basic":
        return field_bytes(1, basic_security(v))
    if kind == "apiKey":
        return field_bytes(2, api_key_security(v))
    if kind == "oauth2" and v.get("flow") in _OAUTH_KEYS:
        num, encode = _OAUTH_KEYS[v["flow"]]
        return field_bytes(num, encode(v))
    return b""


# --- the document -------------------------------------------------------------------------------

document = _message(
    (1, "swagger", _string), (2, "info", _one(info)), (3, "host", _string), (4, "basePath", _string),
    (5, "schemes", _strings), (6, "consumes", _strings), (7, "produces", _strings), (8, "paths", _one(paths)),
    (9, "definitions", _one(_named(schema))), (10, "parameters", _one(_named(parameter))),
    (11, "responses", _one(_named(response))), (12, "security", _many(security_requirement)),
    (13, "securityDefinitions", _one(_named(security_definitions_item))), (14, "tags", _many(tag)),
    (15, "externalDocs", _one(external_docs)), ext=16)


def encode_v2(doc: dict[str, Any]) -> bytes:
    """The serialized ``openapi.v2.Document`` for a Swagger 2.0 document (as built by ``build_v2``)."""
    return document(doc)
