"""ValidatingAdmissionPolicy: CEL validations, declared in the API, bound to requests.

A policy says what it can match (``matchConstraints``) and what it checks (``variables``,
``matchConditions``, ``validations``); a binding names a policy, narrows what it applies to
(``matchResources``) and says what a failed validation does (``validationActions``: Deny, Warn,
Audit).  Each request of a matched kind is checked against every (policy, binding) pair whose
matching selects it, with ``object``, ``oldObject``, ``request``, ``namespaceObject`` and
``variables`` bound.  Expressions are compiled once per text (``kubeapi.cel``); an expression
that errors is a refusal unless the policy's ``failurePolicy`` is Ignore.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from kubeapi import errors
from kubeapi.admission.cel_conditions import conditions_match, evaluate, expression_error, request_bindings
from kubeapi.admission.configcache import ConfigCache
from kubeapi.admission.context import PluginContext
from kubeapi.admission.interface import Attributes
from kubeapi.admission.webhook import SKIPPED_RESOURCES, admission_request, rule_matches, selectors_match
from kubeapi.auth.user import UserInfo
from kubeapi.cel import CompileError, EvalError, compile_expression
from kubeapi.cel import authorizer as authz
from kubeapi.registry.selectors import label_selector_from_object

Obj = dict[str, Any]
_CODES = {"Unauthorized": 401, "Forbidden": 403, "Invalid": 422, "RequestEntityTooLarge": 413}


@dataclass
class _Failure:
    """One validation that did not pass: its message and the Status reason it asks for."""

    message: str
    reason: str = "Invalid"
    configuration: bool = False  # the binding or policy cannot be applied (failurePolicy decides)
    index: int = -1  # which validation
    errored: bool = False  # an expression could not be evaluated


def _variables(declared: list[Obj], bindings: dict[str, Any]) -> Any:
    """``variables``, in the order declared (a later one may use an earlier one).  One that
    errors holds its error, so that only the expressions reading it fail."""
    import celpy
    from celpy import celtypes

    out: dict[Any, Any] = {}
    for v in declared:
        try:
            value = compile_expression(str(v.get("expression", ""))).evaluate_bindings(
                {**bindings, "variables": celtypes.MapType(out)})
        except (CompileError, EvalError) as e:
            value = celpy.CELEvalError(str(e))
        out[celtypes.StringType(str(v.get("name")))] = value
    return celtypes.MapType(out)


def _matches(match: Obj | None, attrs: Attributes) -> bool:
    """``match``'s resource rules select the request and its exclusions do not."""
    match = match or {}
    rules = match.get("resourceRules")
    if rules is not None and not any(_rule(rule, attrs) for rule in rules):
        return False
    return not any(_rule(rule, attrs) for rule in match.get("excludeResourceRules") or [])


def _rule(rule: Obj, attrs: Attributes) -> bool:
    names = rule.get("resourceNames") or []
    return rule_matches(rule, attrs) and (not names or attrs.name in names)


class ValidatingAdmissionPolicy:
    name = "ValidatingAdmissionPolicy"

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        self._policies = ConfigCache(ctx, "validatingadmissionpolicies")
        self._bindings = ConfigCache(ctx, "validatingadmissionpolicybindings")
        self.authorizer: Any = None  # the server's, for ``authorizer`` checks (set by the APIServer)
        self.metrics: Any = None  # the server's Metrics (set by the APIServer)

    def use_authorizer(self, authorizer: Any) -> None:
        self.authorizer = authorizer

    async def _ask(self, check: authz.Check) -> authz.Decision:
        from kubeapi.auth import authorizer as auth

        if self.authorizer is None:
            return authz.Decision(False, error="no authorizer")
        decision, reason = await self.authorizer.authorize(auth.Attributes(
            user=check.user, verb=check.verb, is_resource_request=not check.path, path=check.path,
            namespace=check.namespace, api_group=check.group, resource=check.resource,
            subresource=check.subresource, name=check.name))
        return authz.Decision(decision == auth.Decision.ALLOW, reason)

    async def admit(self, attrs: Attributes) -> None:
        return None

    async def validate(self, attrs: Attributes) -> None:
        r = attrs.resource
        if (r.group, r.plural) in SKIPPED_RESOURCES:
            return
        policies = await self._policies.items()
        if not policies:
            return
        by_name = {p["metadata"]["name"]: p for p in policies}
        bindings = await self._bindings.items()
        base: dict[str, Any] | None = None  # object, oldObject, request, namespaceObject: once per request
        for binding in bindings:
            spec = binding.get("spec") or {}
            policy = by_name.get(spec.get("policyName"))
            if policy is None:
                continue
            pspec = policy.get("spec") or {}
            if not _matches(pspec.get("matchConstraints"), attrs) or \
                    not await selectors_match(self._ctx, pspec.get("matchConstraints") or {}, attrs):
                continue
            if spec.get("matchResources") is not None and (
                    not _matches(spec["matchResources"], attrs) or
                    not await selectors_match(self._ctx, spec["matchResources"], attrs)):
                continue
            if base is None:
                base = await self._base_bindings(attrs)
            started = time.perf_counter()
            params, failure = await self._params(pspec, spec, attrs)
            session = authz.Session(attrs.user or UserInfo(name=""), self._ask)
            for param in params:
                failure = failure or await self._evaluate_in_rounds(policy, attrs, base, param, session)
            ignored = failure is not None and failure.configuration and pspec.get("failurePolicy") == "Ignore"
            self._observe(policy, binding, None if ignored else failure, started)
            if failure is not None and not ignored:
                self._act(policy, binding, failure, attrs)

    def use_metrics(self, metrics: Any) -> None:
        self.metrics = metrics

    def _observe(self, policy: Obj, binding: Obj, failure: _Failure | None, started: float) -> None:
        if self.metrics is None:
            return
        actions = (binding.get("spec") or {}).get("validationActions") or []
        action = "allow" if failure is None else ",".join(a.lower() for a in actions) or "deny"
        error_type = "invalid_error" if failure is not None and (failure.configuration or failure.errored) \
            else "no_error"
        self.metrics.observe_policy(policy["metadata"]["name"], binding["metadata"]["name"], error_type, action,
                                    time.perf_counter() - started)

    async def _params(self, pspec: Obj, spec: Obj, attrs: Attributes) -> tuple[list[Any], _Failure | None]:
        """The parameter objects the binding names (``[None]`` for a policy without paramKind),
        or why there are none to validate with."""
        kind = pspec.get("paramKind")
        if not kind:
            return [None], None
        ref = spec.get("paramRef")
        if not ref:
            return [], _Failure("failed to configure binding: no paramRef in binding", configuration=True)
        group, _, version = str(kind.get("apiVersion", "")).rpartition("/")
        catalog = self._ctx.catalog
        rdef = catalog.by_kind(group, str(kind.get("kind", ""))) if catalog is not None else None
        if rdef is None:
            return [], _Failure(f"failed to configure policy: failed to find resource referenced by paramKind: "
                                f"'{kind.get('apiVersion', '')}, Kind={kind.get('kind', '')}'", configuration=True)
        namespace = ""
        if rdef.namespaced:
            namespace = str(ref.get("namespace") or attrs.namespace)
            if not namespace:
                return [], _Failure("failed to configure binding: cannot use namespaced paramRef in policy "
                                    "binding that matches cluster-scoped resources", configuration=True)
        if ref.get("name"):
            found = await self._ctx.get(rdef.key_segment, namespace, str(ref["name"]))
            params = [found] if found is not None else []
        else:
            try:
                selector = label_selector_from_object(ref.get("selector") or {})
            except ValueError:
                return [], _Failure("failed to configure binding: invalid paramRef selector", configuration=True)
            params = [p for p in await self._ctx.list(rdef.key_segment, namespace)
                      if selector.matches(((p.get("metadata") or {}).get("labels")) or {})]
        if not params and ref.get("parameterNotFoundAction") != "Allow":
            return [], _Failure("failed to configure binding: no params found for policy binding with `Deny` "
                                "parameterNotFoundAction")
        return params, None

    async def _base_bindings(self, attrs: Attributes) -> dict[str, Any]:
        import celpy

        namespace = await self._ctx.get("namespaces", "", attrs.namespace) if attrs.namespace else None
        bindings = request_bindings(attrs, admission_request(attrs, attrs.object))
        bindings["namespaceObject"] = celpy.json_to_cel(namespace)
        return bindings

    async def _evaluate_in_rounds(self, policy: Obj, attrs: Attributes, base: dict[str, Any], param: Any,
                                  session: authz.Session) -> _Failure | None:
        """``_evaluate``, rerun while its ``authorizer`` checks need answers (see kubeapi.cel.authorizer)."""
        for _ in range(authz.MAX_ROUNDS):
            failure = self._evaluate(policy, attrs, base, param, session)
            if not session.pending:
                return failure
            await session.answer_pending()
        return _Failure("authorizer checks did not settle")

    def _evaluate(self, policy: Obj, attrs: Attributes, base: dict[str, Any], param: Any,
                  session: authz.Session) -> _Failure | None:
        """The first validation of ``policy`` that fails for this request, if any."""
        import celpy

        spec = policy.get("spec") or {}

        r = attrs.resource
        bindings = dict(base)
        bindings["params"] = celpy.json_to_cel(param)
        bindings["authorizer"] = authz.AuthorizerValue(session, session.user, authz.check_for(
            session.user, group=r.group, resource=r.plural, subresource=attrs.subresource,
            namespace=attrs.namespace, name=attrs.name))
        bindings["variables"] = _variables(list(spec.get("variables") or []), bindings)
        ignore = spec.get("failurePolicy") == "Ignore"
        matched, error = conditions_match(list(spec.get("matchConditions") or []), bindings)
        if error is not None:
            return None if ignore else _Failure(error, errored=True)
        if not matched:
            return None
        self._audit_annotations(policy, bindings, attrs)
        for index, validation in enumerate(spec.get("validations") or []):
            expression = str(validation.get("expression", ""))
            try:
                passed = evaluate(expression, bindings) is True
            except (CompileError, EvalError) as e:
                if ignore:
                    continue
                return _Failure(expression_error(expression, e), index=index, errored=True)
            if not passed:
                return _Failure(self._message(validation, bindings), str(validation.get("reason") or "Invalid"),
                                index=index)
        return None

    @staticmethod
    def _audit_annotations(policy: Obj, bindings: dict[str, Any], attrs: Attributes) -> None:
        """``auditAnnotations``: each valueExpression that yields a string is recorded on the
        request's audit event as ``<policy>/<key>`` (null or an error records nothing)."""
        for item in (policy.get("spec") or {}).get("auditAnnotations") or []:
            try:
                value = evaluate(str(item.get("valueExpression", "")), bindings)
            except (CompileError, EvalError):
                continue
            if isinstance(value, str) and value:
                attrs.audit_annotations[f"{policy['metadata']['name']}/{item.get('key', '')}"] = value

    @staticmethod
    def _message(validation: Obj, bindings: dict[str, Any]) -> str:
        """messageExpression's string when it yields one, else message, else the expression."""
        if validation.get("messageExpression"):
            try:
                text = evaluate(str(validation["messageExpression"]), bindings)
                if isinstance(text, str) and text.strip():
                    return text
            except (CompileError, EvalError):
                pass
        return str(validation.get("message") or f"failed expression: {validation.get('expression', '')}")

    @staticmethod
    def _act(policy: Obj, binding: Obj, failure: _Failure, attrs: Attributes) -> None:
        actions = (binding.get("spec") or {}).get("validationActions") or []
        text = f"ValidatingAdmissionPolicy '{policy['metadata']['name']}' with binding " \
               f"'{binding['metadata']['name']}' denied request: {failure.message}"
        if "Audit" in actions:
            key = "validation.policy.admission.k8s.io/validation_failure"
            entries = json.loads(attrs.audit_annotations.get(key, "[]"))
            entries.append({"message": failure.message, "policy": policy["metadata"]["name"],
                            "binding": binding["metadata"]["name"], "expressionIndex": failure.index,
                            "validationActions": list(actions)})
            attrs.audit_annotations[key] = json.dumps(entries, separators=(",", ":"))
        if "Warn" in actions:
            attrs.warnings.append(f"Validation failed for ValidatingAdmissionPolicy "
                                  f"'{policy['metadata']['name']}' with binding "
                                  f"'{binding['metadata']['name']}': {failure.message}")
        if "Deny" not in actions:
            return
        r = attrs.resource
        err = errors.forbidden(r.plural, r.group, attrs.object_name(), text)
        err.code, err.reason = _CODES.get(failure.reason, 422), failure.reason
        err.details = {**(err.details or {}), "causes": [{"message": text}]}
        raise err
