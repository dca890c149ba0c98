"""Wiring: turn the flags into the first-start PKI, the serving TLS and the authenticator
union of an APIServer.  Called by kubeapi.service; see kubeapi.auth.authn.pki for files."""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from kubeapi.auth.authenticator import RequestAuthenticator
from kubeapi.auth.authn import jwt, pki
from kubeapi.auth.authn.cabundle import CABundle

log = Logger()

RELOAD_INTERVAL = 2.0  # seconds between checks of certificate / CA files


def admin_kubeconfig_path(o: Any) -> str:
    if o["write-kubeconfig"]:
        return str(o["write-kubeconfig"])
    return os.path.join(os.path.dirname(os.path.abspath(o["data-dir"])), "kubeconfig")


def prepare_pki(o: Any, cert_dir: str, serving_names: list[str]) -> pki.PKI:
    """Create what the flags leave to us (before listening); SystemExit on failure."""
    own_client_ca = not o["client-ca-file"] or pki.same_ca(cert_dir, o["client-ca-file"])
    make_sa = not o["service-account-key-file"] and not o["service-account-signing-key-file"]
    try:
        result = pki.bootstrap(
            cert_dir, serving_names=None if o["tls-cert-file"] else serving_names,
            make_clients=own_client_ca, make_sa_keys=make_sa,
            server=pki.server_url(o["bind-address"], o["secure-port"]),
            admin_kubeconfig=admin_kubeconfig_path(o) if own_client_ca else "",
            tls_cert_file=o["tls-cert-file"] or "")
    except OSError as e:
        raise SystemExit(f"kubeapi: --cert-dir {cert_dir}: {e}") from None
    if o["tls-cert-file"]:
        result.tls_cert_file, result.tls_key_file = o["tls-cert-file"], o["tls-private-key-file"]
    return result


def client_ca_file(o: Any, p: pki.PKI) -> str:
    return str(o["client-ca-file"] or p.ca_file or "")


def build_tls(o: Any, p: pki.PKI) -> Any:
    from kubeapi.server.tls import ServingTLS

    cas = [f for f in (client_ca_file(o, p), o["requestheader-client-ca-file"]) if f]
    try:
        return ServingTLS(p.tls_cert_file, p.tls_key_file, client_ca_files=cas,
                          min_version=o["tls-min-version"], cipher_suites=o["tls-cipher-suites"],
                          sni=o["tls-sni-cert-key"])
    except Exception as e:
        raise SystemExit(f"kubeapi: cannot use serving certificate {p.tls_cert_file}: {e}") from None


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def install(server: Any, o: Any, p: pki.PKI, reactor: Any = None) -> list[Any]:
    """Configure ``server``'s authenticators, TokenRequest and discovery documents.
    Returns the reloadable pieces (each with ``check_reload()``)."""
    from kubeapi.auth.authn.bootstrap import BootstrapTokens
    from kubeapi.auth.authn.requestheader import RequestHeaderAuthenticator
    from kubeapi.auth.authn.serviceaccount import DEFAULT_ISSUER, ServiceAccountTokens, TokenIssuer
    from kubeapi.auth.authn.tokenfile import TokenFile

    reloadable: list[Any] = []
    tokens: list[Any] = []
    ca_path = client_ca_file(o, p)
    client_ca = CABundle(ca_path) if ca_path else None
    if client_ca is not None:
        reloadable.append(client_ca)
    request_header = None
    if o["requestheader-client-ca-file"]:
        rh_ca = CABundle(o["requestheader-client-ca-file"])
        reloadable.append(rh_ca)
        request_header = RequestHeaderAuthenticator(
            rh_ca, o["requestheader-allowed-names"], o["requestheader-username-headers"],
            o["requestheader-group-headers"], o["requestheader-extra-headers-prefix"],
            o["requestheader-uid-headers"])
    if o["token-auth-file"]:
        try:
            tokens.append(TokenFile.from_file(o["token-auth-file"]))
        except (OSError, ValueError) as e:
            raise SystemExit(f"kubeapi: --token-auth-file: {e}") from None

    issuers = list(o["service-account-issuer"]) or [DEFAULT_ISSUER]
    audiences = list(o["api-audiences"]) or list(issuers)
    key_files = list(o["service-account-key-file"]) or [f for f in (p.sa_key_file,) if f]
    signing_file = o["service-account-signing-key-file"] or p.sa_signing_key_file
    keys: list[jwt.PublicKey] = []
    try:
        for f in key_files:
            found = jwt.load_public_keys(_read(f))
            if not found:
                raise SystemExit(f"kubeapi: --service-account-key-file: no public keys in {f}")
            keys += found
        signing = jwt.load_private_key(_read(signing_file)) if signing_file else None
    except (OSError, ValueError) as e:
        raise SystemExit(f"kubeapi: service-account keys: {e}") from None
    if signing is not None and not key_files:
        keys.append(signing.public_key())
    if keys:
        tokens.append(ServiceAccountTokens(server, issuers, keys, audiences))
    if o["enable-bootstrap-token-auth"]:
        tokens.append(BootstrapTokens(server))
    if o["authentication-token-webhook-config-file"]:
        from kubeapi.auth.authn.webhook import WebhookConfig, WebhookTokens

        try:
            config = WebhookConfig(o["authentication-token-webhook-config-file"])
        except (OSError, ValueError, KeyError) as e:
            raise SystemExit(f"kubeapi: --authentication-token-webhook-config-file: {e}") from None
        tokens.append(WebhookTokens(config, version=o["authentication-token-webhook-version"],
                                    cache_ttl=o["authentication-token-webhook-cache-ttl"],
                                    api_audiences=audiences, reactor=reactor))
    anonymous = bool(o["anonymous-auth"])
    if anonymous and "AlwaysAllow" in o["authorization-mode"]:
        log.warn("AnonymousAuth is not allowed with the AlwaysAllow authorizer. Resetting AnonymousAuth "
                 "to false. You should use a different authorizer")
        anonymous = False
    server.authenticator = RequestAuthenticator(client_ca=client_ca, tokens=tokens, anonymous=anonymous,
                                                request_header=request_header)
    server.api_audiences = audiences
    if signing is not None:
        server.token_issuer = TokenIssuer(issuers[0], signing, audiences,
                                          max_expiration=int(o["service-account-max-token-expiration"]),
                                          extend_expiration=bool(o["service-account-extend-token-expiration"]))
    if keys and issuers[0].startswith("https://"):
        _serve_discovery(server, o, issuers[0], keys)
    server.extension_auth = (client_ca, request_header)
    return reloadable


def _serve_discovery(server: Any, o: Any, issuer: str, keys: list[jwt.PublicKey]) -> None:
    import orjson

    from kubeapi.auth.authn.serviceaccount import jwks, openid_configuration
    from kubeapi.server import responses

    host = o["advertise-address"]
    host = f"[{host}]" if ":" in host else host
    jwks_uri = o["service-account-jwks-uri"] or f"https://{host}:{o['secure-port']}/openid/v1/jwks"
    config_body = orjson.dumps(openid_configuration(issuer, jwks_uri, keys))
    keys_body = orjson.dumps(jwks(keys))

    async def config(_server: Any, ctx: Any) -> bytes:
        ctx.request.setHeader(b"cache-control", b"public, max-age=3600")
        return responses.write_body(ctx, 200, config_body, "application/json")

    async def key_set(_server: Any, ctx: Any) -> bytes:
        ctx.request.setHeader(b"cache-control", b"public, max-age=3600")
        return responses.write_body(ctx, 200, keys_body, "application/jwk-set+json")

    server.path_handlers["/.well-known/openid-configuration"] = config
    server.path_handlers["/openid/v1/jwks"] = key_set


def start_reloader(reloadable: list[Any], reactor: Any, interval: float = RELOAD_INTERVAL) -> LoopingCall:
    def check() -> None:
        for r in reloadable:
            try:
                r.check_reload()
            except Exception:
                log.failure("reloading {what}", what=r)

    loop = LoopingCall(check)
    loop.clock = reactor
    loop.start(interval, now=False)
    return loop


def extension_configmap(server: Any, o: Any) -> dict[str, str]:
    from kubeapi.auth.authn.requestheader import configmap_data

    client_ca, request_header = getattr(server, "extension_auth", (None, None))
    return configmap_data(
        client_ca.pem() if client_ca is not None else "",
        request_header.ca.pem() if request_header is not None else "",
        o["requestheader-allowed-names"], o["requestheader-username-headers"],
        o["requestheader-group-headers"], o["requestheader-extra-headers-prefix"],
        o["requestheader-uid-headers"])


class ConfigMapPublisher:
    """Keeps kube-system/extension-apiserver-authentication current: tries every 2 s until
    kube-system exists and the write succeeds, then every 30 s (CA bundles may reload)."""

    def __init__(self, server: Any, o: Any, reactor: Any) -> None:
        self.server, self.o, self.reactor = server, o, reactor
        self._call: Any = None
        self._running = False

    def start(self) -> None:
        self._running = True
        self._schedule(0)

    def stop(self) -> None:
        self._running = False
        if self._call is not None and self._call.active():
            self._call.cancel()

    def _schedule(self, delay: float) -> None:
        if self._running:
            self._call = self.reactor.callLater(delay, self._run)

    def _run(self) -> None:
        from twisted.internet.defer import Deferred

        from kubeapi.auth.authn.requestheader import publish_configmap

        async def go() -> bool:
            return await publish_configmap(self.server, extension_configmap(self.server, self.o))

        def done(ok: Any) -> None:
            self._schedule(30.0 if ok is True else 2.0)

        Deferred.fromCoroutine(go()).addErrback(lambda f: log.failure("publishing {name}", f,
                                                                      name="extension-apiserver-authentication")
                                                ).addBoth(done)
