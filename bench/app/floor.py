"""The floor: the least a server on the app's own stack can do for the two benchmarked routes.

Starlette on the same uvicorn (its defaults: httptools, uvloop), `redis.asyncio`, PyJWT verifying
RS256 against a public-key object loaded once, the same SKU and body validation as the app, and one
Redis round trip (HSET + EXPIRE + HGETALL in one MULTI). No request id, no metrics, no access log,
no user-existence check, no cart line limit: what the app does on top of this is what bench.app
measures. It lives in bench/, never in the app, and serves nothing but the benchmark.

Usage: python -m bench.app.floor --port P --redis-url URL --jwks-url URL --issuer I --audience A
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

import httpx
import jwt
import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_BODY = 65536
TTL_SECONDS = 7 * 86400


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def build(redis_url: str, keys: dict[str, Any], issuer: str, audience: str) -> Starlette:
    client = aioredis.from_url(redis_url, decode_responses=True)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def put_item(request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            return _error(401, "missing bearer token")
        token = authorization[7:]
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                return _error(401, "unknown signing key")
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=audience,
                issuer=issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=5,
            )
        except jwt.PyJWTError:
            return _error(401, "invalid token")
        sku = request.path_params["sku"]
        if not SKU.match(sku):
            return _error(422, "invalid sku")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return _error(413, "request body too large")
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(422, "the body is not valid JSON")
        quantity = body.get("quantity") if isinstance(body, dict) else None
        if set(body) != {"quantity"} or type(quantity) is not int or not 1 <= quantity <= 1000:
            return _error(422, "quantity must be an integer from 1 to 1000, and the only field")
        key_name = f"cart:{claims['sub']}"
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(key_name, sku, quantity)
            pipe.expire(key_name, TTL_SECONDS)
            pipe.hgetall(key_name)
            cart = (await pipe.execute())[-1]
        items = [{"sku": s, "quantity": int(q)} for s, q in sorted(cart.items()) if not s.startswith("_")]
        return JSONResponse({"items": items})

    routes = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        # The load balancer's health check path, as for the app.
        Route("/readyz", healthz, methods=["GET", "HEAD"]),
        Route("/cart/items/{sku}", put_item, methods=["PUT"]),
    ]
    return Starlette(routes=routes)


def load_keys(jwks_url: str) -> dict[str, Any]:
    """The app's published verification keys, each loaded into a key object once."""
    document = httpx.get(jwks_url, timeout=10, trust_env=False).json()
    return {entry["kid"]: jwt.PyJWK(entry).key for entry in document["keys"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.app.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--jwks-url", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    args = parser.parse_args(argv)
    app = build(args.redis_url, load_keys(args.jwks_url), args.issuer, args.audience)
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
