"""Compile a CEL rule once, estimate its cost against the schema it is declared on, and
evaluate it with ``self`` (and ``oldSelf`` for transition rules) bound.

The cost estimate follows the shape of upstream's: a rule that iterates lists or maps is as
expensive as the largest those collections may be, and a collection whose schema bounds it
with no ``maxItems``/``maxProperties`` is as large as a request body allows.  A rule over the
budget is refused when the CRD is written, as upstream refuses it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lark import Token, Tree

Schema = dict[str, Any]

# Upstream's limits (k8s.io/apiserver pkg/apis/cel): one rule's estimated cost, and what all
# rules of a CRD may cost together.
PER_CALL_LIMIT = 1_000_000
STATIC_ESTIMATED_COST_LIMIT = 10_000_000
STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000
MAX_REQUEST_BYTES = 3 * 1024 * 1024
COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})
STRING_SCANS = frozenset({"matches", "contains", "startsWith", "endsWith", "indexOf", "lastIndexOf",
                          "split", "replace", "lowerAscii", "upperAscii"})

_env: Any = None
_env_lock = threading.Lock()


def environment() -> Any:
    """celpy's environment, built on first use: building its parser takes about a second, which
    a server that never sees a CEL rule should not pay at start."""
    global _env
    with _env_lock:
        if _env is None:
            import celpy

            _env = celpy.Environment()
    return _env


class CompileError(Exception):
    """The rule does not compile (or names a field its schema does not declare)."""


class EvalError(Exception):
    """The rule failed to evaluate (no such key, wrong types, cost)."""


@dataclass
class CostEstimate:
    cost: int
    cardinality: int  # how many times the rule runs per object (it sits under lists/maps)


def _min_size(schema: Schema | None) -> int:
    """The smallest JSON serialisation a value of this schema can have (with a separator)."""
    t = (schema or {}).get("type")
    if t == "string":
        return 3
    if t in ("integer", "number", "boolean"):
        return 2
    return 3


def max_cardinality(schema: Schema | None) -> int:
    """How many elements a list or map at this schema may have."""
    s = schema or {}
    if s.get("type") == "array":
        if "maxItems" in s:
            return int(s["maxItems"])
        return MAX_REQUEST_BYTES // _min_size(s.get("items"))
    if "maxProperties" in s:
        return int(s["maxProperties"])
    return MAX_REQUEST_BYTES // (_min_size(s.get("additionalProperties")) + 2)


def _max_length(schema: Schema | None) -> int:
    s = schema or {}
    if "maxLength" in s:
        return int(s["maxLength"])
    return MAX_REQUEST_BYTES


def _child(schema: Schema | None, name: str) -> Schema | None:
    s = schema or {}
    props = s.get("properties") or {}
    if name in props:
        return props[name]
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        return ap
    return None


def _declares(schema: Schema | None, name: str) -> bool:
    s = schema or {}
    if not s or s.get("x-kubernetes-preserve-unknown-fields") or s.get("additionalProperties"):
        return True
    if s.get("type") != "object" or "properties" not in s:
        return True
    return name in (s.get("properties") or {}) or (bool(s.get("x-kubernetes-embedded-resource")) and
                                                   name in ("apiVersion", "kind", "metadata"))


class _Analyzer:
    """Walks celpy's parse tree: resolves ``self.a.b`` paths against the schema, checks that the
    fields exist, and multiplies out comprehension and string-scan costs."""

    def __init__(self, schema: Schema, old_schema_name: str = "oldSelf") -> None:
        self.schema = schema
        self.uses_old_self = False
        self.errors: list[str] = []
        self.vars: dict[str, Schema | None] = {}  # comprehension variables -> element schema

    def path_schema(self, node: Any) -> tuple[bool, Schema | None]:
        """(resolved, schema) for a ``self``/``oldSelf`` field path, else (False, None)."""
        if isinstance(node, Tree):
            if node.data == "ident":
                name = str(node.children[0])
                if name in ("self", "oldSelf"):
                    return True, self.schema
                if name in self.vars:
                    return True, self.vars[name]
                return False, None
            if node.data == "member_dot" and len(node.children) == 2:
                ok, s = self.path_schema(node.children[0])
                if not ok:
                    return False, None
                name = str(node.children[1])
                if s is not None and not _declares(s, name):
                    self.errors.append(f"undefined field '{name}'")
                return True, _child(s, name)
            if node.data == "member_index" and len(node.children) == 2:
                ok, s = self.path_schema(node.children[0])
                if not ok:
                    return False, None
                s = s or {}
                return True, s.get("items") if s.get("type") == "array" else _child(s, "")
            if len(node.children) == 1:
                return self.path_schema(node.children[0])
        return False, None

    def cost(self, node: Any) -> int:
        if isinstance(node, Token):
            if node.type == "IDENT" and str(node) == "oldSelf":
                self.uses_old_self = True
            return 0
        if not isinstance(node, Tree):
            return 0
        if node.data == "ident" and str(node.children[0]) == "oldSelf":
            self.uses_old_self = True
        if node.data == "member_dot":
            self.path_schema(node)
        if node.data == "member_dot_arg" and len(node.children) >= 2:
            target, name = node.children[0], str(node.children[1])
            args = node.children[2:]
            target_cost = self.cost(target)
            body = sum(self.cost(a) for a in args) + 1
            ok, s = self.path_schema(target)
            if name in COMPREHENSIONS:
                n = max_cardinality(s) if ok else MAX_REQUEST_BYTES // 2
                var = _first_ident(args[0].children[0]) if args and isinstance(args[0], Tree) and \
                    args[0].children else None
                if var:
                    elem = (s or {}).get("items") if (s or {}).get("type") == "array" else \
                        (s or {}).get("additionalProperties") if isinstance((s or {}).get("additionalProperties"),
                                                                            dict) else None
                    self.vars[var] = elem if ok else None
                    body = sum(self.cost(a) for a in args) + 1
                    self.vars.pop(var, None)
                return target_cost + n * body
            if name in STRING_SCANS:
                n = _max_length(s) if ok else MAX_REQUEST_BYTES
                return target_cost + max(n // 10, 1) + body
            return target_cost + body
        return 1 + sum(self.cost(c) for c in node.children)


def _first_ident(node: Any) -> str | None:
    if isinstance(node, Token):
        return str(node) if node.type == "IDENT" else None
    if isinstance(node, Tree):
        for c in node.children:
            got = _first_ident(c)
            if got:
                return got
    return None


@dataclass
class Program:
    """A compiled rule.  ``last_seconds`` is how long the last evaluation took."""

    rule: str
    uses_old_self: bool
    estimated_cost: int
    _program: Any = field(repr=False)
    last_seconds: float = 0.0

    def evaluate(self, self_value: Any, old_self: Any = None) -> Any:
        import celpy

        bindings: dict[str, Any] = {"self": celpy.json_to_cel(self_value)}
        if self.uses_old_self:
            bindings["oldSelf"] = celpy.json_to_cel(old_self)
        return self.evaluate_bindings(bindings)

    def evaluate_bindings(self, bindings: dict[str, Any]) -> Any:
        """Evaluate with ``bindings`` (celpy values) as the activation."""
        start = time.perf_counter()
        try:
            result = self._program.evaluate(bindings)
        except Exception as e:  # celpy raises its own CELEvalError and Python errors alike
            raise EvalError(error_text(e)) from None
        finally:
            self.last_seconds = time.perf_counter() - start
        if isinstance(result, Exception):
            raise EvalError(error_text(result))
        return result


def error_text(e: BaseException) -> str:
    """An evaluation error in cel-go's words (``no such overload``, ``no such key: x``), which
    is what upstream's messages quote."""
    args: tuple[Any, ...] = tuple(getattr(e, "args", ()))
    cause = args[1] if len(args) > 1 and isinstance(args[1], type) else None
    first = str(args[0]) if args else ""
    if cause is TypeError or first.startswith("found no matching overload"):
        return "no such overload"
    if cause is ValueError and len(args) > 2 and args[2]:  # a library function's own message
        return str(args[2][0])
    if cause is KeyError:
        key = first.rsplit(": ", 1)[-1].strip("'") if "no such member" in first else ""
        return f"no such key: {key}" if key else "no such key"
    return first or str(e) or type(e).__name__


def compile_rule(rule: str, schema: Schema) -> Program:
    """Parse ``rule``, check its field references against ``schema`` and estimate its cost
    (cached: a CRD's rules are compiled when it is validated and again when it is served)."""
    return _compile_cached(rule, json.dumps(schema, sort_keys=True, default=str))


@lru_cache(maxsize=1024)
def _compile_cached(rule: str, schema_json: str) -> Program:
    from kubeapi.cel.library import FUNCTIONS

    schema = json.loads(schema_json)
    env = environment()
    try:
        ast = env.compile(rule)
    except Exception as e:
        text = str(e).strip().splitlines()
        raise CompileError("ERROR: <input>: Syntax error: " + (text[0] if text else "invalid expression")) \
            from None
    program = env.program(ast, functions=FUNCTIONS)
    if schema is None:
        return Program(rule, False, 0, program)
    analyzer = _Analyzer(schema)
    cost = analyzer.cost(ast)
    if analyzer.errors:
        raise CompileError(f"ERROR: <input>: {analyzer.errors[0]}")
    return Program(rule, analyzer.uses_old_self, cost, program)


def compile_expression(expression: str) -> Program:
    """An admission policy's expression: no schema to check it against at write time (the
    policy's types are checked later, against the kinds it matches), so only its syntax."""
    return _compile_cached(expression, "null")


def to_python(value: Any) -> Any:
    """A celpy result as plain Python (for messageExpression strings and booleans)."""
    from celpy import celtypes

    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    return value
