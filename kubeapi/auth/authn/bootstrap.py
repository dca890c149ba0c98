"""Bootstrap tokens (--enable-bootstrap-token-auth): ``<id>.<secret>`` matched against
``bootstrap.kubernetes.io/token`` Secrets named ``bootstrap-token-<id>`` in kube-system.

The user is ``system:bootstrap:<id>`` in ``system:bootstrappers`` plus the secret's
``auth-extra-groups``; the secret must allow authentication (``usage-bootstrap-authentication``)
and must not be past its ``expiration``.  A token that looks like a bootstrap token but
does not match is not ours (the union then answers 401 for it)."""

from __future__ import annotations

import base64
import hmac
import logging
import re
import time
from typing import Any

from kubeapi.auth.user import UserInfo
from kubeapi.errors import StatusError
from kubeapi.registry.meta import parse_rfc3339

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
SECRET_TYPE = "bootstrap.kubernetes.io/token"
NAMESPACE = "kube-system"
GROUP = "system:bootstrappers"
GROUP_RE = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")


def _data(secret: dict[str, Any], key: str) -> str:
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return ""
    try:
        return base64.b64decode(raw).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""


class BootstrapTokens:
    def __init__(self, server: Any, clock: Any = time.time) -> None:
        self.server = server
        self.clock = clock

    async def authenticate_token(self, token: str) -> UserInfo | None:
        m = TOKEN_RE.match(token)
        if m is None:
            return None
        token_id, token_secret = m.groups()
        try:
            secret = await self.server.store("", "v1", "secrets").get(NAMESPACE, f"bootstrap-token-{token_id}")
        except StatusError as e:
            if e.code == 404:
                log.info("no secret for bootstrap token %s", token_id)
                return None
            raise
        if secret.get("type") != SECRET_TYPE or (secret.get("metadata") or {}).get("deletionTimestamp"):
            return None
        if _data(secret, "token-id") != token_id or not hmac.compare_digest(
                _data(secret, "token-secret"), token_secret):
            log.info("bootstrap token %s: secret does not match", token_id)
            return None
        expiration = _data(secret, "expiration")
        if expiration:
            try:
                expired = parse_rfc3339(expiration).timestamp() < self.clock()
            except ValueError:
                expired = True
            if expired:
                log.info("bootstrap token %s has expired", token_id)
                return None
        if _data(secret, "usage-bootstrap-authentication") != "true":
            return None
        groups = [GROUP]
        for g in _data(secret, "auth-extra-groups").split(","):
            g = g.strip()
            if g and GROUP_RE.match(g) and g not in groups:
                groups.append(g)
        return UserInfo(f"system:bootstrap:{token_id}", groups=tuple(groups))
