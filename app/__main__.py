"""`python -m app [serve] [--host H] [--port P]`, `python -m app migrate`, `python -m app genkey`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from app.settings import Settings


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's settings for a replica behind a load balancer (also used by the keep-alive test)."""
    from app.server import uvicorn_options

    return {
        **uvicorn_options(settings),
        "proxy_headers": True,
        "forwarded_allow_ips": "127.0.0.1",
        "timeout_keep_alive": settings.keepalive_timeout_seconds,
        "timeout_graceful_shutdown": 20,
        "access_log": False,
        "log_config": None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the web app under uvicorn (default)")
    for p in (parser, serve):
        p.add_argument("--host", default=os.environ.get("APP_HOST", "127.0.0.1"))
        p.add_argument("--port", type=int, default=int(os.environ.get("APP_PORT", "8000")))
    sub.add_parser("migrate", help="apply database migrations, create or update the app's role, and exit")
    sub.add_parser("genkey", help="print a new RS256 private key (PEM) for APP_JWT_PRIVATE_KEY")
    args = parser.parse_args(argv)

    if args.command == "genkey":
        from app.keys import generate_private_key_pem

        sys.stdout.write(generate_private_key_pem())
        return 0
    if args.command == "migrate":
        from app import logs, migrate
        from app.settings import SettingsError

        settings = Settings()
        logs.configure(settings.instance_id, settings.log_level)
        try:
            migrate.run(settings)
        except SettingsError as exc:
            sys.stderr.write(f"configuration error: {exc}\n")
            return 2
        return 0

    import uvicorn

    from app.main import create_app
    from app.settings import SettingsError

    try:
        settings = Settings()
        app = create_app(settings)
    except (SettingsError, ValueError) as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return 2
    uvicorn.run(app, host=args.host, port=args.port, **server_options(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
