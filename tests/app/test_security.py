"""Password hashing (app/security.py, argon2id) without servers: the right password verifies, nothing
else does, and an unknown user costs a hash too. The token half is in tests/app/test_tokens.py."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from app import security
from tests.app.support import run_on_a_new_loop


@pytest.fixture(scope="module")
def stored() -> str:
    return security.hash_password("a long enough secret")


def test_the_right_password_verifies_and_nothing_else(stored: str) -> None:
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert security.verify_password(stored, "a long enough secret") is True
    assert security.verify_password(stored, "a long enough secreT") is False
    assert security.verify_password(stored, "") is False


def test_an_unknown_user_never_verifies_not_even_with_the_dummy_password() -> None:
    # The dummy hash is verified against so that the answer takes as long; it must never pass.
    assert security.verify_password(None, "not-a-real-password") is False
    assert security.verify_password(None, "anything") is False


@pytest.mark.parametrize("broken", ["not a hash", "$argon2id$v=19$m=19456,t=2,p=1$broken", "$2b$12$abc"])
def test_a_stored_value_that_is_not_an_argon2_hash_is_a_refusal_not_an_error(broken: str) -> None:
    assert security.verify_password(broken, "a long enough secret") is False


def test_a_hash_with_other_parameters_needs_rehashing(stored: str) -> None:
    assert security.needs_rehash(stored) is False
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("a long enough secret")
    assert security.needs_rehash(weaker) is True
    assert security.verify_password(weaker, "a long enough secret") is True


def test_the_async_forms_hash_and_verify_the_given_password() -> None:
    hashed = run_on_a_new_loop(security.hash_password_async("another secret here"))
    assert security.verify_password(hashed, "another secret here")
    assert run_on_a_new_loop(security.verify_password_async(hashed, "another secret here")) is True
    assert run_on_a_new_loop(security.verify_password_async(hashed, "not it")) is False
