"""Service-account tokens: the authenticator (bound and legacy JWTs), TokenRequest
(``POST serviceaccounts/<name>/token``) and the OIDC discovery documents.

Bound tokens carry upstream's private ``kubernetes.io`` claim (namespace, serviceaccount,
pod/secret/node refs) and are refused once the service account or the bound object is
gone or has a new uid.  Legacy tokens (issuer ``kubernetes/serviceaccount``) are valid
while their ``kubernetes.io/service-account-token`` Secret holds exactly that token.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kubeapi.api.types import FieldError, ResourceDef
from kubeapi.auth.authenticator import TokenError
from kubeapi.auth.authn import jwt
from kubeapi.auth.user import UserInfo
from kubeapi.errors import StatusError, bad_request, invalid
from kubeapi.registry.meta import format_rfc3339

if TYPE_CHECKING:
    from kubeapi.server.context import RequestContext

LEGACY_ISSUER = "kubernetes/serviceaccount"
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SA_GROUPS = "system:serviceaccounts"
LEEWAY = 60  # seconds, as go-jose's default leeway
MIN_EXPIRATION = 600
DEFAULT_EXPIRATION = 3600
WARN_ONLY_EXPIRATION = 3607  # kubelet's projected tokens: extended to a year when allowed
EXTENDED_EXPIRATION = 365 * 24 * 3600

LEGACY_NS = "kubernetes.io/serviceaccount/namespace"
LEGACY_SECRET = "kubernetes.io/serviceaccount/secret.name"
LEGACY_SA = "kubernetes.io/serviceaccount/service-account.name"
LEGACY_UID = "kubernetes.io/serviceaccount/service-account.uid"

EXTRA = "authentication.kubernetes.io/"


def username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def sa_user(namespace: str, name: str, uid: str, extra: dict[str, tuple[str, ...]] | None = None) -> UserInfo:
    return UserInfo(username(namespace, name), uid=uid, groups=(SA_GROUPS, f"{SA_GROUPS}:{namespace}"),
                    extra=extra or {})


class ServiceAccountTokens:
    """Token authenticator for JWTs from our issuers; ``server.store`` reads the objects."""

    audience_aware = True

    def __init__(self, server: Any, issuers: Sequence[str], keys: Sequence[jwt.PublicKey],
                 api_audiences: Sequence[str], *, legacy: bool = True, clock: Any = time.time) -> None:
        self.server = server
        self.issuers = list(issuers)
        self.keys = list(keys)
        self.api_audiences = list(api_audiences)
        self.legacy = legacy
        self.clock = clock

    async def _get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.server.store("", "v1", plural).get(namespace, name)
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    async def authenticate_token(self, token: str, audiences: Sequence[str] | None = None) -> UserInfo | None:
        if not jwt.looks_like_jwt(token):
            return None
        try:
            _, claims = jwt.unverified_claims(token)
        except jwt.JWTError:
            return None
        iss = claims.get("iss")
        if iss == LEGACY_ISSUER and self.legacy:
            pass
        elif iss not in self.issuers:
            return None
        try:
            claims = jwt.verify(token, self.keys)
        except jwt.JWTError as e:
            raise TokenError(f"service account token {e}") from None
        if iss == LEGACY_ISSUER:
            return await self._legacy(claims, token)
        return await self._bound(claims, list(audiences) if audiences else self.api_audiences)

    async def _legacy(self, claims: dict[str, Any], token: str) -> UserInfo:
        ns, secret_name = claims.get(LEGACY_NS), claims.get(LEGACY_SECRET)
        sa_name, sa_uid = claims.get(LEGACY_SA), claims.get(LEGACY_UID)
        if not all(isinstance(v, str) and v for v in (ns, secret_name, sa_name, sa_uid)):
            raise TokenError("service account token claims could not be validated")
        assert isinstance(ns, str) and isinstance(secret_name, str) and isinstance(sa_name, str)
        secret = await self._get("secrets", ns, secret_name)
        if secret is None or (secret.get("metadata") or {}).get("deletionTimestamp"):
            raise TokenError("service account token has been invalidated")
        stored = (secret.get("data") or {}).get("token", "")
        try:
            stored_token = base64.b64decode(stored).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            stored_token = ""
        if stored_token != token:
            raise TokenError("service account token has been invalidated")
        sa = await self._get("serviceaccounts", ns, sa_name)
        if sa is None or (sa.get("metadata") or {}).get("deletionTimestamp"):
            raise TokenError(f"service account {ns}/{sa_name} has been deleted")
        if sa["metadata"].get("uid") != sa_uid:
            raise TokenError(f"service account UID ({sa['metadata'].get('uid')}) does not match claim ({sa_uid})")
        return sa_user(ns, sa_name, str(sa_uid))

    async def _bound(self, claims: dict[str, Any], audiences: list[str]) -> UserInfo:
        now = self.clock()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if isinstance(exp, (int, float)) and now > exp + LEEWAY:
            raise TokenError("service account token has expired")
        if isinstance(nbf, (int, float)) and now < nbf - LEEWAY:
            raise TokenError("service account token is not valid yet")
        if isinstance(iat, (int, float)) and now < iat - LEEWAY:
            raise TokenError("service account token is issued in the future")
        aud = claims.get("aud")
        token_auds = [aud] if isinstance(aud, str) else list(aud or [])
        if audiences and not set(token_auds) & set(audiences):
            raise TokenError("token audiences " + repr(token_auds) + " is invalid for the target audiences "
                             + repr(audiences))
        k8s = claims.get("kubernetes.io")
        if not isinstance(k8s, dict):
            raise TokenError("service account token claims could not be validated")
        ns = k8s.get("namespace") or ""
        sa_ref = k8s.get("serviceaccount") or {}
        sa = await self._get("serviceaccounts", ns, sa_ref.get("name", "")) if ns and sa_ref.get("name") else None
        if sa is None or (sa.get("metadata") or {}).get("deletionTimestamp"):
            raise TokenError(f"service account {ns}/{sa_ref.get('name', '')} has been deleted")
        sa_uid = sa["metadata"].get("uid", "")
        if sa_uid != sa_ref.get("uid"):
            raise TokenError(f"service account UID ({sa_uid}) does not match claim ({sa_ref.get('uid')})")
        extra: dict[str, tuple[str, ...]] = {}
        for kind, plural, namespaced in (("secret", "secrets", True), ("pod", "pods", True),
                                         ("node", "nodes", False)):
            ref = k8s.get(kind)
            if not isinstance(ref, dict):
                continue
            if kind == "node" and "pod" in k8s:
                # Node info beside a pod is informational only, as upstream treats it.
                extra[EXTRA + "node-name"] = (ref.get("name", ""),)
                if ref.get("uid"):
                    extra[EXTRA + "node-uid"] = (ref["uid"],)
                continue
            obj = await self._get(plural, ns if namespaced else "", ref.get("name", ""))
            deleted = (obj or {}).get("metadata", {}).get("deletionTimestamp")
            if obj is None or (deleted and _before(deleted, now - LEEWAY)):
                raise TokenError("service account token has been invalidated")
            uid = obj["metadata"].get("uid", "")
            if uid != ref.get("uid"):
                raise TokenError(f"{kind} UID ({uid}) does not match service account {kind} ref claim "
                                 f"({ref.get('uid')})")
            if kind in ("pod", "node"):
                extra[EXTRA + f"{kind}-name"] = (ref.get("name", ""),)
                extra[EXTRA + f"{kind}-uid"] = (uid,)
        if claims.get("jti"):
            extra[EXTRA + "credential-id"] = (f"JTI={claims['jti']}",)
        return sa_user(ns, sa_ref["name"], sa_uid, extra)


def _before(rfc3339: str, ts: float) -> bool:
    from kubeapi.registry.meta import parse_rfc3339

    try:
        return parse_rfc3339(rfc3339).timestamp() < ts
    except ValueError:
        return True


class TokenIssuer:
    """Signs bound tokens for TokenRequest with --service-account-signing-key-file."""

    def __init__(self, issuer: str, key: jwt.PrivateKey, api_audiences: Sequence[str],
                 max_expiration: int = 0, clock: Any = time.time, extend_expiration: bool = True) -> None:
        self.extend_expiration = extend_expiration
        self.issuer = issuer
        self.key = key
        self.api_audiences = list(api_audiences)
        self.max_expiration = max_expiration
        self.clock = clock

    def claims(self, sa: dict[str, Any], expiration: int, audiences: list[str],
               bound: dict[str, dict[str, str]], warn_after: int = 0) -> dict[str, Any]:
        now = int(self.clock())
        meta = sa["metadata"]
        k8s: dict[str, Any] = {"namespace": meta["namespace"]}
        for kind in ("node", "pod", "secret"):
            if kind in bound:
                k8s[kind] = bound[kind]
        k8s["serviceaccount"] = {"name": meta["name"], "uid": meta.get("uid", "")}
        if warn_after:
            k8s["warnafter"] = now + warn_after
        return {"aud": audiences, "exp": now + expiration, "iat": now, "iss": self.issuer,
                "jti": str(uuid.uuid4()), "kubernetes.io": k8s, "nbf": now,
                "sub": username(meta["namespace"], meta["name"])}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.sign(claims, self.key)

    def legacy_token(self, namespace: str, sa_name: str, sa_uid: str, secret_name: str) -> str:
        """A secret-based token as kube-controller-manager's token controller writes them."""
        return jwt.sign({"iss": LEGACY_ISSUER, LEGACY_NS: namespace, LEGACY_SECRET: secret_name,
                         LEGACY_SA: sa_name, LEGACY_UID: sa_uid,
                         "sub": username(namespace, sa_name)}, self.key)


_BINDABLE = {"Pod": ("pods", True), "Secret": ("secrets", True), "Node": ("nodes", False)}


async def token_request(server: Any, ctx: RequestContext, rdef: ResourceDef) -> bytes:
    """``POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`` (upstream's TokenREST)."""
    from kubeapi.server import negotiation, responses

    issuer: TokenIssuer | None = getattr(server, "token_issuer", None)
    if issuer is None:
        raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
    ns, name = ctx.info.namespace, ctx.info.name
    limit = server.max_request_body_bytes
    content = ctx.request.content
    raw = b""
    if content is not None:
        content.seek(0)
        raw = content.read(limit + 1)
    req = negotiation.decode_body(ctx.header("content-type"), raw, limit) if raw.strip() else {}
    meta = req.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise invalid("TokenRequest", "authentication.k8s.io", name, [FieldError(
            "FieldValueInvalid", "metadata.name", "must match the service account name if specified",
            meta["name"], True)])
    if meta.get("namespace") and meta["namespace"] != ns:
        raise invalid("TokenRequest", "authentication.k8s.io", name, [FieldError(
            "FieldValueInvalid", "metadata.namespace", "must match the service account namespace if specified",
            meta["namespace"], True)])
    sa = await server.store("", "v1", "serviceaccounts").get(ns, name)
    spec = dict(req.get("spec") or {})
    audiences = list(spec.get("audiences") or issuer.api_audiences)
    expiration = spec.get("expirationSeconds")
    expiration = DEFAULT_EXPIRATION if expiration is None else expiration
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        raise bad_request("spec.expirationSeconds must be an integer")
    errs = []
    if expiration < MIN_EXPIRATION:
        errs.append(FieldError("FieldValueInvalid", "spec.expirationSeconds",
                               "may not specify a duration less than 10 minutes", expiration, True))
    if expiration > 1 << 32:
        errs.append(FieldError("FieldValueInvalid", "spec.expirationSeconds",
                               "may not specify a duration larger than 2^32 seconds", expiration, True))
    if errs:
        raise invalid("TokenRequest", "authentication.k8s.io", "", errs)
    bound: dict[str, dict[str, str]] = {}
    ref = spec.get("boundObjectRef")
    if ref:
        kind, api_version = ref.get("kind", ""), ref.get("apiVersion", "")
        if kind not in _BINDABLE or api_version not in ("v1", ""):
            gv = api_version if "/" in api_version else (f"/{api_version}" if api_version else "/")
            raise bad_request(f"cannot bind token to object of type {gv}, Kind={kind}")
        plural, namespaced = _BINDABLE[kind]
        obj = await server.store("", "v1", plural).get(ns if namespaced else "", ref.get("name", ""))
        uid = obj["metadata"].get("uid", "")
        if kind == "Pod":
            if (obj.get("spec") or {}).get("serviceAccountName", "default") != name:
                raise bad_request(f'cannot bind token for serviceaccount "{name}" to pod running with '
                                  f'different serviceaccount name.')
        if ref.get("uid") and ref["uid"] != uid:
            raise StatusError(409, "Conflict", f'Operation cannot be fulfilled on {kind} "{ref.get("name", "")}": '
                              f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
                              "record. The object might have been deleted and then recreated",
                              {"name": ref.get("name", ""), "kind": kind})
        bound[kind.lower()] = {"name": obj["metadata"]["name"], "uid": uid}
        if kind == "Pod" and (obj.get("spec") or {}).get("nodeName"):
            node_name = obj["spec"]["nodeName"]
            try:
                node = await server.store("", "v1", "nodes").get("", node_name)
                bound["node"] = {"name": node_name, "uid": node["metadata"].get("uid", "")}
            except StatusError:
                bound["node"] = {"name": node_name}
    if issuer.max_expiration and expiration > issuer.max_expiration:
        ctx.add_warning(f"requested expiration of {expiration} seconds shortened to {issuer.max_expiration} seconds")
        expiration = issuer.max_expiration
    now = issuer.clock()
    exp, warn_after = expiration, 0
    if (issuer.extend_expiration and "pod" in bound and expiration == WARN_ONLY_EXPIRATION
            and set(audiences) <= set(issuer.api_audiences)):
        exp, warn_after = EXTENDED_EXPIRATION, expiration
    claims = issuer.claims(sa, exp, audiences, bound, warn_after)
    token = issuer.sign(claims)
    out_spec: dict[str, Any] = {"audiences": audiences, "expirationSeconds": expiration}
    out_spec["boundObjectRef"] = ref if ref else None
    if not ref:
        out_spec.pop("boundObjectRef")
    out = {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": format_rfc3339(now)},
        "spec": out_spec,
        "status": {"token": token, "expirationTimestamp": format_rfc3339(now + expiration)},
    }
    o = negotiation.negotiate(ctx.header("accept"), frozenset(), True)
    return responses.write_object(ctx, 201, out, o.media_type, o.content_type)


def openid_configuration(issuer: str, jwks_uri: str, keys: Sequence[jwt.PublicKey]) -> dict[str, Any]:
    algs = sorted({jwt.algorithm(k) for k in keys}) or ["RS256"]
    return {"issuer": issuer, "jwks_uri": jwks_uri, "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": algs}


def jwks(keys: Sequence[jwt.PublicKey]) -> dict[str, Any]:
    seen: dict[str, dict[str, str]] = {}
    for k in keys:
        entry = jwt.jwk(k)
        seen.setdefault(entry["kid"], entry)
    return {"keys": list(seen.values())}
