"""The JWT key ring: one signing key, any number of verification keys, each known by its `kid`.

The kid is the RFC 7638 thumbprint of the public key, so every replica given the same key derives
the same kid without coordination, and a retired key keeps its kid when listed in
APP_JWT_PUBLIC_KEYS.

The signing key is either an asymmetric KMS key (APP_JWT_KMS_KEY_ID: the private key never leaves
KMS; tokens are signed with kms:Sign and the public key comes from kms:GetPublicKey) or, as the
documented fallback, a PEM private key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.unavailable import DependencyUnavailable

ALGORITHMS = ("RS256", "ES256")
# RS256 is RSASSA-PKCS1-v1_5 with SHA-256, KMS's RSASSA_PKCS1_V1_5_SHA_256
# (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html).
KMS_RS256 = "RSASSA_PKCS1_V1_5_SHA_256"
# kms:Sign takes a RAW message of up to 4096 bytes (same page); a JWT's signing input is far smaller.
KMS_MAX_RAW_MESSAGE = 4096


class KeyConfigError(ValueError):
    """A key in the configuration cannot be used; the message says which and why."""


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_fixed(value: int, size: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode()


def public_jwk(public_key: Any) -> dict[str, str]:
    """The public JWK members (without kid/alg/use) of an RSA or P-256 key."""
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        return {"kty": "RSA", "e": _b64url_uint(numbers.e), "n": _b64url_uint(numbers.n)}
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        point = public_key.public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": _b64url_fixed(point.x, 32), "y": _b64url_fixed(point.y, 32)}
    raise KeyConfigError("only RSA (RS256) and P-256 (ES256) keys are supported")


def thumbprint(public_key: Any) -> str:
    members = public_jwk(public_key)
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def algorithm_for(public_key: Any) -> str:
    return "RS256" if isinstance(public_key, rsa.RSAPublicKey) else "ES256"


def generate_private_key_pem() -> str:
    """A fresh RSA-2048 key as PKCS#8 PEM (RS256 is what API Gateway JWT authorizers accept)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_private_key(pem: str) -> Any:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyConfigError(f"the JWT private key is not an unencrypted PEM private key ({exc})") from None
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        raise KeyConfigError("RSA JWT keys must be at least 2048 bits")
    public_jwk(key.public_key())  # rejects unsupported key types
    return key


class SigningUnavailable(DependencyUnavailable):
    """The signing service (KMS) did not answer; a login can be retried."""

    def __init__(self, detail: str) -> None:
        super().__init__("signing service (KMS)", f"signing service (KMS) unavailable, retry later ({detail})")


class KmsSigningKey(rsa.RSAPrivateKey):
    """An RSA private key that lives in KMS: `sign` calls kms:Sign, everything else that would need
    the private key refuses. PyJWT signs with any RSAPrivateKey, so tokens are made as with a PEM."""

    def __init__(self, kms: Any, key_id: str, public: rsa.RSAPublicKey) -> None:
        self._kms = kms
        self._key_id = key_id
        self._public = public

    @classmethod
    def load(cls, kms: Any, key_id: str) -> KmsSigningKey:
        try:
            answer = kms.get_public_key(KeyId=key_id)
        except Exception as exc:
            raise KeyConfigError(f"cannot read the public key of APP_JWT_KMS_KEY_ID ({type(exc).__name__})") from None
        if answer.get("KeyUsage") != "SIGN_VERIFY" or KMS_RS256 not in answer.get("SigningAlgorithms", []):
            raise KeyConfigError(
                f"APP_JWT_KMS_KEY_ID must be an RSA SIGN_VERIFY key that offers {KMS_RS256} "
                f"(got usage {answer.get('KeyUsage')}, algorithms {answer.get('SigningAlgorithms')})"
            )
        public = serialization.load_der_public_key(answer["PublicKey"])
        if not isinstance(public, rsa.RSAPublicKey) or public.key_size < 2048:
            raise KeyConfigError("APP_JWT_KMS_KEY_ID must be an RSA key of at least 2048 bits (RSA_2048)")
        return cls(kms, key_id, public)

    def sign(self, data: bytes, padding: Any, algorithm: Any) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

        if not isinstance(padding, PKCS1v15) or not isinstance(algorithm, hashes.SHA256):
            raise KeyConfigError("the KMS signing key signs RS256 (PKCS#1 v1.5 with SHA-256) only")
        if len(data) > KMS_MAX_RAW_MESSAGE:
            raise KeyConfigError(f"a token's signing input is over {KMS_MAX_RAW_MESSAGE} bytes")
        try:
            answer = self._kms.sign(
                KeyId=self._key_id, Message=data, MessageType="RAW", SigningAlgorithm=KMS_RS256
            )
        except Exception as exc:
            raise SigningUnavailable(f"KMS did not sign ({type(exc).__name__})") from None
        return bytes(answer["Signature"])

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def _no_private_material(self, *args: Any, **kwargs: Any) -> Any:
        raise KeyConfigError("the private key stays in KMS")

    decrypt = _no_private_material
    private_numbers = _no_private_material
    private_bytes = _no_private_material

    def __copy__(self) -> KmsSigningKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> KmsSigningKey:
        return self


def _split_pems(text: str) -> list[str]:
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith("-----BEGIN"):
            current = [line]
        elif line.startswith("-----END"):
            current.append(line)
            blocks.append("\n".join(current) + "\n")
            current = []
        elif current:
            current.append(line)
    return blocks


def parse_public_keys(text: str | None) -> list[tuple[str | None, Any]]:
    """Extra verification keys: a JWKS (`{"keys": [...]}`), a JSON list of PEMs, or PEM blocks."""
    if not text or not text.strip():
        return []
    stripped = text.strip()
    found: list[tuple[str | None, Any]] = []
    if stripped.startswith(("{", "[")):
        try:
            document = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise KeyConfigError(f"APP_JWT_PUBLIC_KEYS is not valid JSON ({exc.msg})") from None
        if isinstance(document, dict) and isinstance(document.get("keys"), list):
            for entry in document["keys"]:
                try:
                    jwk = jwt.PyJWK(entry)
                except (jwt.PyJWKError, jwt.InvalidKeyError) as exc:
                    raise KeyConfigError(f"APP_JWT_PUBLIC_KEYS holds an unusable JWK ({exc})") from None
                found.append((entry.get("kid"), jwk.key))
            return found
        if isinstance(document, list) and all(isinstance(item, str) for item in document):
            pems = [block for item in document for block in _split_pems(item)]
        else:
            raise KeyConfigError('APP_JWT_PUBLIC_KEYS must be a JWKS {"keys": [...]} or a JSON list of PEMs')
    else:
        pems = _split_pems(stripped)
        if not pems:
            raise KeyConfigError("APP_JWT_PUBLIC_KEYS holds no PEM block")
    for pem in pems:
        try:
            if "PRIVATE KEY" in pem.splitlines()[0]:
                key = serialization.load_pem_private_key(pem.encode(), password=None).public_key()
            else:
                key = serialization.load_pem_public_key(pem.encode())
        except (ValueError, TypeError) as exc:
            raise KeyConfigError(f"APP_JWT_PUBLIC_KEYS holds an unreadable PEM ({exc})") from None
        found.append((None, key))
    return found


@dataclass
class KeyRing:
    signing_key: Any
    signing_kid: str
    verification: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, private_pem: str, extra_public: str | None = None) -> KeyRing:
        return cls.around(load_private_key(private_pem), extra_public)

    @classmethod
    def from_kms(cls, kms: Any, key_id: str, extra_public: str | None = None) -> KeyRing:
        return cls.around(KmsSigningKey.load(kms, key_id), extra_public)

    @classmethod
    def around(cls, private_key: Any, extra_public: str | None = None) -> KeyRing:
        kid = thumbprint(private_key.public_key())
        verification = {kid: private_key.public_key()}
        for given_kid, public_key in parse_public_keys(extra_public):
            public_jwk(public_key)
            verification.setdefault(given_kid or thumbprint(public_key), public_key)
        return cls(private_key, kid, verification)

    @property
    def signing_algorithm(self) -> str:
        return algorithm_for(self.signing_key.public_key())

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        keys = []
        for kid, public_key in self.verification.items():
            entry = public_jwk(public_key)
            entry.update(kid=kid, use="sig", alg=algorithm_for(public_key))
            keys.append(entry)
        return {"keys": keys}
