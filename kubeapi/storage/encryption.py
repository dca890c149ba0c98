"""Encryption at rest: ``--encryption-provider-config`` as kube-apiserver reads it.

The file is an ``EncryptionConfiguration`` (apiserver.config.k8s.io/v1).  For each listed
group-resource the first provider encrypts what is written and every provider may decrypt
what is read, so keys rotate by putting a new key first, rewriting, then dropping the old.
Stored values carry upstream's prefixes, so a kube-apiserver given the same file reads
what we wrote and we read what it wrote:

- ``k8s:enc:aescbc:v1:<key>:`` + 16-byte IV + AES-CBC(PKCS#7-padded value)
- ``k8s:enc:aesgcm:v1:<key>:`` + 12-byte nonce + AES-GCM(value), the storage key as
  additional authenticated data (a value cannot be moved to another key)
- ``k8s:enc:secretbox:v1:<key>:`` + 24-byte nonce + XSalsa20-Poly1305(value)
- ``identity``: the value as is, no prefix.

``EncryptingStorage`` wraps a backend (below the watch cache), transforming values on the
way in and out; keys outside the configured resources pass untouched.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import yaml

from kubeapi.storage.interface import (
    ConflictError,
    Event,
    KeyValue,
    ListResult,
    OnError,
    OnEvents,
    StorageError,
)

GROUP = "apiserver.config.k8s.io"
KINDS = ("EncryptionConfiguration",)
API_VERSIONS = (f"{GROUP}/v1",)


class ConfigError(ValueError):
    """The encryption configuration cannot be used (the server refuses to start)."""


class DecryptError(StorageError):
    """A stored value no configured provider can read."""


class Provider:
    prefix = b""

    def encrypt(self, data: bytes, key: bytes) -> bytes:
        raise NotImplementedError

    def decrypt(self, data: bytes, key: bytes) -> bytes:
        raise NotImplementedError


class Identity(Provider):
    def encrypt(self, data: bytes, key: bytes) -> bytes:
        return data

    def decrypt(self, data: bytes, key: bytes) -> bytes:
        return data


def _aes_key(name: str, kind: str, secret: bytes) -> bytes:
    if len(secret) not in (16, 24, 32):
        raise ConfigError(f"{kind} key {name!r}: an AES key must be 16, 24 or 32 bytes, got {len(secret)}")
    return secret


class AESCBC(Provider):
    def __init__(self, name: str, secret: bytes) -> None:
        self.prefix = f"k8s:enc:aescbc:v1:{name}:".encode()
        self._key = _aes_key(name, "aescbc", secret)

    def encrypt(self, data: bytes, key: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        iv = os.urandom(16)
        pad = 16 - len(data) % 16
        enc = Cipher(algorithms.AES(self._key), modes.CBC(iv)).encryptor()
        return iv + enc.update(data + bytes([pad]) * pad) + enc.finalize()

    def decrypt(self, data: bytes, key: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        if len(data) < 32 or len(data) % 16:
            raise DecryptError("aescbc: stored data is not a whole number of blocks")
        dec = Cipher(algorithms.AES(self._key), modes.CBC(data[:16])).decryptor()
        out = dec.update(data[16:]) + dec.finalize()
        pad = out[-1]
        if pad == 0 or pad > 16 or out[-pad:] != bytes([pad]) * pad:
            raise DecryptError("aescbc: invalid padding")
        return out[:-pad]


class AESGCM(Provider):
    def __init__(self, name: str, secret: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _GCM

        self.prefix = f"k8s:enc:aesgcm:v1:{name}:".encode()
        self._aead = _GCM(_aes_key(name, "aesgcm", secret))

    def encrypt(self, data: bytes, key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, key)

    def decrypt(self, data: bytes, key: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(data[:12], data[12:], key)
        except (InvalidTag, ValueError):
            raise DecryptError("aesgcm: message authentication failed") from None


class SecretBox(Provider):
    def __init__(self, name: str, secret: bytes) -> None:
        import nacl.secret

        if len(secret) != 32:
            raise ConfigError(f"secretbox key {name!r}: the key must be 32 bytes, got {len(secret)}")
        self.prefix = f"k8s:enc:secretbox:v1:{name}:".encode()
        self._box = nacl.secret.SecretBox(secret)

    def encrypt(self, data: bytes, key: bytes) -> bytes:
        return bytes(self._box.encrypt(data))  # nonce (24) + MAC + ciphertext, as Go's layout

    def decrypt(self, data: bytes, key: bytes) -> bytes:
        import nacl.exceptions

        try:
            return bytes(self._box.decrypt(data))
        except (nacl.exceptions.CryptoError, ValueError):
            raise DecryptError("secretbox: decryption failed") from None


_KEYED: dict[str, Callable[[str, bytes], Provider]] = {"aescbc": AESCBC, "aesgcm": AESGCM,
                                                       "secretbox": SecretBox}


@dataclass(frozen=True)
class Transformer:
    """One resource rule: providers in order (the first writes)."""

    providers: tuple[Provider, ...]

    def to_storage(self, data: bytes, key: bytes) -> bytes:
        p = self.providers[0]
        return p.prefix + p.encrypt(data, key)

    def from_storage(self, data: bytes, key: bytes) -> bytes:
        for p in self.providers:
            if data.startswith(p.prefix):  # identity's empty prefix matches anything
                return p.decrypt(data[len(p.prefix):], key)
        raise DecryptError("no matching prefix found")


def _providers(entries: Any, where: str) -> tuple[Provider, ...]:
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}.providers: at least one provider is required")
    out: list[Provider] = []
    for i, entry in enumerate(entries):
        here = f"{where}.providers[{i}]"
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(f"{here}: exactly one provider type must be given")
        (kind, conf), = entry.items()
        if kind == "identity":
            out.append(Identity())
            continue
        if kind in ("kms", "aescbc", "aesgcm", "secretbox") and kind not in _KEYED:
            raise ConfigError(f"{here}: provider {kind} is not supported")
        make = _KEYED.get(kind)
        if make is None:
            raise ConfigError(f"{here}: unknown provider {kind!r} (supported: aescbc, aesgcm, secretbox, identity)")
        keys = (conf or {}).get("keys") if isinstance(conf, dict) else None
        if not isinstance(keys, list) or not keys:
            raise ConfigError(f"{here}.{kind}.keys: at least one key is required")
        for j, k in enumerate(keys):
            if not isinstance(k, dict) or not k.get("name") or not k.get("secret"):
                raise ConfigError(f"{here}.{kind}.keys[{j}]: name and secret are required")
            try:
                secret = base64.b64decode(str(k["secret"]), validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError(f"{here}.{kind}.keys[{j}].secret: not valid base64") from None
            out.append(make(str(k["name"]), secret))
    return tuple(out)


@dataclass(frozen=True)
class EncryptionConfig:
    """Rules in file order: (group-resource patterns, transformer)."""

    rules: tuple[tuple[tuple[str, ...], Transformer], ...]

    def for_resource(self, group: str, resource: str) -> Transformer | None:
        """The first rule naming ``resource.group`` (``*.group``, ``*.*`` wildcards, the core
        group written ``resource`` or ``*.``)."""
        exact = f"{resource}.{group}" if group else resource
        group_wild = f"*.{group}"
        for patterns, transformer in self.rules:
            for pat in patterns:
                if pat in (exact, group_wild, "*.*"):
                    return transformer
        return None


def parse_config(text: str | bytes) -> EncryptionConfig:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError("not an EncryptionConfiguration object")
    if doc.get("kind") not in KINDS or doc.get("apiVersion") not in API_VERSIONS:
        raise ConfigError(f"want kind EncryptionConfiguration, apiVersion {API_VERSIONS[0]}; got "
                          f"kind {doc.get('kind')!r}, apiVersion {doc.get('apiVersion')!r}")
    resources = doc.get("resources")
    if not isinstance(resources, list) or not resources:
        raise ConfigError("resources: at least one resource rule is required")
    rules: list[tuple[tuple[str, ...], Transformer]] = []
    for i, rule in enumerate(resources):
        where = f"resources[{i}]"
        if not isinstance(rule, dict):
            raise ConfigError(f"{where}: must be an object")
        names = rule.get("resources")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"{where}.resources: at least one resource is required")
        patterns = tuple("*." if n == "*." else n.lower() for n in names)
        rules.append((patterns, Transformer(_providers(rule.get("providers"), where))))
    return EncryptionConfig(tuple(rules))


def load_config(path: str) -> EncryptionConfig:
    try:
        with open(path, "rb") as f:
            return parse_config(f.read())
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None


class EncryptingStorage:
    """A Storage that encrypts values under the configured resources' key prefixes."""

    def __init__(self, inner: Any, config: EncryptionConfig,
                 prefixes: Iterable[tuple[str, str, str]]) -> None:
        """``prefixes``: (storage key prefix, group, resource) for every resource served."""
        self.inner = inner
        table: list[tuple[str, Transformer]] = []
        for prefix, group, resource in prefixes:
            t = config.for_resource(group, resource)
            if t is not None:
                table.append((prefix if prefix.endswith("/") else prefix + "/", t))
        table.sort(key=lambda e: -len(e[0]))  # longest prefix first
        self._table = table

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _transformer(self, key: str) -> Transformer | None:
        for prefix, t in self._table:
            if key.startswith(prefix):
                return t
        return None

    def _out(self, key: str, value: bytes) -> bytes:
        t = self._transformer(key)
        return value if t is None else t.to_storage(value, key.encode())

    def _in(self, kv: KeyValue | None) -> Any:
        if kv is None:
            return None
        t = self._transformer(kv.key)
        if t is None or not kv.value:
            return kv
        return kv._replace(value=t.from_storage(bytes(kv.value), kv.key.encode()))

    def _event(self, ev: Event) -> Event:
        changes: dict[str, Any] = {}
        for field in ("kv", "prev"):
            if getattr(ev, field, None) is not None:
                changes[field] = self._in(getattr(ev, field))
        return replace(ev, **changes) if changes else ev

    async def get(self, key: str) -> KeyValue | None:
        return self._in(await self.inner.get(key))  # type: ignore[no-any-return]

    async def list(self, *args: Any, **kwargs: Any) -> ListResult:
        result = await self.inner.list(*args, **kwargs)
        return replace(result, items=[self._in(kv) for kv in result.items])

    async def create(self, key: str, value: bytes) -> KeyValue:
        return self._in(await self.inner.create(key, self._out(key, value)))  # type: ignore[no-any-return]

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        try:
            kv = await self.inner.update(key, self._out(key, value), expected_revision)
        except ConflictError as e:
            if e.current is not None:  # the caller may read the winner's value from it
                e.current = self._in(e.current)
            raise
        return self._in(kv)  # type: ignore[no-any-return]

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return self._in(await self.inner.delete(key, expected_revision))  # type: ignore[no-any-return]

    async def watch(self, prefix: str, start_revision: int, on_events: OnEvents, on_error: OnError) -> Any:
        def deliver(events: Sequence[Event]) -> None:
            on_events([self._event(e) for e in events])

        return await self.inner.watch(prefix, start_revision, deliver, on_error)
