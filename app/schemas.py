"""Response shapes as the OpenAPI document describes them, the error answers included.

Every error the API gives is JSON `{"detail": ...}`: a sentence, or for 422 from validation a list
of `{loc, msg, type}` (never the input: it may be a password). `errors(...)` builds the `responses`
argument of a route from status codes, with the headers each one carries.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Error(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "the cart is empty"}]})
    detail: str | list[ValidationIssue]


class Registered(BaseModel):
    id: str
    username: str


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class CartLine(BaseModel):
    sku: str
    quantity: int


class CartView(BaseModel):
    items: list[CartLine]


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="allow")
    sku: str
    quantity: int


class OrderCreated(BaseModel):
    id: str
    status: Literal["pending"]
    items: list[OrderLine]


class OrderView(BaseModel):
    id: str
    status: Literal["pending", "ready", "failed"]
    items: list[OrderLine]
    receipt_url: str | None = None


_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "required": True, "schema": {"type": "string"}}
}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"description": "the Bearer challenge", "required": True, "schema": {"type": "string"}}
}

_ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("malformed request: an invalid Content-Length, or a request head over APP_MAX_HEADER_BYTES", {}),
    401: ("missing, malformed, expired or forged token, or its user no longer exists", _WWW_AUTHENTICATE),
    404: ("not found, or not yours", {}),
    409: ("conflict with the current state", {}),
    413: ("request body larger than APP_MAX_BODY_BYTES", {}),
    422: ("invalid input: a sentence, or a list of {loc, msg, type}", {}),
    408: ("the request body did not arrive within APP_BODY_TIMEOUT_SECONDS", {}),
    429: ("too many attempts (failed or successful logins, registrations): wait Retry-After seconds", _RETRY_AFTER),
    503: ("a store this route needs (Redis or PostgreSQL) is unavailable; the request changed nothing", _RETRY_AFTER),
}


def errors(*codes: int, **why: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each code with the Error schema, its headers and a description.

    `why` overrides a description for this route, keyed `e409="the cart is empty"`.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        description, headers = _ERRORS[code]
        entry: dict[str, Any] = {"model": Error, "description": why.get(f"e{code}", description)}
        if headers:
            entry["headers"] = headers
        responses[code] = entry
    return responses
