"""kube-apiserver's TLS and authentication flags, added to kubeapi.options.Options.

Kept here so the options module stays small; nothing heavy is imported at --help time.
Repeatable flags (pflag StringArray) may be given several times, or as a YAML list in
kubeapi.yaml; their values are lists.
"""

from __future__ import annotations

from typing import Any

from kubeapi.flagtypes import boolean as _bool
from kubeapi.flagtypes import duration as _duration

PARAMETERS: list[list[Any]] = [
    ["tls-min-version", None, "VersionTLS12", "Minimum TLS version: VersionTLS12, VersionTLS13."],
    ["tls-cipher-suites", None, "",
     "Comma-separated cipher suites (Go names) for TLS 1.2; default: Go's secure defaults."],
    ["requestheader-client-ca-file", None, None,
     "CA that signs the front proxy's client certificate; request headers are trusted only from it."],
    ["requestheader-allowed-names", None, "", "Client certificate common names allowed to send request headers."],
    ["requestheader-username-headers", None, "", "Headers to read the user name from (e.g. X-Remote-User)."],
    ["requestheader-group-headers", None, "", "Headers to read groups from (e.g. X-Remote-Group)."],
    ["requestheader-extra-headers-prefix", None, "", "Header prefixes for user extras (e.g. X-Remote-Extra-)."],
    ["requestheader-uid-headers", None, "", "Headers to read the user uid from."],
    ["token-auth-file", None, None, "CSV file of static bearer tokens: token,user,uid,\"group1,group2\"."],
    ["service-account-signing-key-file", None, None,
     "Private key that signs service-account tokens (default: cert-dir/sa.key, created on first start)."],
    ["api-audiences", None, "", "Audiences of the API (default: the service-account issuers)."],
    ["service-account-max-token-expiration", None, 0.0, "Longest TokenRequest expiration (0 = no limit).",
     _duration("service-account-max-token-expiration")],
    ["service-account-jwks-uri", None, "", "jwks_uri in /.well-known/openid-configuration."],
    ["service-account-extend-token-expiration", None, True,
     "Pod-bound tokens asked for 3607 s (kubelet's projected tokens) stay valid for a year, warning after "
     "the requested time.", _bool("service-account-extend-token-expiration")],
    ["service-account-lookup", None, True,
     "Check that service accounts (and bound objects) still exist; always done here.",
     _bool("service-account-lookup")],
    ["enable-bootstrap-token-auth", None, False, "Accept bootstrap tokens (kube-system secrets).",
     _bool("enable-bootstrap-token-auth")],
    ["authentication-token-webhook-config-file", None, None,
     "Kubeconfig-format file of a webhook that reviews bearer tokens."],
    ["authentication-token-webhook-cache-ttl", None, 120.0, "How long webhook answers are cached.",
     _duration("authentication-token-webhook-cache-ttl")],
    ["authentication-token-webhook-version", None, "v1beta1", "TokenReview version sent to the webhook."],
    ["write-kubeconfig", None, "",
     "Where the admin kubeconfig is written on start (default: 'kubeconfig' beside --data-dir)."],
]

# Repeatable: --tls-sni-cert-key cert,key[:names]  --service-account-key-file  --service-account-issuer
MULTI_FLAGS = ("tls-sni-cert-key", "service-account-key-file", "service-account-issuer")
MULTI_HELP = {
    "tls-sni-cert-key": "cert,key[:name1,name2] for SNI; may be repeated.",
    "service-account-key-file": "PEM public (or private) keys that verify service-account tokens; may be repeated.",
    "service-account-issuer": "Issuer of service-account tokens; may be repeated, the first one signs.",
}
BOOL_FLAGS = ("enable-bootstrap-token-auth", "service-account-extend-token-expiration", "service-account-lookup")
FILE_FLAGS = ("requestheader-client-ca-file", "token-auth-file", "service-account-signing-key-file",
              "authentication-token-webhook-config-file")


def _split(value: str) -> list[str]:
    return [p.strip() for p in str(value or "").split(",") if p.strip()]


def check(o: Any) -> None:
    """Validate and normalise (called from Options.postOptions); ValueError = one line."""
    import os

    from kubeapi.server import tls

    try:
        tls.parse_min_version(o["tls-min-version"])
    except ValueError as e:
        raise ValueError(f"--tls-min-version: {e}") from None
    try:
        o["tls-cipher-suites"] = tls.parse_cipher_suites(_split(o["tls-cipher-suites"]))
    except ValueError as e:
        raise ValueError(f"--tls-cipher-suites: {e}") from None
    sni = []
    for v in o["tls-sni-cert-key"]:
        try:
            s = tls.parse_sni(v)
        except ValueError as e:
            raise ValueError(f"--tls-sni-cert-key: {e}") from None
        for path in (s.cert_file, s.key_file):
            if not os.access(path, os.R_OK):
                raise ValueError(f"--tls-sni-cert-key: cannot read {path}")
        sni.append(s)
    o["tls-sni-cert-key"] = sni
    for flag in ("requestheader-allowed-names", "requestheader-username-headers", "requestheader-group-headers",
                 "requestheader-extra-headers-prefix", "requestheader-uid-headers", "api-audiences"):
        o[flag] = _split(o[flag])
    for path in o["service-account-key-file"]:
        if not os.access(path, os.R_OK):
            raise ValueError(f"--service-account-key-file: cannot read {path}")
    if o["authentication-token-webhook-version"] not in ("v1", "v1beta1"):
        raise ValueError("--authentication-token-webhook-version: must be v1 or v1beta1")
