"""Login throttling shared by every replica: failure counters in Redis, per account and per client address.

Each counter is a fixed window: at most N failed logins per account (and M per client address)
within `APP_LOGIN_FAILURE_WINDOW_SECONDS`; past that, logins are answered 429 until the window ends.

Why these defaults (10 per account, 100 per address, 15 minutes):
- NIST SP 800-63B section 5.2.2 (https://pages.nist.gov/800-63-3/sp800-63b.html#throttle): a
  verifier SHALL limit consecutive failed attempts on one account to no more than 100.
- OWASP ASVS 4.0.3 V2.2.1: no more than 100 failed attempts per hour on a single account.
  10 per 15 minutes is at most 40 an hour.
- The OWASP Authentication Cheat Sheet (section "Account Lockout",
  https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html#account-lockout)
  names the three knobs (threshold, observation window, lockout duration) and warns that a
  lockout must end by itself, or attackers lock users out at will. Here it ends with the window.
- The address limit is ten times the account limit, so one office behind a NAT does not lock
  itself out, while credential stuffing from one address across many accounts still stops.

Attempts are counted when they start, not when they fail, in one atomic step (a Lua script):
otherwise a burst of concurrent guesses would all pass the check before any failure was counted.
A successful login gives back what it counted: the account counter is cleared (NIST counts
consecutive failures), but the address counter only loses the one attempt that succeeded, so an
attacker logging in to an account of their own cannot wipe their failures elsewhere.

Usernames are counted whether or not the account exists, after the same normalisation as the
unique index (lower case), so a 429 tells nothing about existence.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass

import redis

_PREFIX = "login:failures"

# KEYS: account counter, address counter. ARGV: account limit, address limit, window (ms).
# Returns {which counters are full (bit 1 account, bit 2 address), milliseconds until they empty}.
_ATTEMPT = """
local window = tonumber(ARGV[3])
local full, wait = 0, 0
for i = 1, 2 do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[i]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], window)
      ttl = window
    end
    full = full + i
    if ttl > wait then wait = ttl end
  end
end
if full > 0 then return {full, wait} end
for i = 1, 2 do
  redis.call('INCR', KEYS[i])
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], window) end
end
return {0, 0}
"""

# KEYS: account counter, address counter. ARGV[1]: "clear" when the attempt succeeded (the
# account's failures are forgotten), "undo" when it could not be judged (a store was down). Either
# way the address gets back only the attempt just made: never below zero, never past its window.
_GIVE_BACK = """
for i = 1, 2 do
  if i == 1 and ARGV[1] == 'clear' then
    redis.call('DEL', KEYS[1])
  elseif tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 1
"""

ACCOUNT = 1
ADDRESS = 2


@dataclass(frozen=True)
class Verdict:
    """`full` is 0 when the attempt may go ahead, else ACCOUNT | ADDRESS bits of the full counters."""

    full: int
    retry_after_seconds: int

    @property
    def allowed(self) -> bool:
        return self.full == 0


def account_key(username: str) -> str:
    # Hashed: any string up to the request limit may arrive here, and Redis keys stay short.
    digest = hashlib.sha256(username.lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{_PREFIX}:account:{digest}"


def address_key(address: str) -> str:
    return f"{_PREFIX}:address:{address}"


class LoginThrottle:
    def __init__(self, client: redis.Redis, per_account: int, per_address: int, window_seconds: int) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window_ms = window_seconds * 1000
        self._attempt = client.register_script(_ATTEMPT)
        self._give_back = client.register_script(_GIVE_BACK)

    def attempt(self, username: str, address: str) -> Verdict:
        """Count one login attempt, or refuse it when either counter is full. Raises on Redis errors."""
        full, wait_ms = self._attempt(
            keys=[account_key(username), address_key(address)],
            args=[self.per_account, self.per_address, self.window_ms],
        )
        return Verdict(int(full), max(1, math.ceil(int(wait_ms) / 1000)) if full else 0)

    def succeeded(self, username: str, address: str) -> None:
        self._give_back(keys=[account_key(username), address_key(address)], args=["clear"])

    def undo(self, username: str, address: str) -> None:
        """The attempt was never judged (PostgreSQL was down): it is not a failure."""
        self._give_back(keys=[account_key(username), address_key(address)], args=["undo"])


def client_address(forwarded_for: Iterable[str], peer: str | None, trusted_hops: int) -> str:
    """The client's address as the outermost trusted load balancer saw it.

    Load balancers append the address they accepted the connection from to X-Forwarded-For: the
    ALB appends to any header the client sent ("append" is its default X-Forwarded-For mode,
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html),
    and HAProxy's `option forwardfor` adds one more header line, which reads as the last element
    of the combined list (RFC 9110 section 5.3). So the entry `trusted_hops` from the right is
    the one the outermost trusted proxy wrote; anything left of it came from the client and is
    never used. With no trusted proxy (or fewer entries than proxies) the TCP peer is the client.

    IPv6 addresses count per /64, the block one subscriber usually holds; otherwise an attacker
    would change address with every attempt.
    """
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    chosen = hops[-trusted_hops] if trusted_hops and len(hops) >= trusted_hops else (peer or "unknown")
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
