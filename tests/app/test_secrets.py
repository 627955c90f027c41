"""The app's identity the cloud way, against real PostgreSQL and moto: KMS-signed tokens, database
credentials from Secrets Manager that survive a rotation without a restart, the migration runner's
least-privilege role, and SigV4 presigned S3 URLs."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import psycopg
import pytest
from psycopg import sql

from app import db
from app import migrate as migration
from app.keys import KeyConfigError, KeyRing, thumbprint
from app.runtime import S3_CONFIG, aws_client, read_login_secret
from app.security import TokenService
from app.settings import Settings
from local import services

pytestmark = pytest.mark.services


def moto_settings(moto: services.Service, **values: Any) -> Settings:
    return Settings(aws_endpoint_url=moto.url, aws_region=services.AWS_REGION, **values)


def superuser(postgres: services.Service, dbname: str = "postgres") -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=postgres.details["socket_dir"], port=postgres.port, user="postgres", dbname=dbname, autocommit=True
    )


def test_tokens_are_signed_in_kms_and_verify_with_the_published_key(moto: services.Service) -> None:
    kms = aws_client(moto_settings(moto), "kms")
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    ring = KeyRing.from_kms(kms, key_id)
    tokens = TokenService(ring, issuer="iss", audience="aud", ttl_seconds=60)
    token = tokens.issue(str(uuid.uuid4()), "alice")
    assert tokens.verify(token).username == "alice"
    (published,) = ring.jwks()["keys"]
    # kid is the RFC 7638 thumbprint of the key KMS publishes; the token verifies with that JWK alone.
    assert published["kid"] == jwt.get_unverified_header(token)["kid"] == thumbprint(ring.signing_key.public_key())
    assert published["alg"] == "RS256"
    claims = jwt.decode(token, jwt.PyJWK(published).key, algorithms=["RS256"], audience="aud")
    assert claims["preferred_username"] == "alice"
    with pytest.raises(KeyConfigError, match="stays in KMS"):
        ring.signing_key.private_bytes()


def test_a_kms_key_that_cannot_sign_rs256_is_refused(moto: services.Service) -> None:
    kms = aws_client(moto_settings(moto), "kms")
    encrypting = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(KeyConfigError, match="SIGN_VERIFY"):
        KeyRing.from_kms(kms, encrypting)


def test_receipt_links_are_presigned_with_sigv4(moto: services.Service) -> None:
    s3 = aws_client(moto_settings(moto), "s3", S3_CONFIG)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "receipts/x.json"}, ExpiresIn=900)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["900"]
    assert "Signature" not in query and "AWSAccessKeyId" not in query  # SigV2's parameters


@pytest.fixture
def fresh_database(postgres: services.Service) -> Callable[[], str]:
    def create() -> str:
        name = f"s_{uuid.uuid4().hex[:12]}"
        with superuser(postgres) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    return create


def put_login_secret(moto: services.Service, username: str, password: str) -> str:
    sm = aws_client(moto_settings(moto), "secretsmanager")
    body = json.dumps({"username": username, "password": password, "engine": "postgres"})
    arn: str = sm.create_secret(Name=f"t/{uuid.uuid4().hex}", SecretString=body)["ARN"]
    return arn


def test_the_migration_runner_creates_a_role_with_dml_rights_only(
    postgres: services.Service, moto: services.Service, fresh_database: Callable[[], str]
) -> None:
    dbname = fresh_database()
    master_password = uuid.uuid4().hex
    master_user = f"m_{uuid.uuid4().hex[:8]}"
    role = f"a_{uuid.uuid4().hex[:8]}"
    with superuser(postgres) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(master_user), sql.Literal(master_password)
            )
        )
        owner = sql.SQL("ALTER DATABASE {} OWNER TO {}")
        conn.execute(owner.format(sql.Identifier(dbname), sql.Identifier(master_user)))
    with superuser(postgres, dbname) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(master_user)))
    settings = moto_settings(
        moto,
        database_host="127.0.0.1",
        database_port=postgres.port,
        database_name=dbname,
        database_sslmode="disable",
        database_master_secret_arn=put_login_secret(moto, master_user, master_password),
        database_secret_arn=put_login_secret(moto, role, "app-role-password-1"),
    )
    assert migration.run(settings, deadline_seconds=5) == [name for _, name, _ in db.migrations()]
    dsn = f"postgresql://{role}:app-role-password-1@127.0.0.1:{postgres.port}/{dbname}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        flags = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert flags == (False, False, False)
        conn.execute("INSERT INTO users (username, password_hash) VALUES ('dml', 'x')")
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)
        for ddl in ("CREATE TABLE sneaky (id int)", "DROP TABLE outbox", "ALTER TABLE users ADD COLUMN x int"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(ddl)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM schema_migrations")
    # Run again (every deployment does): nothing to apply, the role's password follows its secret.
    assert migration.run(settings, deadline_seconds=5) == []


def test_a_rotated_password_is_read_again_without_a_restart(
    postgres: services.Service, moto: services.Service, fresh_database: Callable[[], str]
) -> None:
    dbname = fresh_database()
    role = f"r_{uuid.uuid4().hex[:8]}"
    with superuser(postgres) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'first-password'").format(sql.Identifier(role)))
    arn = put_login_secret(moto, role, "first-password")
    sm = aws_client(moto_settings(moto), "secretsmanager")
    credentials = db.DbCredentials(lambda: read_login_secret(sm, arn, "APP_DATABASE_SECRET_ARN"), ttl=3600)
    conninfo = f"host=127.0.0.1 port={postgres.port} dbname={dbname} sslmode=disable"
    pool = db.make_pool(conninfo, 2, name="rotation", credentials=credentials)
    pool.open(wait=True, timeout=10)
    try:
        with pool.connection() as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
        assert credentials.reads == 1
        # Rotation: the role's password changes, the secret's AWSCURRENT follows, open sessions end.
        with superuser(postgres) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD 'second-password'").format(sql.Identifier(role)))
            # As a rotation function stages it: AWSPENDING first, then AWSCURRENT moved onto it.
            rotated = json.dumps({"username": role, "password": "second-password"})
            old = sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["VersionId"]
            token = str(uuid.uuid4())
            sm.put_secret_value(
                SecretId=arn, ClientRequestToken=token, SecretString=rotated, VersionStages=["AWSPENDING"]
            )
            sm.update_secret_version_stage(
                SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=old
            )
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
        # The cached password is an hour from its TTL; the refused login alone makes the app read again.
        with pool.connection(timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        # Read again after the refused login (the pool's own reconnection may have read it too).
        assert credentials.reads >= 2
        assert credentials.current() == (role, "second-password")
    finally:
        pool.close()


def test_credentials_are_read_again_after_their_ttl_and_kept_when_the_secret_is_unreachable() -> None:
    answers = iter([("u", "p1"), ("u", "p2")])
    calls: list[int] = []

    def fetch() -> tuple[str, str]:
        calls.append(1)
        try:
            return next(answers)
        except StopIteration:
            raise ConnectionError("Secrets Manager unreachable") from None

    credentials = db.DbCredentials(fetch, ttl=0.01)
    assert credentials.current() == ("u", "p1")
    time.sleep(0.02)
    assert credentials.current() == ("u", "p2")
    time.sleep(0.02)
    # A failed re-read keeps the last value rather than failing every new connection.
    assert credentials.current() == ("u", "p2")
    assert len(calls) == 3


def test_a_login_while_kms_does_not_answer_is_a_503_for_that_route_only(moto: services.Service) -> None:
    from app.keys import KmsSigningKey
    from app.unavailable import DependencyUnavailable

    kms = aws_client(moto_settings(moto), "kms")
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    ring = KeyRing.from_kms(kms, key_id)
    issued = TokenService(ring, issuer="iss", audience="aud", ttl_seconds=60).issue(str(uuid.uuid4()), "bob")

    class Unreachable:
        def sign(self, **kwargs: Any) -> Any:
            raise ConnectionError("KMS endpoint unreachable")

    assert isinstance(ring.signing_key, KmsSigningKey)
    ring.signing_key._kms = Unreachable()
    tokens = TokenService(ring, issuer="iss", audience="aud", ttl_seconds=60)
    # Issuing a token needs KMS and says so (answered 503 with Retry-After by the app's error handler)...
    with pytest.raises(DependencyUnavailable, match="KMS"):
        tokens.issue(str(uuid.uuid4()), "bob")
    # ...verifying one does not: every other route keeps working.
    assert tokens.verify(issued).username == "bob"
