"""Passwords (argon2id) and access tokens (asymmetric JWT signed by the key ring)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.keys import ALGORITHMS, KeyRing, algorithm_for

# OWASP's argon2id baseline (19 MiB, t=2, p=1): strong, and light enough that a replica's thread
# pool hashing in parallel does not exhaust memory.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the user does not exist, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# argon2id runs in threads of its own (argon2-cffi releases the GIL while it hashes), never on the
# event loop, and at most this many at once: a burst of logins queues here instead of taking every
# core (and every endpoint thread) from the other routes. Half the CPUs, at least one.
HASHING_THREADS = max(1, (os.cpu_count() or 2) // 2)
# And at a lower scheduling priority than the rest of the process: when the host's cores are busy,
# the kernel runs the event loop and the endpoint threads first, and hashing takes what is left, so a
# burst of logins slows logins, not the other routes. Linux schedules each thread with a nice value of
# its own (setpriority(2), "BUGS": "under the current Linux/NPTL implementation of POSIX threads,
# the nice value is a per-thread attribute"), set here by the thread's id, HASHING_NICE above the one it
# started with; raising one's own nice value needs no privilege.
HASHING_NICE = 10


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no setpriority (not POSIX)
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICE))


_hashing = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="argon2", initializer=_lower_priority)


async def hash_password_async(password: str) -> str:
    return await asyncio.wrap_future(_hashing.submit(hash_password, password))


async def verify_password_async(stored_hash: str | None, password: str) -> bool:
    return await asyncio.wrap_future(_hashing.submit(verify_password, stored_hash, password))


class InvalidToken(Exception):
    """The bearer token is missing, malformed, forged, expired or not meant for this API."""


def _unverified_header(token: str) -> dict[str, object]:
    """The JOSE header, read only to choose the key and the algorithm PyJWT then verifies with.

    PyJWT's `get_unverified_header` decodes and checks all three segments, which `jwt.decode` does
    again: reading the first segment here halves that work. Nothing is trusted from it: `jwt.decode`
    parses the whole token strictly (base64url alphabet included) and checks the signature and the
    header's algorithm, so a header this lenient decoding reads differently is refused there.
    """
    segment, dot, _ = token.partition(".")
    if not dot:
        raise InvalidToken("malformed token")
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        raise InvalidToken("malformed token") from None
    if not isinstance(header, dict):
        raise InvalidToken("malformed token")
    return header


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    # The user's token generation when the token was issued (claim "gen"; app/users.py).
    generation: int = 1


class TokenService:
    def __init__(self, keys: KeyRing, issuer: str, audience: str, ttl_seconds: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: str, username: str, generation: int = 1) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "preferred_username": username,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
            "gen": generation,
        }
        return jwt.encode(
            claims,
            self.keys.signing_key,
            algorithm=self.keys.signing_algorithm,
            headers={"kid": self.keys.signing_kid, "typ": "JWT"},
        )

    def verify(self, token: str) -> Principal:
        header = _unverified_header(token)
        kid = header.get("kid")
        key = self.keys.verification.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("unknown signing key")
        # The accepted algorithm follows the key's type, never the token's header ("alg: none" and
        # HS256-with-the-public-key are refused here).

        algorithm = algorithm_for(key)
        if header.get("alg") != algorithm or algorithm not in ALGORITHMS:
            raise InvalidToken("unexpected signing algorithm")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token ({type(exc).__name__})") from None
        subject = claims.get("sub")
        try:
            uuid.UUID(str(subject))
        except ValueError:
            raise InvalidToken("invalid subject") from None
        # A token from before generations existed counts as generation 1: current until the first
        # sign-out or password change.
        generation = claims.get("gen", 1)
        if type(generation) is not int or generation < 1:
            raise InvalidToken("invalid token generation")
        username = str(claims.get("preferred_username", ""))
        return Principal(user_id=str(subject), username=username, generation=generation)
