"""``x-kubernetes-validations``: compile a version's CEL rules once (refusing a CRD whose rules
do not compile or cost too much), then check objects against them on create and update.

Transition rules (those naming ``oldSelf``) run only on update and only where the old object
has a value at the same place: object properties and map entries are matched by key, items of
``x-kubernetes-list-type: map`` lists by their map keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubeapi.api.types import FieldError
from kubeapi.cel import CompileError, EvalError, Program, compile_rule
from kubeapi.cel.engine import (
    PER_CALL_LIMIT,
    STATIC_ESTIMATED_CRD_COST_LIMIT,
    max_cardinality,
    to_python,
)

Schema = dict[str, Any]
REASONS = {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}
COST_HINT = ("(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, "
             "maps, and strings are declared)")


@dataclass
class Rule:
    program: Program
    message: str = ""
    message_expression: Program | None = None
    reason: str = "FieldValueInvalid"
    field_path: str = ""


@dataclass
class Node:
    """The compiled rules of one schema node and of the nodes below it."""

    schema: Schema
    rules: list[Rule] = field(default_factory=list)
    properties: dict[str, Node] = field(default_factory=dict)
    additional: Node | None = None
    items: Node | None = None

    def empty(self) -> bool:
        return not self.rules and not self.properties and self.additional is None and self.items is None


def _type_name(s: Schema) -> str:
    if s.get("x-kubernetes-int-or-string"):
        return "integer"
    return str(s.get("type") or "object")


def compile_schema(schema: Schema, path: str) -> tuple[Node | None, list[FieldError]]:
    """Compile every rule under ``schema``; errors are the CRD's 422 causes."""
    errs: list[FieldError] = []
    total = [0]
    node = _compile(schema, path, 1, errs, total)
    if total[0] > STATIC_ESTIMATED_CRD_COST_LIMIT:
        errs.append(FieldError("FieldValueForbidden", path,
                               f"x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema "
                               f"exceeds budget by factor of {total[0] / STATIC_ESTIMATED_CRD_COST_LIMIT:.6g}x "
                               + COST_HINT))
    return (None if node is None or node.empty() else node), errs


def _compile(s: Any, path: str, cardinality: int, errs: list[FieldError], total: list[int]) -> Node | None:
    if not isinstance(s, dict):
        return None
    node = Node(s)
    for i, r in enumerate(s.get("x-kubernetes-validations") or []):
        rpath = f"{path}.x-kubernetes-validations[{i}]"
        if not isinstance(r, dict) or not r.get("rule"):
            errs.append(FieldError("FieldValueRequired", f"{rpath}.rule"))
            continue
        try:
            prog = compile_rule(str(r["rule"]), s)
        except CompileError as e:
            errs.append(FieldError("FieldValueInvalid", f"{rpath}.rule", f"compilation failed: {e}",
                                   r["rule"], True))
            continue
        if prog.estimated_cost > PER_CALL_LIMIT:
            errs.append(FieldError("FieldValueForbidden", f"{rpath}.rule",
                                   f"estimated rule cost exceeds budget by factor of "
                                   f"{prog.estimated_cost / PER_CALL_LIMIT:.6g}x {COST_HINT}"))
            continue
        total[0] += prog.estimated_cost * cardinality
        rule = Rule(prog, message=str(r.get("message") or ""), field_path=str(r.get("fieldPath") or ""))
        reason = r.get("reason")
        if reason:
            if reason not in REASONS:
                errs.append(FieldError("FieldValueNotSupported", f"{rpath}.reason",
                                       'supported values: "FieldValueDuplicate", "FieldValueForbidden", '
                                       '"FieldValueInvalid", "FieldValueRequired"', reason, True))
            rule.reason = str(reason)
        if r.get("messageExpression"):
            try:
                rule.message_expression = compile_rule(str(r["messageExpression"]), s)
            except CompileError as e:
                errs.append(FieldError("FieldValueInvalid", f"{rpath}.messageExpression",
                                       f"messageExpression compilation failed: {e}", r["messageExpression"],
                                       True))
        node.rules.append(rule)
    for k in sorted(s.get("properties") or {}):
        child = _compile(s["properties"][k], f"{path}.properties[{k}]", cardinality, errs, total)
        if child is not None and not child.empty():
            node.properties[k] = child
    if isinstance(s.get("additionalProperties"), dict):
        n = cardinality * max_cardinality(s)
        child = _compile(s["additionalProperties"], f"{path}.additionalProperties", n, errs, total)
        node.additional = child if child is not None and not child.empty() else None
    if isinstance(s.get("items"), dict):
        n = cardinality * max_cardinality(s)
        child = _compile(s["items"], f"{path}.items", n, errs, total)
        node.items = child if child is not None and not child.empty() else None
    return node


_MISSING = object()


def validate(node: Node | None, new: Any, old: Any = _MISSING) -> list[FieldError]:
    """Run the rules over ``new`` (``old`` is the stored object on update)."""
    errs: list[FieldError] = []
    if node is not None:
        _check(node, new, old, "", errs)
    return errs


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _field_path(base: str, rel: str) -> str:
    out = base
    for name, quoted in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[['\"]([^'\"]+)['\"]\]", rel):
        out = _join(out, name or quoted)
    return out


def _schema_at(schema: Schema, rel: str) -> Schema:
    cur = schema
    for name, quoted in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[['\"]([^'\"]+)['\"]\]", rel):
        props = cur.get("properties") or {}
        nxt = props.get(name or quoted)
        if nxt is None and isinstance(cur.get("additionalProperties"), dict):
            nxt = cur["additionalProperties"]
        cur = nxt or {}
    return cur


def _check(node: Node, v: Any, ov: Any, path: str, errs: list[FieldError]) -> None:
    if v is None:
        return
    for rule in node.rules:
        if rule.program.uses_old_self and ov is _MISSING:
            continue
        where = _field_path(path, rule.field_path) if rule.field_path else path
        at = _schema_at(node.schema, rule.field_path) if rule.field_path else node.schema
        try:
            result = rule.program.evaluate(v, None if ov is _MISSING else ov)
        except EvalError as e:
            errs.append(FieldError("FieldValueInvalid", where, f"{e} evaluating rule: {rule.program.rule}",
                                   _type_name(node.schema), True))
            continue
        if to_python(result) is True:
            continue
        msg = rule.message or f"failed rule: {rule.program.rule}"
        if rule.message_expression is not None:
            try:
                text = to_python(rule.message_expression.evaluate(v, None if ov is _MISSING else ov))
                if isinstance(text, str) and text.strip():
                    msg = text
            except EvalError:
                pass
        if rule.reason == "FieldValueInvalid":
            errs.append(FieldError("FieldValueInvalid", where, msg, _type_name(at), True))
        else:
            errs.append(FieldError(rule.reason, where, msg))
    if isinstance(v, dict):
        old = ov if isinstance(ov, dict) else {}
        for k, child in node.properties.items():
            if k in v:
                _check(child, v[k], old.get(k, _MISSING), _join(path, k), errs)
        if node.additional is not None:
            for k, item in v.items():
                if k not in (node.schema.get("properties") or {}):
                    _check(node.additional, item, old.get(k, _MISSING), _join(path, k), errs)
    elif isinstance(v, list) and node.items is not None:
        keys = node.schema.get("x-kubernetes-list-map-keys") or []
        old_by_key: dict[tuple[Any, ...], Any] = {}
        if node.schema.get("x-kubernetes-list-type") == "map" and isinstance(ov, list):
            for item in ov:
                if isinstance(item, dict):
                    old_by_key[tuple(item.get(k) for k in keys)] = item
        for i, item in enumerate(v):
            old_item = old_by_key.get(tuple(item.get(k) for k in keys), _MISSING) \
                if old_by_key and isinstance(item, dict) else _MISSING
            _check(node.items, item, old_item, f"{path}[{i}]", errs)
