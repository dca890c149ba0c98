"""Request-header authentication (the front proxy / aggregation layer) and the
``extension-apiserver-authentication`` ConfigMap that tells extension servers about it.

The headers are believed only from a client certificate that chains to
--requestheader-client-ca-file and, when --requestheader-allowed-names is set, whose CN is
one of them; from any other client they are ignored."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

import orjson
from cryptography import x509

from kubeapi.auth.authenticator import CertificateSource, TokenError, cached_chain_error, common_name
from kubeapi.auth.user import UserInfo
from kubeapi.errors import StatusError

log = logging.getLogger(__name__)

CONFIGMAP = "extension-apiserver-authentication"
NAMESPACE = "kube-system"


def _values(request: Any, name: str) -> list[str]:
    raw = request.requestHeaders.getRawHeaders(name) or []
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in raw]


class RequestHeaderAuthenticator:
    def __init__(self, ca: CertificateSource, allowed_names: Sequence[str], username_headers: Sequence[str],
                 group_headers: Sequence[str], extra_prefixes: Sequence[str],
                 uid_headers: Sequence[str] = ()) -> None:
        self.ca = ca
        self.allowed_names = [n for n in allowed_names if n]
        self.username_headers = [h for h in username_headers if h]
        self.group_headers = [h for h in group_headers if h]
        self.extra_prefixes = [p.lower() for p in extra_prefixes if p]
        self.uid_headers = [h for h in uid_headers if h]

    def authenticate(self, chain: Sequence[x509.Certificate], request: Any) -> UserInfo | None:
        if not chain:
            return None
        err = cached_chain_error(chain[0], self.ca.certs(), chain[1:])
        if err is not None:
            raise TokenError(f"verifying certificate {chain[0].subject.rfc4514_string()} failed: {err}")
        cn = common_name(chain[0])
        if self.allowed_names and cn not in self.allowed_names:
            raise TokenError(f"x509: subject with cn={cn} is not in the allowed list")
        name = next((v for h in self.username_headers for v in _values(request, h) if v), "")
        if not name:
            return None
        groups = tuple(v for h in self.group_headers for v in _values(request, h))
        uid = next((v for h in self.uid_headers for v in _values(request, h) if v), "")
        extra: dict[str, list[str]] = {}
        for raw_name, raw_values in request.requestHeaders.getAllRawHeaders():
            header = (raw_name.decode("latin-1") if isinstance(raw_name, bytes) else raw_name).lower()
            for prefix in self.extra_prefixes:
                if header.startswith(prefix):
                    key = unquote(header[len(prefix):]).lower()
                    extra.setdefault(key, []).extend(
                        v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in raw_values)
        return UserInfo(name, uid=uid, groups=groups, extra={k: tuple(v) for k, v in extra.items()})


def configmap_data(client_ca_pem: str, requestheader_ca_pem: str, allowed_names: Sequence[str],
                   username_headers: Sequence[str], group_headers: Sequence[str],
                   extra_prefixes: Sequence[str], uid_headers: Sequence[str] = ()) -> dict[str, str]:
    """The keys kube-apiserver writes (lists as JSON arrays)."""
    data: dict[str, str] = {}
    if client_ca_pem:
        data["client-ca-file"] = client_ca_pem
    if requestheader_ca_pem:
        def js(v: Sequence[str]) -> str:
            return orjson.dumps([x for x in v if x]).decode()

        data.update({
            "requestheader-allowed-names": js(allowed_names),
            "requestheader-client-ca-file": requestheader_ca_pem,
            "requestheader-extra-headers-prefix": js(extra_prefixes),
            "requestheader-group-headers": js(group_headers),
            "requestheader-uid-headers": js(uid_headers),
            "requestheader-username-headers": js(username_headers),
        })
    return data


async def publish_configmap(server: Any, data: dict[str, str]) -> bool:
    """Create or update the ConfigMap; False when kube-system is not there yet (retry)."""
    from kubeapi.registry.options import WriteOptions

    store = server.store("", "v1", "configmaps")
    try:
        current = await store.get(NAMESPACE, CONFIGMAP)
    except StatusError as e:
        if e.code != 404:
            raise
        current = None
    if current is None:
        obj = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": CONFIGMAP, "namespace": NAMESPACE}, "data": data}
        try:
            await store.create(NAMESPACE, obj, WriteOptions())
        except StatusError as e:
            if e.code in (404, 403, 409):
                return False
            raise
        return True
    if current.get("data") == data:
        return True
    current["data"] = data
    await store.update(NAMESPACE, CONFIGMAP, current, WriteOptions())
    return True
