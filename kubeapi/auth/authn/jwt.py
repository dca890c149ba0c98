"""Compact JWS (RFC 7515) signing and verification for service-account tokens.

Only what kube-apiserver issues and accepts: RS256 with RSA keys, ES256/ES384/ES512 with
ECDSA keys.  Key ids are upstream's: base64url (no padding) of the SHA-256 of the public
key's DER SubjectPublicKeyInfo, so JWKS documents and ``kid`` headers line up with other
tools that read the same key files.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_EC_ALGS = {"secp256r1": ("ES256", hashes.SHA256, 32), "secp384r1": ("ES384", hashes.SHA384, 48),
            "secp521r1": ("ES512", hashes.SHA512, 66)}
_EC_JWK_CRV = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


class JWTError(ValueError):
    """The token is not a well-formed JWS, or its signature does not verify."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    pad = "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(text + pad)
    except (ValueError, TypeError) as e:
        raise JWTError("malformed base64url") from e


def key_id(public: PublicKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(der).digest())


def algorithm(key: PublicKey | PrivateKey) -> str:
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return "RS256"
    curve = key.curve.name
    if curve not in _EC_ALGS:
        raise JWTError(f"unsupported curve {curve}")
    return _EC_ALGS[curve][0]


def sign(claims: dict[str, Any], key: PrivateKey) -> str:
    alg = algorithm(key)
    header = {"alg": alg, "kid": key_id(key.public_key())}
    signing_input = (b64url(orjson.dumps(header)) + "." + b64url(orjson.dumps(claims))).encode("ascii")
    if isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        _, hash_cls, size = _EC_ALGS[key.curve.name]
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hash_cls())))
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signing_input.decode("ascii") + "." + b64url(sig)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def unverified_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) without checking the signature: to find out whose token it is."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("not a compact JWS")
    try:
        header = orjson.loads(b64url_decode(parts[0]))
        claims = orjson.loads(b64url_decode(parts[1]))
    except orjson.JSONDecodeError as e:
        raise JWTError("malformed JWS") from e
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JWTError("malformed JWS")
    return header, claims


def verify(token: str, keys: list[PublicKey]) -> dict[str, Any]:
    """The claims when one of ``keys`` made the signature (the ``kid`` narrows the search)."""
    header, claims = unverified_claims(token)
    head, payload, sig_text = token.split(".")
    signing_input = f"{head}.{payload}".encode("ascii")
    sig = b64url_decode(sig_text)
    alg = header.get("alg")
    kid = header.get("kid")
    candidates = [k for k in keys if not kid or key_id(k) == kid] or keys
    for key in candidates:
        try:
            if algorithm(key) != alg:
                continue
        except JWTError:
            continue
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
            else:
                _, hash_cls, size = _EC_ALGS[key.curve.name]
                if len(sig) != 2 * size:
                    continue
                der = encode_dss_signature(int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big"))
                key.verify(der, signing_input, ec.ECDSA(hash_cls()))
            return claims
        except InvalidSignature:
            continue
    raise JWTError("invalid signature")


def jwk(public: PublicKey) -> dict[str, str]:
    """The public key as a JWK entry of /openid/v1/jwks."""
    if isinstance(public, rsa.RSAPublicKey):
        nums = public.public_numbers()
        n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
        e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
        return {"use": "sig", "kty": "RSA", "kid": key_id(public), "alg": "RS256", "n": b64url(n), "e": b64url(e)}
    ec_nums = public.public_numbers()
    size = _EC_ALGS[public.curve.name][2]
    return {"use": "sig", "kty": "EC", "kid": key_id(public), "crv": _EC_JWK_CRV[public.curve.name],
            "alg": algorithm(public), "x": b64url(ec_nums.x.to_bytes(size, "big")),
            "y": b64url(ec_nums.y.to_bytes(size, "big"))}


def load_public_keys(data: bytes) -> list[PublicKey]:
    """Every public key in a PEM file: PUBLIC KEY / RSA PUBLIC KEY blocks, certificates, and
    the public halves of private keys (upstream accepts all of these for
    --service-account-key-file)."""
    from cryptography import x509

    out: list[PublicKey] = []
    for block in _pem_blocks(data):
        label = block.split(b"\n", 1)[0]
        try:
            if b"CERTIFICATE" in label:
                pub: Any = x509.load_pem_x509_certificate(block).public_key()
            elif b"PRIVATE KEY" in label:
                pub = serialization.load_pem_private_key(block, password=None).public_key()
            elif b"PUBLIC KEY" in label:
                pub = serialization.load_pem_public_key(block)
            else:
                continue
        except (ValueError, TypeError):
            continue
        if isinstance(pub, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            out.append(pub)
    return out


def load_private_key(data: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError("the signing key must be an RSA or ECDSA private key")
    return key


def _pem_blocks(data: bytes) -> list[bytes]:
    blocks: list[bytes] = []
    rest = data
    while True:
        start = rest.find(b"-----BEGIN ")
        if start < 0:
            return blocks
        end_marker = rest.find(b"-----END ", start)
        if end_marker < 0:
            return blocks
        end = rest.find(b"-----", end_marker + 9)
        if end < 0:
            return blocks
        blocks.append(rest[start:end + 5] + b"\n")
        rest = rest[end + 5:]
