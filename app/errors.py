"""One place that turns failures into JSON answers: 401, 503 for unreachable stores, 500 last."""

from __future__ import annotations

import logging

import psycopg
import redis
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException

from app.security import InvalidToken
from app.unavailable import DependencyUnavailable

log = logging.getLogger("app.errors")

# PostgreSQL's default name for the foreign key of orders.user_id (app/migrations/0001_init.sql).
USER_FOREIGN_KEY = "orders_user_id_fkey"

# Sent with every 503: the request changed nothing and can simply be repeated.
RETRY_AFTER = {"Retry-After": "1"}


_JSON_TYPES = ("application/json",)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def install(app: FastAPI) -> None:
    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        content_type = request.headers.get("content-type", "")
        if request.method in ("POST", "PUT", "PATCH") and content_type and not _is_json(content_type):
            body_errors = [e for e in exc.errors() if tuple(e.get("loc", ()))[:1] == ("body",)]
            if body_errors:
                return JSONResponse(
                    {"detail": f"the body must be JSON (Content-Type: application/json), not {content_type}"},
                    status_code=422,
                )
        # The offending input is left out on purpose: it may be a password.
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return JSONResponse({"detail": details}, status_code=422)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # e.g. bytes that are not UTF-8: malformed JSON like any other.
            return JSONResponse({"detail": "the body is not valid JSON"}, status_code=422)
        return await http_exception_handler(request, exc)  # type: ignore[return-value]

    async def invalid_token(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc) or "invalid token"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    async def redis_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("session store unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
        return JSONResponse(
            {"detail": "session store (Redis) unavailable, retry later"}, status_code=503, headers=RETRY_AFTER
        )

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable", extra={"error": f"{type(exc).__name__}: {str(exc).strip()}"})
        return JSONResponse(
            {"detail": "database (PostgreSQL) unavailable, retry later"}, status_code=503, headers=RETRY_AFTER
        )

    async def dependency_down(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DependencyUnavailable)
        log.warning("dependency unavailable", extra={"dependency": exc.dependency, "error": str(exc)})
        return JSONResponse({"detail": str(exc)}, status_code=503, headers=RETRY_AFTER)

    async def unstorable(request: Request, exc: Exception) -> JSONResponse:
        # e.g. a NUL character in a string: bad input, not a server fault.
        return JSONResponse({"detail": "the input contains characters that cannot be stored"}, status_code=422)

    async def integrity(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, psycopg.errors.ForeignKeyViolation)
        if exc.diag.constraint_name == USER_FOREIGN_KEY:
            # The token's user was deleted between the existence check and the write: the same 401
            # as a token whose user is already gone, and nothing was written.
            return await invalid_token(request, InvalidToken("the token's user does not exist"))
        return await unexpected(request, exc)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The edge (app/edge.py) around the app adds this replica's headers, as to every answer.
        log.error("unhandled error", exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(InvalidToken, invalid_token)
    for redis_error in (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        redis.exceptions.BusyLoadingError,
    ):
        app.add_exception_handler(redis_error, redis_down)
    app.add_exception_handler(psycopg.OperationalError, database_down)
    app.add_exception_handler(PoolTimeout, database_down)
    app.add_exception_handler(psycopg.DataError, unstorable)
    app.add_exception_handler(DependencyUnavailable, dependency_down)
    app.add_exception_handler(psycopg.errors.ForeignKeyViolation, integrity)
    app.add_exception_handler(Exception, unexpected)
