"""The app role's password reaches PostgreSQL only as a SCRAM-SHA-256 verifier (app/db.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from app import db

# RFC 7677 section 3: user "user", password "pencil", this salt and iteration count; the exchange below
# ends with the server's signature v=..., which only the right ServerKey produces.
RFC_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_FIRST_BARE = "n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
CLIENT_FINAL_WITHOUT_PROOF = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
CLIENT_PROOF = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
SERVER_SIGNATURE = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def parts(verifier: str) -> tuple[int, bytes, bytes, bytes]:
    mechanism, rest = verifier.split("$", 1)
    assert mechanism == "SCRAM-SHA-256"
    params, keys = rest.split("$")
    iterations, salt = params.split(":")
    stored, server = keys.split(":")
    return int(iterations), base64.b64decode(salt), base64.b64decode(stored), base64.b64decode(server)


def test_the_verifier_reproduces_the_rfc_7677_exchange() -> None:
    iterations, salt, stored_key, server_key = parts(db.scram_sha256_verifier("pencil", salt=RFC_SALT))
    assert (iterations, salt) == (4096, RFC_SALT)
    auth_message = f"{CLIENT_FIRST_BARE},{SERVER_FIRST},{CLIENT_FINAL_WITHOUT_PROOF}".encode()
    assert base64.b64encode(hmac.digest(server_key, auth_message, "sha256")).decode() == SERVER_SIGNATURE
    # The server's check of the client's proof: H(proof XOR ClientSignature) == StoredKey.
    signature = hmac.digest(stored_key, auth_message, "sha256")
    client_key = bytes(a ^ b for a, b in zip(base64.b64decode(CLIENT_PROOF), signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key


def test_each_verifier_has_its_own_salt_and_holds_no_trace_of_the_password() -> None:
    password = "correct horse battery staple 42"
    first, second = db.scram_sha256_verifier(password), db.scram_sha256_verifier(password)
    assert first != second and len(parts(first)[1]) == db.SCRAM_SALT_BYTES
    assert password not in first and "horse" not in first


def test_non_ascii_passwords_are_prepared_as_the_server_prepares_them() -> None:
    # U+00A0 (no-break space) maps to a space and U+00AD (soft hyphen) to nothing under SASLprep.
    assert db.scram_sha256_verifier("pa\u00a0ss\u00adword", salt=RFC_SALT) == db.scram_sha256_verifier(
        "pa ssword", salt=RFC_SALT)
    # A prohibited character (a control character) leaves the raw bytes, as pg_saslprep's caller does.
    assert db._saslprep("pass\u0007w\u00e9rd") == "pass\u0007w\u00e9rd".encode()


@pytest.mark.services
def test_the_role_logs_in_with_its_password_and_the_server_stored_the_verifier(
    make_database: Callable[[], str], postgres: Any
) -> None:
    database = make_database()
    role, password = f"app_{uuid.uuid4().hex[:8]}", "s3cret-" + uuid.uuid4().hex

    def admin() -> psycopg.Connection[Any]:
        # The migration runs as a role that may create roles (the RDS master); here the local superuser.
        return psycopg.connect(host=postgres.details["socket_dir"], port=postgres.port, user="postgres",
                               dbname=database.rsplit("/", 1)[1], autocommit=True)

    with admin() as conn:
        db.ensure_app_role(conn, role, password)
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    try:
        assert stored is not None and stored[0].startswith("SCRAM-SHA-256$4096:")
        with psycopg.connect(psycopg.conninfo.make_conninfo(database, user=role, password=password)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(psycopg.conninfo.make_conninfo(database, user=role, password=password + "x")).close()
    finally:
        with admin() as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
