"""Abuse limits shared by every replica, kept in Redis: login failures and successes, registrations.

The login model (defaults in app/settings.py; the numbers and their reasons are in app/README.md):
- **Per (account, client address)**: at most `login_max_failures_per_account_and_address` (10)
  failures; past that, this address gets 429 for this account until the window has passed with no
  failure. This is the only hard refusal, and it binds the guesser's own address only: the owner
  at any other address is not affected.
- **Per account, all addresses together**, and **per address, all accounts together**: past a free
  allowance (20 and 100 failures), each further attempt must wait a delay that doubles with every
  failure (1 s, 2 s, 4 s, ...) up to a cap (300 s and 60 s) after the last failure; a request inside
  the delay gets 429 with `Retry-After`. A shared address (an office NAT, a CGNAT) is slowed, never
  shut, and a distributed guesser is slowed on the account.
- **Known addresses skip both delays**: an address from which the account logged in successfully
  within `login_known_address_days` (30) is exempt from the account-wide and address-wide delays
  (not from its own per-(account, address) limit). This is the OWASP "device cookie" idea keyed by
  the address the load balancer saw, which a client cannot forge: an attacker cannot delay the
  owner at an address the owner uses, and an attacker behind the owner's NAT still meets the
  per-(account, address) limit.
- Failures are forgotten `login_failure_window_seconds` (900) after the last one (a sliding
  window); a success forgets the account's failures and the (account, address) failures, and gives
  the address back only the attempt just made.
- **Successful logins** are limited per account and per address (each one costs a KMS `Sign`), in
  fixed windows; so are **registrations** per address (each costs an argon2 hash, and a taken name
  is answered only within this limit, so usernames cannot be listed at speed).

Guidance followed:
- OWASP Authentication Cheat Sheet, "Protect Against Automated Attacks" and "Account Lockout"
  (https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html): lockout is a
  denial-of-service lever; prefer an exponential delay, and let a device that has proved itself
  before through (device cookies).
- NIST SP 800-63B section 5.2.2 (https://pages.nist.gov/800-63-3/sp800-63b.html#throttle): limit
  consecutive failures on an account (at most 100), with techniques that do not lock the owner
  out: "requiring the claimant to wait following a failed attempt for a period of time that
  increases as the account approaches its maximum allowance", and "accepting only authentication
  requests that come from a white list of IP addresses from which the subscriber has been
  successfully authenticated before".

Attempts are counted when they start, in one atomic step (a Lua script), so a burst of concurrent
guesses gets exactly the allowance. Usernames are counted whether or not the account exists, after
the same normalisation as the unique index (lower case), so an answer tells nothing about existence.
Time is Redis's own clock (TIME), the same for every replica.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass

import redis

_PREFIX = "login"

# Verdicts: which limit refused the attempt (0: allowed).
PAIR = 1
ACCOUNT = 2
ADDRESS = 3
SUCCESSES_ACCOUNT = 4
SUCCESSES_ADDRESS = 5
REGISTRATIONS = 6

WHY = {
    PAIR: "too many failed logins for this account from this address",
    ACCOUNT: "too many failed logins for this account; slowed down",
    ADDRESS: "too many failed logins from this address; slowed down",
    SUCCESSES_ACCOUNT: "too many logins for this account",
    SUCCESSES_ADDRESS: "too many logins from this address",
    REGISTRATIONS: "too many registrations from this address",
}

# The delay after `failures` failures when `free` are allowed without one: 1 s at the first failure
# past the allowance, doubling, capped. Mirrored by `delay_ms` below (tests compare the two).
_DELAY = """
local function delay_ms(failures, free, cap)
  if failures < free then return 0 end
  local exponent = failures - free
  if exponent > 30 then return cap end
  return math.min(1000 * 2 ^ exponent, cap)
end
"""

# KEYS: 1 pair failures, 2 account failures {n, last}, 3 address failures {n, last},
#       4 the account's known addresses (zset), 5 account successes, 6 address successes.
# ARGV: 1 pair limit, 2 account free, 3 address free, 4 account cap ms, 5 address cap ms,
#       6 window ms, 7 address, 8 successes per account, 9 successes per address.
# Returns {verdict, milliseconds to wait}.
_ATTEMPT = (
    _DELAY
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[6])
local function full(key, limit)
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(limit) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then ttl = window end
    return ttl
  end
  return nil
end
local wait = full(KEYS[5], ARGV[8])
if wait then return {4, wait} end
wait = full(KEYS[6], ARGV[9])
if wait then return {5, wait} end
wait = full(KEYS[1], ARGV[1])
if wait then return {1, wait} end
if not redis.call('ZSCORE', KEYS[4], ARGV[7]) then
  for i = 2, 3 do
    local n = tonumber(redis.call('HGET', KEYS[i], 'n') or '0')
    local last = tonumber(redis.call('HGET', KEYS[i], 'last') or '0')
    local until_ms = last + delay_ms(n, tonumber(ARGV[i]), tonumber(ARGV[i + 2]))
    if until_ms > now then return {i, until_ms - now} end
  end
end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], window)
for i = 2, 3 do
  redis.call('HINCRBY', KEYS[i], 'n', 1)
  redis.call('HSET', KEYS[i], 'last', now)
  redis.call('PEXPIRE', KEYS[i], window)
end
return {0, 0}
"""
)

# KEYS as for _ATTEMPT. ARGV: 1 "success" or "undo"; for "success" also 2 address, 3 known-address
# lifetime ms, 4 success window ms, 5 how many known addresses an account keeps.
# "success": the account's and the pair's failures are forgotten, the address gets back the one
# attempt, the address becomes known to the account, the successes are counted. "undo" (the attempt
# could not be judged): every counter gets back the one attempt. Never below zero.
_SETTLE = """
local function give_back(key)
  if tonumber(redis.call('HGET', key, 'n') or '0') > 0 then redis.call('HINCRBY', key, 'n', -1) end
end
if ARGV[1] == 'success' then
  redis.call('DEL', KEYS[1], KEYS[2])
  give_back(KEYS[3])
  local t = redis.call('TIME')
  -- Scored by the microsecond: the newest addresses are the ones kept.
  redis.call('ZADD', KEYS[4], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[2])
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -1 - tonumber(ARGV[5]))
  redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[3]))
  for i = 5, 6 do
    if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[4])) end
  end
elseif ARGV[1] == 'undo' then
  if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
  give_back(KEYS[2])
  give_back(KEYS[3])
end
return 1
"""

# KEYS[1]: the address's registration counter. ARGV: limit, window ms. Counts the attempt unless full.
_REGISTER = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
    ttl = tonumber(ARGV[2])
  end
  return ttl
end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2])) end
return 0
"""

KNOWN_ADDRESSES_KEPT = 20


def delay_ms(failures: int, free: int, cap_ms: int) -> int:
    """The wait after the last failure once `failures` have been counted (the Lua `delay_ms`)."""
    if failures < free:
        return 0
    exponent = failures - free
    if exponent > 30:
        return cap_ms
    return int(min(1000 * 2**exponent, cap_ms))


@dataclass(frozen=True)
class Verdict:
    """`refused` is 0 when the attempt may go ahead, else which limit refused it (PAIR, ACCOUNT, ...)."""

    refused: int
    retry_after_seconds: int

    @property
    def allowed(self) -> bool:
        return self.refused == 0

    @property
    def reason(self) -> str:
        return WHY.get(self.refused, "")


def _verdict(refused: int, wait_ms: int) -> Verdict:
    return Verdict(refused, max(1, math.ceil(wait_ms / 1000)) if refused else 0)


def account_id(username: str) -> str:
    # Hashed: any string up to the request limit may arrive here, and Redis keys stay short.
    return hashlib.sha256(username.lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


def pair_key(username: str, address: str) -> str:
    return f"{_PREFIX}:failures:pair:{account_id(username)}:{address}"


def account_key(username: str) -> str:
    return f"{_PREFIX}:failures:account:{account_id(username)}"


def address_key(address: str) -> str:
    return f"{_PREFIX}:failures:address:{address}"


def known_key(username: str) -> str:
    return f"{_PREFIX}:known:{account_id(username)}"


def account_successes_key(username: str) -> str:
    return f"{_PREFIX}:successes:account:{account_id(username)}"


def address_successes_key(address: str) -> str:
    return f"{_PREFIX}:successes:address:{address}"


def registrations_key(address: str) -> str:
    return f"register:address:{address}"


@dataclass(frozen=True, kw_only=True)
class Limits:
    per_pair: int = 10
    account_free: int = 20
    address_free: int = 100
    account_max_delay_seconds: int = 300
    address_max_delay_seconds: int = 60
    window_seconds: int = 900
    known_days: int = 30
    successes_per_account: int = 30
    successes_per_address: int = 300
    success_window_seconds: int = 300
    registrations_per_address: int = 20
    registration_window_seconds: int = 3600


class LoginThrottle:
    def __init__(self, client: redis.Redis, limits: Limits) -> None:
        self.limits = limits
        self._attempt = client.register_script(_ATTEMPT)
        self._settle = client.register_script(_SETTLE)
        self._register = client.register_script(_REGISTER)

    @staticmethod
    def _keys(username: str, address: str) -> list[str]:
        return [
            pair_key(username, address),
            account_key(username),
            address_key(address),
            known_key(username),
            account_successes_key(username),
            address_successes_key(address),
        ]

    def attempt(self, username: str, address: str) -> Verdict:
        """Count one login attempt, or refuse it (nothing counted). Raises on Redis errors."""
        limits = self.limits
        refused, wait_ms = self._attempt(
            keys=self._keys(username, address),
            args=[
                limits.per_pair,
                limits.account_free,
                limits.address_free,
                limits.account_max_delay_seconds * 1000,
                limits.address_max_delay_seconds * 1000,
                limits.window_seconds * 1000,
                address,
                limits.successes_per_account,
                limits.successes_per_address,
            ],
        )
        return _verdict(int(refused), int(wait_ms))

    def succeeded(self, username: str, address: str) -> None:
        self._settle(
            keys=self._keys(username, address),
            args=[
                "success",
                address,
                self.limits.known_days * 86400 * 1000,
                self.limits.success_window_seconds * 1000,
                KNOWN_ADDRESSES_KEPT,
            ],
        )

    def undo(self, username: str, address: str) -> None:
        """The attempt was never judged (PostgreSQL was down): it is not a failure."""
        self._settle(keys=self._keys(username, address), args=["undo"])

    def register(self, address: str) -> Verdict:
        """Count one registration attempt from this address, or refuse it. Raises on Redis errors."""
        wait_ms = self._register(
            keys=[registrations_key(address)],
            args=[self.limits.registrations_per_address, self.limits.registration_window_seconds * 1000],
        )
        return _verdict(REGISTRATIONS if int(wait_ms) else 0, int(wait_ms))


def client_address(forwarded_for: Iterable[str], peer: str | None, trusted_hops: int) -> str:
    """The client's address as the outermost trusted load balancer saw it.

    Load balancers append the address they accepted the connection from to X-Forwarded-For: the
    ALB appends to any header the client sent ("append" is its default X-Forwarded-For mode,
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html),
    and HAProxy's `option forwardfor` adds one more header line, which reads as the last element
    of the combined list (RFC 9110 section 5.3). So the entry `trusted_hops` from the right is
    the one the outermost trusted proxy wrote; anything left of it came from the client and is
    never used. With no trusted proxy (or fewer entries than proxies) the TCP peer is the client.
    """
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    chosen = hops[-trusted_hops] if trusted_hops and len(hops) >= trusted_hops else (peer or "unknown")
    return address_bucket(chosen)


def address_bucket(chosen: str) -> str:
    """The key an address counts under. IPv6 addresses count per /64, the block one subscriber
    usually holds; otherwise an attacker would change address with every attempt."""
    try:
        ip = ipaddress.ip_address(chosen)
    except ValueError:
        # Not an address (a misconfigured proxy): still a stable, bounded key.
        return "other-" + hashlib.sha256(chosen.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def request_address(headers: list[tuple[bytes, bytes]] | Iterable[tuple[str, str]], peer: str | None,
                    trusted_hops: int, address_header: str) -> str:
    """The client address of a request: the trusted header API Gateway sets (`address_header`,
    apigateway ingress) when configured, else the X-Forwarded-For hop of the outermost trusted proxy.

    With `address_header` set, a request without it did not come through API Gateway (only the VPC
    link reaches the internal ALB), so it falls back to X-Forwarded-For rather than trusting nothing."""
    wanted = address_header.lower()
    forwarded: list[str] = []
    header_value: str | None = None
    for name, value in headers:
        key = name.decode("latin-1").lower() if isinstance(name, bytes) else name.lower()
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if wanted and key == wanted:
            header_value = text.strip()
        elif key == "x-forwarded-for":
            forwarded.append(text)
    if header_value:
        return address_bucket(header_value)
    return client_address(forwarded, peer, trusted_hops)
