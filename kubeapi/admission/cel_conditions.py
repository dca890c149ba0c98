"""What admission's CEL expressions see, and how match conditions decide.

Webhooks and ValidatingAdmissionPolicies share the variables (``object``, ``oldObject``,
``request``; policies add ``namespaceObject``, ``params`` and ``variables``) and the rule for
``matchConditions``: all true, and the webhook or policy applies; one false, and it does not;
one that errors is a refusal unless the failure policy is Ignore.
"""

from __future__ import annotations

from typing import Any

from kubeapi.admission.interface import Attributes
from kubeapi.cel import CompileError, EvalError, compile_expression
from kubeapi.cel.engine import to_python

Obj = dict[str, Any]


def request_bindings(attrs: Attributes, request: Obj) -> dict[str, Any]:
    """``object``, ``oldObject`` and ``request`` (whose object and oldObject are the same
    values: converting an object to CEL costs about as much as evaluating an expression)."""
    import celpy
    from celpy import celtypes

    obj, old = celpy.json_to_cel(attrs.object), celpy.json_to_cel(attrs.old_object)
    req = celtypes.MapType({celtypes.StringType(k): celpy.json_to_cel(v) for k, v in request.items()
                            if k not in ("object", "oldObject")})
    req[celtypes.StringType("object")] = obj
    req[celtypes.StringType("oldObject")] = old
    return {"object": obj, "oldObject": old, "request": req}


def expression_error(expression: str, error: Exception) -> str:
    return f"expression '{expression}' resulted in error: {error}"


def evaluate(expression: str, bindings: dict[str, Any]) -> Any:
    """The expression's value as plain Python; CompileError or EvalError when it has none."""
    return to_python(compile_expression(expression).evaluate_bindings(bindings))


def conditions_match(conditions: list[Obj], bindings: dict[str, Any]) -> tuple[bool, str | None]:
    """(whether every condition holds, the error text of the first that could not be evaluated)."""
    for condition in conditions:
        expression = str(condition.get("expression", ""))
        try:
            if evaluate(expression, bindings) is not True:
                return False, None
        except (CompileError, EvalError) as e:
            return False, expression_error(expression, e)
    return True, None
