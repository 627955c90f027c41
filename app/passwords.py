"""The password policy applied at registration, after NIST SP 800-63B section 5.1.1.2
(https://pages.nist.gov/800-63-3/sp800-63b.html#memsecret):

- at least 8 characters (SHALL), and long ones allowed: up to 256 here (SHOULD permit at least 64);
- no composition rules and no periodic change (SHOULD NOT);
- compared against values known to be commonly used, expected or compromised (SHALL), including
  context-specific words such as the username: here the 30,000 most common passwords that the
  zxcvbn package ships (drawn from a corpus of leaked passwords; nothing is fetched at run time),
  compared case-insensitively, and the username itself;
- control characters are refused: they cannot be typed reliably, and a NUL byte is where C
  libraries and hashing front ends truncate a secret.

Every rule gives its own message; none of them echoes the password.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

MIN_LENGTH = 8
MAX_LENGTH = 256


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    # Imported on first use: the module is large, and only registration needs it.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def problem(password: str, username: str) -> str | None:
    """Why this password is refused for this username, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"the password must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"the password must be at most {MAX_LENGTH} characters long"
    if any(unicodedata.category(c) == "Cc" for c in password):
        return "the password must not contain control characters"
    folded = password.casefold()
    if username and username.casefold() in folded:
        return "the password must not contain the username"
    if folded in common_passwords():
        return "the password is one of the most commonly used passwords; choose another"
    return None
