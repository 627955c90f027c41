"""The migration runner: applies the schema and creates or updates the app's own database role.

It is the only code that logs in with the master credentials (APP_DATABASE_MASTER_SECRET_ARN, the
RDS-managed master secret). It creates the role named in APP_DATABASE_SECRET_ARN with that secret's
password (LOGIN, no superuser, DML on the app's tables only), which is what web replicas and the
worker connect as. `python -m app migrate` runs it from a shell; `handler(event, context)` is the
same as a Lambda function (run once per deployment, before compute starts).
"""

from __future__ import annotations

import logging
from typing import Any

from app import db, logs
from app.runtime import QUICK_CONFIG, aws_client, database_conninfo, read_login_secret
from app.settings import Settings, SettingsError

log = logging.getLogger("app.migrate")


def run(settings: Settings, secrets_client: Any | None = None, deadline_seconds: float = 30.0) -> list[str]:
    """Apply pending migrations and set up the app's role; returns the migrations applied."""
    if settings.database_url and not settings.database_master_secret_arn:
        # The development shortcut: the URL's user owns the schema; no separate app role.
        return db.migrate_with_retry(settings.database_url, deadline_seconds)
    missing = [
        name
        for name, value in (
            ("APP_DATABASE_HOST", settings.database_host),
            ("APP_DATABASE_MASTER_SECRET_ARN", settings.database_master_secret_arn),
            ("APP_DATABASE_SECRET_ARN", settings.database_secret_arn),
        )
        if not value
    ]
    if missing:
        raise SettingsError(f"the migration runner needs {', '.join(missing)}")
    client = secrets_client or aws_client(settings, "secretsmanager", QUICK_CONFIG)
    master_user, master_password = read_login_secret(
        client, str(settings.database_master_secret_arn), "APP_DATABASE_MASTER_SECRET_ARN"
    )
    app_role = read_login_secret(client, str(settings.database_secret_arn), "APP_DATABASE_SECRET_ARN")
    if app_role[0] == master_user:
        raise SettingsError("APP_DATABASE_SECRET_ARN names the master user; the app needs a role of its own")
    applied = db.migrate_with_retry(
        database_conninfo(settings), deadline_seconds, app_role=app_role, user=master_user, password=master_password
    )
    log.info("migrations done", extra={"applied": applied, "app_role": app_role[0]})
    return applied


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """AWS Lambda entry point of the migration runner (the image's command selects it)."""
    settings = Settings()
    logs.configure(settings.instance_id, settings.log_level)
    applied = run(settings)
    return {"applied": applied}
