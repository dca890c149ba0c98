"""Checks of a decoded object against its OpenAPI v3 structural schema.

Built-in kinds and CRDs fail differently on the same mistake: for a built-in kind
kube-apiserver's typed decoder rejects a wrong JSON type with 400 BadRequest and a
Go ``json: cannot unmarshal ...`` message, while CRDs report 422 Invalid with a
``FieldValueTypeInvalid`` cause.  ``check_types`` returns the errors and the store
chooses (``decode_error_message`` renders the built-in form).  ``unknown_fields`` /
``prune`` serve ``fieldValidation=Strict|Warn|Ignore``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from kubeapi.api import generated
from kubeapi.api.types import FieldError
from kubeapi.errors import StatusError, bad_request
from kubeapi.jsontypes import go_kind, schema_type

Schema = dict[str, Any]

_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_INT_OR_STRING = "x-kubernetes-int-or-string"
_EMBEDDED = "x-kubernetes-embedded-resource"


# An object's metadata, wherever an object is (the root, an embedded resource).
OBJECT_META: Schema = {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


# id(schema) -> (schema, resolved): holding the schema keeps its id from being reused.
_RESOLVED: dict[int, tuple[Schema, Schema | None]] = {}


def resolve(schema: Schema | None) -> Schema | None:
    """Unwrap the ``allOf: [one]`` form upstream's generator puts around a shared type, and
    follow ``$ref`` into the generated definitions (the referrer's own keys are kept).
    Remembered per schema object: the same few are resolved on every write."""
    if not schema:
        return schema
    known = _RESOLVED.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    out = _resolve(schema)
    if len(_RESOLVED) > 20_000:  # CRD schemas come and go
        _RESOLVED.clear()
    _RESOLVED[id(schema)] = (schema, out)
    return out


def _resolve(schema: Schema | None) -> Schema | None:
    while schema:
        if "allOf" in schema and len(schema["allOf"]) == 1 and "properties" not in schema:
            inner = dict(schema["allOf"][0])
            skip = "allOf"
        elif isinstance(schema.get("$ref"), str):
            inner = dict(generated.definition(schema["$ref"]) or {})
            skip = "$ref"
        else:
            break
        for k, v in schema.items():
            if k != skip:
                inner.setdefault(k, v)
        schema = inner
    return schema


def property_schema(schema: Schema | None, key: str) -> Schema | None:
    """The schema of ``key`` inside an object schema (properties, then additionalProperties)."""
    schema = resolve(schema)
    if not schema:
        return None
    props = schema.get("properties")
    if isinstance(props, dict) and key in props:
        return resolve(props[key])
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return resolve(extra)
    return None


def items_schema(schema: Schema | None) -> Schema | None:
    schema = resolve(schema)
    if not schema:
        return None
    items = schema.get("items")
    return resolve(items) if isinstance(items, dict) else None


def _type_ok(value: Any, schema: Schema) -> bool:
    if schema.get(_INT_OR_STRING):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    want = schema.get("type")
    if not want:
        return True
    got = schema_type(value)
    if want == got:
        return True
    if want == "number" and got == "integer":
        return True
    if want == "integer" and got == "number" and float(value).is_integer():
        return True
    return False


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_types(obj: Any, schema: Schema | None, path: str = "") -> list[FieldError]:
    """Every place where ``obj`` has a JSON type its schema does not allow.

    ``null`` is accepted anywhere (decoders treat it as "unset"), as upstream does for
    nullable-less built-in types.  Each error is ``FieldValueTypeInvalid`` with the
    detail CRD validation uses, e.g. ``must be of type integer``."""
    errs: list[FieldError] = []
    _check(obj, resolve(schema), path, errs)
    return errs


def _check(obj: Any, schema: Schema | None, path: str, errs: list[FieldError]) -> None:
    if not schema or obj is None:
        return
    if not _type_ok(obj, schema):
        want = "integer,string" if schema.get(_INT_OR_STRING) else schema.get("type", "")
        got = schema_type(obj)
        errs.append(FieldError("FieldValueTypeInvalid", path,
                               f'{path or "body"} in body must be of type {want}: "{got}"', got, True))
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            sub = property_schema(schema, k)
            if sub is not None:
                _check(v, sub, _child(path, k), errs)
    elif isinstance(obj, list):
        sub = items_schema(schema)
        for i, v in enumerate(obj):
            _check(v, sub, f"{path}[{i}]", errs)


_GO_TYPES = {"integer": "int64", "number": "float64", "string": "string", "boolean": "bool",
             "array": "[]interface {}", "object": "map[string]interface {}"}
_GO_VALUE_KIND = {"string": "string", "integer": "number", "number": "number", "boolean": "bool",
                  "array": "array", "object": "object"}


def decode_error_message(err: FieldError, kind: str, schema: Schema | None = None) -> str:
    """The Go decoder's wording for a built-in kind, e.g. ``json: cannot unmarshal string
    into Go struct field DeploymentSpec.spec.replicas of type int32`` (approximated: the Go
    struct name is derived from the kind and the top-level field)."""
    got = _GO_VALUE_KIND.get(str(err.value), "value")
    field_path = err.field
    top = field_path.split(".", 1)[0].split("[", 1)[0]
    struct = kind + (top[:1].upper() + top[1:] if top in ("spec", "status") else "")
    want = err.detail.rsplit(" must be of type ", 1)[-1].split(":", 1)[0].split(",", 1)[0]
    go_type = {"integer": "int32"}.get(want, _GO_TYPES.get(want, want))
    return f"json: cannot unmarshal {got} into Go struct field {struct}.{field_path} of type {go_type}"


def type_errors_as_bad_request(errs: list[FieldError], kind: str) -> StatusError:
    """400 BadRequest as upstream's typed decoder answers for a built-in kind."""
    return bad_request(decode_error_message(errs[0], kind))


def _preserves(schema: Schema) -> bool:
    return bool(schema.get(_PRESERVE)) or schema.get("additionalProperties") is True


def _known_meta(path: str) -> bool:
    return path in ("apiVersion", "kind", "metadata")


def unknown_fields(obj: Any, schema: Schema | None, path: str = "") -> list[str]:
    """Dotted paths (``spec.foo``, ``spec.containers[0].bar``) of fields the schema does not
    declare.  Subtrees under ``x-kubernetes-preserve-unknown-fields`` or a schema-valued
    ``additionalProperties`` are not reported.  An object schema without ``properties``
    and without ``additionalProperties`` is treated as opaque (nothing reported)."""
    out: list[str] = []
    _unknown(obj, resolve(schema), path, out)
    return out


def _unknown(obj: Any, schema: Schema | None, path: str, out: list[str]) -> None:
    if not schema:
        return
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if _preserves(schema) and not props:
            return
        for k, v in obj.items():
            p = _child(path, k)
            if isinstance(props, dict) and k in props:
                _unknown(v, resolve(props[k]), p, out)
            elif isinstance(extra, dict):
                _unknown(v, resolve(extra), p, out)
            elif props is None and extra is None:
                continue  # opaque object
            elif _preserves(schema):
                continue
            elif schema.get(_EMBEDDED) and _known_meta(k):
                continue
            else:
                out.append(p)
    elif isinstance(obj, list):
        sub = items_schema(schema)
        for i, v in enumerate(obj):
            _unknown(v, sub, f"{path}[{i}]", out)


def prune(obj: Any, schema: Schema | None) -> Any:
    """A copy of ``obj`` without the fields ``unknown_fields`` would report."""
    obj = copy.deepcopy(obj)
    _prune(obj, resolve(schema))
    return obj


def _prune(obj: Any, schema: Schema | None) -> None:
    if not schema:
        return
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if _preserves(schema) and not props:
            return
        for k in list(obj):
            if isinstance(props, dict) and k in props:
                _prune(obj[k], resolve(props[k]))
            elif isinstance(extra, dict):
                _prune(obj[k], resolve(extra))
            elif (props is None and extra is None) or _preserves(schema):
                continue
            elif schema.get(_EMBEDDED) and _known_meta(k):
                continue
            else:
                del obj[k]
    elif isinstance(obj, list):
        sub = items_schema(schema)
        for v in obj:
            _prune(v, sub)


# Go keeps at most this many strict-decoding errors (duplicate and unknown fields) per body.
MAX_STRICT_ERRORS = 100


def document_order(obj: Any) -> dict[str, int]:
    """Each field path of a decoded body (``spec.ports[0].name``) and its place in the
    document: Go reports strict-decoding errors in the order it meets them."""
    order: dict[str, int] = {}
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:  # depth-first, in document order, without recursion
        path, node = stack.pop()
        if path:
            order.setdefault(path, len(order))
        if isinstance(node, dict):
            stack.extend(reversed([(_child(path, k), v) for k, v in node.items()]))
        elif isinstance(node, list):
            stack.extend(reversed([(f"{path}[{i}]", v) for i, v in enumerate(node)]))
    return order


def strict_errors(duplicates: list[str], unknown: list[str], yaml_duplicates: Sequence[str] = (),
                  order: dict[str, int] | None = None) -> list[str]:
    """The texts of a body's strict-decoding errors (each one warning under Warn), in the
    document's order when ``order`` (``document_order``) is given, deduplicated and capped as
    Go caps them."""
    out: list[str] = []
    seen: set[str] = set()
    found = [(p, f'duplicate field "{p}"') for p in duplicates] + [(p, f'unknown field "{p}"') for p in unknown]
    if order is not None:
        found.sort(key=lambda pt: order.get(pt[0], len(order)))
    texts = [*yaml_duplicates, *(text for _, text in found)]
    for text in texts:
        if text in seen:
            continue
        seen.add(text)
        out.append(text)
        if len(out) >= MAX_STRICT_ERRORS:
            break
    return out


def enforce_field_validation(mode: str, texts: list[str], warnings: list[str], refusal: str) -> None:
    """fieldValidation with ``texts`` found: Strict refuses (400 with ``refusal``), Warn (the
    default) adds each text to the request's warnings, Ignore lets them go."""
    if not texts:
        return
    mode = mode or "Warn"
    if mode == "Strict":
        raise bad_request(refusal)
    if mode == "Warn":
        warnings.extend(t for t in texts if t not in warnings)


def yaml_unmarshal_errors(lines: list[str]) -> str:
    """Go's YAML decoder lists all its complaints about one document in one error."""
    return "yaml: unmarshal errors:\n  " + "\n  ".join(lines)


def strict_decoding_message(texts: list[str]) -> str:
    """fieldValidation=Strict: the errors of ``strict_errors`` in one message, as upstream words it."""
    yaml_lines = [t for t in texts if _YAML_DUPLICATE.match(t)]
    rest = [t for t in texts if not _YAML_DUPLICATE.match(t)]
    return "strict decoding error: " + ", ".join(([yaml_unmarshal_errors(yaml_lines)] if yaml_lines else []) + rest)


_YAML_DUPLICATE = re.compile(r"line \d+: key .* already set in map$")


def default_type_meta(obj: dict[str, Any], api_version: str, kind: str) -> None:
    """apiVersion and kind omitted or empty take the endpoint's (as upstream's decoder defaults
    them from the URL); a non-string one is the 400 Go's TypeMeta decoding gives."""
    for key, value in (("apiVersion", api_version), ("kind", kind)):
        given = obj.get(key)
        if given is None or given == "":
            obj[key] = value
        elif not isinstance(given, str):
            got = go_kind(given)
            raise bad_request(f"couldn't get version/kind; json parse error: json: cannot unmarshal "
                              f"{got} into Go struct field .{key} of type string")


_FORMAT_RANGES = {"int32": (-(2 ** 31), 2 ** 31 - 1), "int64": (-(2 ** 63), 2 ** 63 - 1)}


def int_range_error(obj: Any, schema: Schema | None, kind: str) -> str:
    """Go's message for the first integer outside the range its schema's ``format`` (int32 /
    int64) allows, or "".  Iterative: bodies are depth-bounded, but this walk needs no stack."""
    stack: list[tuple[Any, Schema | None, str]] = [(obj, resolve(schema), "")]
    while stack:
        value, sch, path = stack.pop()
        if not sch:
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                stack.append((v, property_schema(sch, k), _child(path, k)))
        elif isinstance(value, list):
            sub = items_schema(sch)
            stack.extend((v, sub, path) for v in value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            bounds = _FORMAT_RANGES.get(str(sch.get("format", "")))
            if bounds and not bounds[0] <= value <= bounds[1]:
                number = str(int(value)) if isinstance(value, int) or value.is_integer() else repr(value)
                return (f"json: cannot unmarshal number {number} into Go struct field {kind}.{path} "
                        f"of type {sch['format']}")
    return ""
