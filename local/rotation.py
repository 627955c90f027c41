"""`python -m local rotate-db-password [--terminate-sessions]`: rotate the password of the role the app
connects as, the way Secrets Manager rotation (and RDS managed rotation) does.

The four steps of a rotation function, with the AWSPENDING and AWSCURRENT staging labels
(https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html),
single-user strategy (the role changes its own password):
1. createSecret: a new version of the secret with a generated password, labelled AWSPENDING;
2. setSecret: the role's password in PostgreSQL becomes the pending one;
3. testSecret: a login with the pending version succeeds;
4. finishSecret: AWSCURRENT moves to the new version (AWSPREVIOUS to the old one).
Open sessions keep working after a rotation (PostgreSQL checks a password at login only). With
`terminate_sessions`, the app's sessions are then ended (pg_terminate_backend), as an hour of pool
renewal would end them: every replica and the worker must log in again with the new secret.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg

from local import moto
from local.runinfo import RunInfo


class RotationError(RuntimeError):
    """A rotation step failed; the message names the step. AWSCURRENT still holds a working password."""


@dataclass(frozen=True)
class Rotation:
    secret_arn: str
    username: str
    new_version: str
    previous_version: str
    sessions_terminated: int


def _login(host: str, port: int, dbname: str, user: str, password: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=host, port=port, dbname=dbname, user=user, password=password, connect_timeout=5, autocommit=True
    )


def rotate(run: RunInfo, *, terminate_sessions: bool = False) -> Rotation:
    entry = run.services["moto"]
    arn = str(entry["database_secret_arn"])
    sm = moto.aws_client("secretsmanager", str(entry["url"]))
    master = urlsplit(str(run.services["postgres"]["url"]))
    host, port, dbname = str(master.hostname), int(master.port or 5432), master.path.lstrip("/")

    # createSecret
    current = sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    secret = json.loads(current["SecretString"])
    username, old_password = secret["username"], secret["password"]
    token = str(uuid.uuid4())
    generated = sm.get_random_password(PasswordLength=32, ExcludeCharacters=moto.PASSWORD_EXCLUDED_CHARACTERS)
    password = generated["RandomPassword"]
    sm.put_secret_value(
        SecretId=arn,
        ClientRequestToken=token,
        SecretString=json.dumps({**secret, "password": password}),
        VersionStages=["AWSPENDING"],
    )
    # setSecret: the role sets its own password, logged in with the current one.
    try:
        with _login(host, port, dbname, username, old_password) as conn:
            conn.execute(
                psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    psycopg.sql.Identifier(username), psycopg.sql.Literal(password)
                )
            )
    except psycopg.Error as exc:
        raise RotationError(f"setSecret: could not set the new password of {username}: {exc}") from exc
    # testSecret
    try:
        with _login(host, port, dbname, username, password) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise RotationError(f"testSecret: the pending password does not log in: {exc}") from exc
    # finishSecret
    sm.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current["VersionId"]
    )
    terminated = 0
    if terminate_sessions:
        with psycopg.connect(str(run.services["postgres"]["url"]), connect_timeout=5, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()",
                (username,),
            ).fetchall()
            terminated = sum(1 for (done,) in rows if done)
    return Rotation(arn, username, token, str(current["VersionId"]), terminated)
