"""The list ``continue`` token, shaped as upstream's so clients can pass it back opaquely:
base64url (no padding) of ``{"v":"meta.k8s.io/v1","rv":<int>,"start":"<key suffix>"}``.
``start`` is the next key to read relative to the collection prefix (last key + NUL)."""

from __future__ import annotations

import base64
import binascii
import posixpath
from dataclasses import dataclass

import orjson

from kubeapi import errors

TOKEN_VERSION = "meta.k8s.io/v1"


@dataclass(frozen=True)
class Continue:
    start_key: str  # absolute storage key to start at (inclusive)
    revision: int  # -1: continue at the latest revision (handed out after compaction)


def encode(next_key: str, key_prefix: str, revision: int) -> str:
    rel = next_key[len(key_prefix):] if next_key.startswith(key_prefix) else next_key
    raw = orjson.dumps({"v": TOKEN_VERSION, "rv": revision, "start": rel})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(token: str, key_prefix: str) -> Continue:
    """Raise 400 BadRequest for anything malformed."""
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = base64.urlsafe_b64decode(padded.encode())
    except (binascii.Error, ValueError) as e:
        raise _bad(f"continue key is not valid: {e}") from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _bad(f"continue key is not valid: {e}") from None
    if not isinstance(data, dict):
        raise _bad("continue key is not valid: not an object")
    if data.get("v") != TOKEN_VERSION:
        raise _bad(f"continue key is not valid: server does not recognize this encoded version "
                   f"{data.get('v')}")
    rv = data.get("rv")
    if not isinstance(rv, int) or rv == 0:
        raise _bad("continue key is not valid: incorrect encoded start resourceVersion "
                   "(version meta.k8s.io/v1)")
    start = data.get("start")
    if not isinstance(start, str) or not start:
        raise _bad("continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
    key = start if start.startswith("/") else "/" + start
    # A trailing NUL is how the next key is encoded; path cleaning must not see it.
    body, nul = (key[:-1], "\x00") if key.endswith("\x00") else (key, "")
    if posixpath.normpath(body) != body and body != "/":
        raise _bad(f"continue key is not valid: {start}")
    return Continue(key_prefix + body[1:] + nul, rv)


def _bad(msg: str) -> errors.StatusError:
    return errors.bad_request(f"invalid continue token: {msg}")
