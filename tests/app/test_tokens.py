"""Token issuing and verification without servers: forgery of every kind is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.keys import KeyConfigError, KeyRing, generate_private_key_pem, parse_public_keys, thumbprint
from app.security import InvalidToken, TokenService

ISSUER, AUDIENCE = "https://issuer.example", "stateless-api"
USER = "8f14e45f-ceea-467f-a0f9-4c0a9c3e1c11"


@pytest.fixture(scope="module")
def pem() -> str:
    return generate_private_key_pem()


@pytest.fixture(scope="module")
def other_pem() -> str:
    return generate_private_key_pem()


@pytest.fixture(scope="module")
def tokens(pem: str) -> TokenService:
    return TokenService(KeyRing.build(pem), ISSUER, AUDIENCE, ttl_seconds=300)


def _public_pem(private_pem: str) -> bytes:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"iss": ISSUER, "aud": AUDIENCE, "sub": USER, "iat": now, "exp": now + 60}
    claims.update(overrides)
    return claims


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_issued_token_verifies_and_names_the_user(tokens: TokenService) -> None:
    principal = tokens.verify(tokens.issue(USER, "alice"))
    assert (principal.user_id, principal.username) == (USER, "alice")


def test_header_carries_kid_and_rs256(tokens: TokenService) -> None:
    header = jwt.get_unverified_header(tokens.issue(USER, "alice"))
    assert header["alg"] == "RS256"
    assert header["kid"] == tokens.keys.signing_kid


def test_signature_by_another_key_with_the_right_kid_is_refused(tokens: TokenService, other_pem: str) -> None:
    forged = jwt.encode(_claims(), other_pem, algorithm="RS256", headers={"kid": tokens.keys.signing_kid})
    with pytest.raises(InvalidToken):
        tokens.verify(forged)


def test_alg_none_is_refused(tokens: TokenService) -> None:
    unsigned = _b64({"alg": "none", "typ": "JWT", "kid": tokens.keys.signing_kid}) + "." + _b64(_claims()) + "."
    with pytest.raises(InvalidToken):
        tokens.verify(unsigned)


def test_hs256_signed_with_the_public_key_is_refused(tokens: TokenService, pem: str) -> None:
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": tokens.keys.signing_kid})
    payload = _b64(_claims())
    signature = hmac.new(_public_pem(pem), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        tokens.verify(forged)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"iss": "https://someone-else.example"}, "wrong issuer"),
        ({"aud": "another-api"}, "wrong audience"),
        ({"sub": "not-a-uuid"}, "bad subject"),
    ],
)
def test_claims_that_do_not_fit_are_refused(tokens: TokenService, pem: str, overrides: dict, reason: str) -> None:
    token = jwt.encode(_claims(**overrides), pem, algorithm="RS256", headers={"kid": tokens.keys.signing_kid})
    with pytest.raises(InvalidToken):
        tokens.verify(token)


def test_missing_exp_is_refused(tokens: TokenService, pem: str) -> None:
    claims = _claims()
    del claims["exp"]
    token = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": tokens.keys.signing_kid})
    with pytest.raises(InvalidToken):
        tokens.verify(token)


def test_unknown_or_missing_kid_is_refused(tokens: TokenService, pem: str) -> None:
    for headers in ({"kid": "somebody-else"}, {}):
        token = jwt.encode(_claims(), pem, algorithm="RS256", headers=headers)
        with pytest.raises(InvalidToken):
            tokens.verify(token)


@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..", "x" * 5000, "WzFd.e30.c2ln", "/w.e30.c2ln", "é.e30.c2ln"],
)
def test_garbage_is_refused(tokens: TokenService, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        tokens.verify(garbage)


@pytest.mark.parametrize("junk", ["!", "=", "+", " "])
def test_a_header_segment_outside_the_base64url_alphabet_is_refused(tokens: TokenService, junk: str) -> None:
    # The key is chosen from a lenient reading of the header; the token must still be parsed strictly.
    token = tokens.issue(str(uuid.uuid4()), "someone")
    header, rest = token.split(".", 1)
    tampered = f"{header[:4]}{junk}{header[4:]}.{rest}"
    with pytest.raises(InvalidToken):
        tokens.verify(tampered)
    assert tokens.verify(token).username == "someone"


def test_replicas_with_the_same_pem_agree_on_kid_and_accept_each_others_tokens(pem: str) -> None:
    a = TokenService(KeyRing.build(pem), ISSUER, AUDIENCE, 300)
    b = TokenService(KeyRing.build(pem), ISSUER, AUDIENCE, 300)
    assert a.keys.signing_kid == b.keys.signing_kid
    assert b.verify(a.issue(USER, "alice")).user_id == USER


def test_rotation_old_key_listed_as_pem_still_verifies(pem: str, other_pem: str) -> None:
    old = TokenService(KeyRing.build(pem), ISSUER, AUDIENCE, 300)
    old_token = old.issue(USER, "alice")
    rotated = TokenService(KeyRing.build(other_pem, _public_pem(pem).decode()), ISSUER, AUDIENCE, 300)
    assert rotated.verify(old_token).user_id == USER
    assert rotated.verify(rotated.issue(USER, "alice")).user_id == USER
    assert len(rotated.keys.jwks()["keys"]) == 2
    # Without the old key listed, the old token is refused.
    with pytest.raises(InvalidToken):
        TokenService(KeyRing.build(other_pem), ISSUER, AUDIENCE, 300).verify(old_token)


def test_rotation_old_key_given_as_jwks(pem: str, other_pem: str) -> None:
    old = KeyRing.build(pem)
    token = TokenService(old, ISSUER, AUDIENCE, 300).issue(USER, "alice")
    rotated = TokenService(KeyRing.build(other_pem, json.dumps(old.jwks())), ISSUER, AUDIENCE, 300)
    assert rotated.verify(token).user_id == USER


def test_es256_keys_work_too() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    service = TokenService(KeyRing.build(pem), ISSUER, AUDIENCE, 300)
    token = service.issue(USER, "alice")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert service.verify(token).user_id == USER
    (entry,) = service.keys.jwks()["keys"]
    assert entry["kty"] == "EC" and entry["crv"] == "P-256" and entry["alg"] == "ES256"


def test_jwks_entries_are_public_rsa_keys_with_kid(tokens: TokenService) -> None:
    (entry,) = tokens.keys.jwks()["keys"]
    assert entry["kty"] == "RSA" and entry["alg"] == "RS256" and entry["use"] == "sig"
    assert entry["kid"] == tokens.keys.signing_kid == thumbprint(tokens.keys.signing_key.public_key())
    assert "d" not in entry and "p" not in entry
    assert jwt.PyJWK(entry).key.public_numbers() == tokens.keys.signing_key.public_key().public_numbers()


@pytest.mark.parametrize(
    "bad", ["not a pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "changeme"]
)
def test_unusable_private_key_is_a_clear_error(bad: str) -> None:
    with pytest.raises(KeyConfigError):
        KeyRing.build(bad)


@pytest.mark.parametrize("bad", ["{not json", '{"keys": [{"kty": "RSA"}]}', "[1, 2]", "plain text"])
def test_unusable_public_keys_are_a_clear_error(bad: str) -> None:
    with pytest.raises(KeyConfigError):
        parse_public_keys(bad)


def _signed(tokens: TokenService, pem: str, **claims: object) -> str:
    return jwt.encode(_claims(**claims), pem, algorithm="RS256", headers={"kid": tokens.keys.signing_kid})


def test_a_token_carries_the_users_generation(tokens: TokenService) -> None:
    assert tokens.verify(tokens.issue(USER, "alice", 7)).generation == 7
    assert jwt.decode(tokens.issue(USER, "alice", 7), options={"verify_signature": False})["gen"] == 7


def test_a_token_without_a_generation_counts_as_the_first(tokens: TokenService, pem: str) -> None:
    assert tokens.verify(_signed(tokens, pem)).generation == 1


@pytest.mark.parametrize("generation", [0, -1, "2", True, 1.5, None])
def test_a_token_with_a_malformed_generation_is_refused(tokens: TokenService, pem: str, generation: object) -> None:
    with pytest.raises(InvalidToken, match="generation"):
        tokens.verify(_signed(tokens, pem, gen=generation))


# --- each refusal says why, word for word (the reason is logged; the client sees 401 only) -------------


def _with_header(pem: str, header: dict[str, object], claims: dict[str, object] | None = None) -> str:
    return jwt.encode(claims or _claims(), pem, algorithm="RS256", headers=header)


@pytest.mark.parametrize("token", ["no-dot-at-all", "!!!!.e30.c2ln", _b64([1, 2]) + ".e30.c2ln", "bnVsbA.e30.c2ln"])  # type: ignore[arg-type]
def test_a_header_that_is_not_a_json_object_is_malformed(tokens: TokenService, token: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        tokens.verify(token)
    assert str(refused.value) == "malformed token"


@pytest.mark.parametrize("kid", ["somebody-else", ["a", "list"], {"a": 1}, 7, None])
def test_a_kid_that_names_no_key_is_an_unknown_signing_key(tokens: TokenService, kid: object) -> None:
    # Built by hand: PyJWT signs only string kids, and the key is chosen before any signature is read.
    token = _b64({"alg": "RS256", "typ": "JWT", "kid": kid}) + "." + _b64(_claims()) + ".c2ln"
    with pytest.raises(InvalidToken) as refused:
        tokens.verify(token)
    assert str(refused.value) == "unknown signing key"


def test_a_header_alg_other_than_the_keys_is_an_unexpected_algorithm(tokens: TokenService) -> None:
    unsigned = _b64({"alg": "none", "typ": "JWT", "kid": tokens.keys.signing_kid}) + "." + _b64(_claims()) + "."
    with pytest.raises(InvalidToken) as refused:
        tokens.verify(unsigned)
    assert str(refused.value) == "unexpected signing algorithm"


def test_expiry_allows_five_seconds_of_clock_skew_and_no_more(tokens: TokenService, pem: str) -> None:
    assert tokens.verify(_signed(tokens, pem, exp=int(time.time()) - 3)).user_id == USER
    with pytest.raises(InvalidToken) as refused:
        tokens.verify(_signed(tokens, pem, exp=int(time.time()) - 5))
    assert str(refused.value) == "token expired"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"aud": "another-api"}, "invalid token (InvalidAudienceError)"),
        ({"iss": "https://someone-else.example"}, "invalid token (InvalidIssuerError)"),
        ({"sub": "not-a-uuid"}, "invalid subject"),
        ({"gen": 0}, "invalid token generation"),
    ],
)
def test_each_claim_refusal_names_its_cause(tokens: TokenService, pem: str, claims: dict, message: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        tokens.verify(_signed(tokens, pem, **claims))
    assert str(refused.value) == message


def test_an_issued_token_has_every_claim_and_header_it_promises(tokens: TokenService) -> None:
    token = tokens.issue(USER, "alice")
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": tokens.keys.signing_kid, "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "sub", "preferred_username", "iat", "nbf", "exp", "jti", "gen"}
    assert claims["nbf"] == claims["iat"] and claims["exp"] == claims["iat"] + 300 and claims["gen"] == 1
    assert len(claims["jti"]) == 32 and claims["jti"] != jwt.decode(
        tokens.issue(USER, "alice"), options={"verify_signature": False}
    )["jti"]
    assert tokens.verify(token).generation == 1


def test_a_token_without_a_username_names_nobody(tokens: TokenService, pem: str) -> None:
    assert tokens.verify(_signed(tokens, pem)).username == ""


@pytest.mark.parametrize("extra", range(20))
def test_a_header_of_any_length_is_read(tokens: TokenService, pem: str, extra: int) -> None:
    # The header segment is unpadded base64url: every length's padding is restored before decoding.
    token = _with_header(pem, {"kid": tokens.keys.signing_kid, "x": "y" * extra})
    assert tokens.verify(token).user_id == USER
