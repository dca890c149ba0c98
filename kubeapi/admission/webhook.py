"""MutatingAdmissionWebhook and ValidatingAdmissionWebhook: the webhook configurations in
storage are matched against each request (rules, scope, namespaceSelector, objectSelector) and
the matching webhooks are called with an AdmissionReview v1 over HTTPS (treq; caBundle trusted),
mutating ones in order with their JSONPatch applied, validating ones concurrently."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import orjson
import treq
from twisted.internet import defer
from twisted.web.client import Agent

from kubeapi import errors, kubeconfig
from kubeapi.admission.cel_conditions import conditions_match, request_bindings
from kubeapi.admission.configcache import ConfigCache
from kubeapi.admission.context import PluginContext
from kubeapi.admission.interface import Attributes
from kubeapi.registry.patch_json import apply_json_patch
from kubeapi.registry.selectors import label_selector_from_object

Obj = dict[str, Any]
# Admission's own configuration is not subject to webhooks or policies (no lock-out).
SKIPPED_RESOURCES = {("admissionregistration.k8s.io", p) for p in (
    "mutatingwebhookconfigurations", "validatingwebhookconfigurations", "validatingadmissionpolicies",
    "validatingadmissionpolicybindings", "mutatingadmissionpolicies", "mutatingadmissionpolicybindings")}


class WebhookCallError(Exception):
    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code  # the webhook's HTTP status, when it answered


def _resource_matches(items: list[str], resource: str, sub: str) -> bool:
    for item in items:
        res, _, isub = item.partition("/")
        if item == "*/*":
            return True
        if res in ("*", resource) and (isub == sub or (isub == "*" and sub) or (not isub and not sub)):
            if res == "*" and not isub and sub:
                continue
            return True
    return False


def rule_matches(rule: Obj, attrs: Attributes) -> bool:
    r = attrs.resource
    ops = rule.get("operations") or []
    if "*" not in ops and attrs.operation not in ops:
        return False
    if not any(g in ("*", r.group) for g in rule.get("apiGroups") or []):
        return False
    if not any(v in ("*", r.version) for v in rule.get("apiVersions") or []):
        return False
    if not _resource_matches(list(rule.get("resources") or []), r.plural, attrs.subresource):
        return False
    scope = rule.get("scope") or "*"
    if scope == "Cluster" and r.namespaced:
        return False
    if scope == "Namespaced" and (not r.namespaced or (r.group == "" and r.plural == "namespaces")):
        return False
    return True


def _labels(obj: Any) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {} if isinstance(obj, dict) else {}


def _dial_error(e: BaseException, url: str) -> str:
    """A failed connection in Go's net package's words, which operators grep logs for."""
    from urllib.parse import urlsplit

    from twisted.internet import error as neterr

    reasons = getattr(e, "reasons", None)
    causes = [r.value for r in reasons] if reasons else [e]
    where = urlsplit(url)
    address = f"{where.hostname}:{where.port or 443}"
    for cause in causes:
        if isinstance(cause, neterr.ConnectionRefusedError):
            return f"dial tcp {address}: connect: connection refused"
        if isinstance(cause, (neterr.TimeoutError, neterr.TCPTimedOutError)):
            return f"dial tcp {address}: i/o timeout"
        if isinstance(cause, neterr.DNSLookupError):
            return f"dial tcp: lookup {where.hostname}: no such host"
    return "; ".join(str(c) or type(c).__name__ for c in causes)


async def selectors_match(ctx: PluginContext, spec: Obj, attrs: Attributes) -> bool:
    """``spec``'s objectSelector (the new or the old object's labels) and namespaceSelector (the
    request namespace's labels; cluster-scoped objects are not subject to it) both select."""
    try:
        obj_sel = label_selector_from_object(spec.get("objectSelector") or {})
        ns_sel = label_selector_from_object(spec.get("namespaceSelector") or {})
    except ValueError:
        return False
    if not obj_sel.empty and not (obj_sel.matches(_labels(attrs.object)) or
                                    (attrs.old_object is not None and obj_sel.matches(_labels(attrs.old_object)))):
        return False
    if not ns_sel.empty:
        r = attrs.resource
        if r.group == "" and r.plural == "namespaces":
            labels = _labels(attrs.object if attrs.object is not None else attrs.old_object)
        elif attrs.namespace:
            labels = _labels(await ctx.get("namespaces", "", attrs.namespace))
        else:
            return True
        if not ns_sel.matches(labels):
            return False
    return True


def admission_request(attrs: Attributes, obj: Obj | None) -> Obj:
    """The AdmissionRequest of ``attrs``: what webhooks are sent and policies see as ``request``."""
    r = attrs.resource
    user = attrs.user
    req: Obj = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": r.group, "version": r.version, "kind": r.kind},
        "resource": {"group": r.group, "version": r.version, "resource": r.plural},
        "requestKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "requestResource": {"group": r.group, "version": r.version, "resource": r.plural},
        "name": attrs.name or ((obj or {}).get("metadata") or {}).get("name", ""),
        "operation": attrs.operation,
        "userInfo": {"username": user.name, **({"uid": user.uid} if user.uid else {}),
                     **({"groups": list(user.groups)} if user.groups else {}),
                     **({"extra": {k: list(v) for k, v in user.extra.items()}} if user.extra else {})}
        if user is not None else {},
        "object": obj, "oldObject": attrs.old_object, "dryRun": attrs.dry_run,
    }
    if attrs.subresource:
        req["subResource"] = attrs.subresource
        req["requestSubResource"] = attrs.subresource
    if attrs.namespace:
        req["namespace"] = attrs.namespace
    return req


class WebhookPlugin:
    """One instance per kind (mutating or validating); ``name`` is upstream's plugin name."""

    def __init__(self, ctx: PluginContext, mutating: bool, clock: Any = None) -> None:
        self.mutating = mutating
        self.name = "MutatingAdmissionWebhook" if mutating else "ValidatingAdmissionWebhook"
        self._configs = ConfigCache(ctx, "mutatingwebhookconfigurations" if mutating else
                                    "validatingwebhookconfigurations")
        self._ctx = ctx
        self._clock = clock
        self.metrics: Any = None  # the server's Metrics (set by the APIServer)
        self._agents: dict[bytes, Agent] = {}

    def _reactor(self) -> Any:
        if self._clock is not None:
            return self._clock
        from twisted.internet import reactor
        return reactor

    async def _webhooks(self) -> list[Obj]:
        configs = await self._configs.items()
        return [w for c in configs for w in c.get("webhooks") or [] if isinstance(w, dict)]

    async def _matches(self, hook: Obj, attrs: Attributes) -> bool:
        if not any(rule_matches(rule, attrs) for rule in hook.get("rules") or []):
            return False
        if not await selectors_match(self._ctx, hook, attrs):
            return False
        conditions = hook.get("matchConditions")
        if not conditions:
            return True
        matched, error = conditions_match(conditions, request_bindings(attrs, admission_request(attrs, attrs.object)))
        if error is not None and (hook.get("failurePolicy") or "Fail") == "Fail":
            raise errors.forbidden(attrs.resource.plural, attrs.resource.group, attrs.object_name(), error)
        return matched

    def _agent(self, ca: bytes) -> Agent:
        agent = self._agents.get(ca)
        if agent is None:
            agent = self._agents[ca] = Agent(self._reactor(), contextFactory=kubeconfig.ca_bundle_policy(ca or None))
        return agent

    def _review(self, attrs: Attributes, obj: Obj | None) -> Obj:
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": admission_request(attrs, obj)}

    async def _call(self, hook: Obj, review: Obj) -> Obj:
        cc = hook.get("clientConfig") or {}
        ca = base64.b64decode(cc["caBundle"]) if cc.get("caBundle") else b""
        url = cc.get("url")
        if not url and cc.get("service"):
            svc = cc["service"]
            found = await self._ctx.get("services", svc.get("namespace", ""), svc.get("name", ""))
            ip = ((found or {}).get("spec") or {}).get("clusterIP")
            if not ip:
                raise WebhookCallError(f'failed to call webhook: service "{svc.get("namespace")}/{svc.get("name")}" '
                                       "not found")
            url = f"https://{ip}:{svc.get('port', 443)}{svc.get('path') or ''}"
        if "v1" not in (hook.get("admissionReviewVersions") or ["v1"]):
            raise WebhookCallError("webhook does not accept v1 AdmissionReview")
        timeout = float(hook.get("timeoutSeconds") or 10)
        url = f'{url}{"&" if "?" in str(url) else "?"}timeout={int(timeout)}s'  # as upstream tells the webhook
        try:
            headers: dict[bytes | str, list[bytes | str]] = {"Content-Type": ["application/json"],
                                                             "Accept": ["application/json"]}
            d = treq.post(url, data=orjson.dumps(review), agent=self._agent(ca),  # type: ignore[arg-type]
                          headers=headers,
                          timeout=timeout, reactor=self._reactor())
            resp = await d
            body = await resp.content()
        except defer.CancelledError:
            raise WebhookCallError(f'failed to call webhook: Post "{url}": context deadline exceeded') from None
        except Exception as e:
            raise WebhookCallError(f'failed to call webhook: Post "{url}": {_dial_error(e, url)}') from None
        if resp.code < 200 or resp.code >= 300:
            raise WebhookCallError(f"received invalid webhook response: expected response code 200, got {resp.code}",
                                   resp.code)
        try:
            reply = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise WebhookCallError("received invalid webhook response: not JSON") from None
        response = reply.get("response") if isinstance(reply, dict) else None
        if not isinstance(response, dict):
            raise WebhookCallError("expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, "
                                   "got no response")
        if response.get("uid") != review["request"]["uid"]:
            raise WebhookCallError(f"expected response.uid=\"{review['request']['uid']}\", "
                                   f"got \"{response.get('uid', '')}\"")
        return response

    @staticmethod
    def _denied(hook: Obj, response: Obj) -> errors.StatusError:
        st = response.get("status") or {}
        code = int(st.get("code") or 0)
        code = code if code >= 400 else 400
        prefix = f'admission webhook "{hook.get("name", "")}" denied the request'
        if st.get("message"):
            msg = f"{prefix}: {st['message']}"
        elif st.get("reason"):
            msg = f"{prefix}: {st['reason']}"
        else:
            msg = f"{prefix} without explanation"
        err = errors.StatusError(code, st.get("reason") or "", msg)
        if st.get("details"):
            err.details = st["details"]
        return err

    async def _run(self, hook: Obj, attrs: Attributes) -> Obj | None:
        """Call one webhook; the reply, or None when its failure is ignored."""
        if attrs.dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise errors.bad_request(f'admission webhook "{hook.get("name", "")}" does not support dry run')
        name = str(hook.get("name", ""))
        started = time.perf_counter()
        try:
            response = await self._call(hook, self._review(attrs, attrs.object))
        except WebhookCallError as e:
            self._observe(name, attrs, True, started, e.code)
            if (hook.get("failurePolicy") or "Fail") == "Ignore":
                if self.metrics is not None:
                    self.metrics.webhook_fail_open(name, self._type)
                return None
            if self.metrics is not None:
                self.metrics.webhook_rejected(name, self._type, attrs.operation, "calling_webhook_error", 500)
            raise errors.internal_error(f'failed calling webhook "{name}": {e}') from None
        if not response.get("allowed"):
            denied = self._denied(hook, response)
            self._observe(name, attrs, True, started, 200)
            if self.metrics is not None:
                self.metrics.webhook_rejected(name, self._type, attrs.operation, "no_error", denied.code)
            raise denied
        self._observe(name, attrs, False, started, 200)
        return response

    def use_metrics(self, metrics: Any) -> None:
        self.metrics = metrics

    @property
    def _type(self) -> str:
        return "admit" if self.mutating else "validating"

    def _observe(self, name: str, attrs: Attributes, rejected: bool, started: float, code: int) -> None:
        if self.metrics is not None:
            self.metrics.observe_webhook(name, self._type, attrs.operation, rejected,
                                         time.perf_counter() - started, code)

    def _apply(self, hook: Obj, attrs: Attributes, response: Obj) -> bool:
        patch = response.get("patch")
        if not patch or attrs.object is None:
            return False
        if response.get("patchType") != "JSONPatch":
            raise errors.internal_error(f'failed calling webhook "{hook.get("name", "")}": expected patchType '
                                        f'JSONPatch, got {response.get("patchType", "")}')
        try:
            ops = orjson.loads(base64.b64decode(patch))
            patched = apply_json_patch(attrs.object, ops)
        except Exception as e:
            raise errors.internal_error(f'failed calling webhook "{hook.get("name", "")}": {e}') from None
        changed = patched != attrs.object
        attrs.object.clear()
        attrs.object.update(patched)
        return bool(changed)

    async def admit(self, attrs: Attributes) -> None:
        if not self.mutating or (attrs.resource.group, attrs.resource.plural) in SKIPPED_RESOURCES:
            return
        hooks = [h for h in await self._webhooks() if await self._matches(h, attrs)]
        last_change = -1
        for i, hook in enumerate(hooks):
            response = await self._run(hook, attrs)
            if response is not None and self._apply(hook, attrs, response):
                last_change = i
        # reinvocationPolicy IfNeeded: once more for those that ran before a later webhook's change.
        for i, hook in enumerate(hooks):
            if i < last_change and hook.get("reinvocationPolicy") == "IfNeeded":
                response = await self._run(hook, attrs)
                if response is not None:
                    self._apply(hook, attrs, response)

    async def validate(self, attrs: Attributes) -> None:
        if self.mutating or (attrs.resource.group, attrs.resource.plural) in SKIPPED_RESOURCES:
            return
        hooks = [h for h in await self._webhooks() if await self._matches(h, attrs)]
        if not hooks:
            return
        results = await defer.DeferredList(
            [defer.Deferred.fromCoroutine(self._run(h, attrs)) for h in hooks], consumeErrors=True)
        for ok, value in results:
            if not ok:
                failure: Any = value
                failure.raiseException()
