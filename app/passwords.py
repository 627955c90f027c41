"""The password policy applied at registration, after NIST SP 800-63B section 5.1.1.2
(https://pages.nist.gov/800-63-3/sp800-63b.html#memsecret):

- at least 8 characters (SHALL), and long ones allowed: up to 256 here (SHOULD permit at least 64);
- no composition rules and no periodic change (SHOULD NOT);
- compared against values known to be commonly used, expected or compromised (SHALL), including
  context-specific words such as the username: here the 30,000 most common passwords that the
  zxcvbn package ships (drawn from a corpus of leaked passwords; nothing is fetched at run time),
  compared case-insensitively, and the username itself;
- control characters are refused: they cannot be typed reliably, and a NUL byte is where C
  libraries and hashing front ends truncate a secret; so are invisible format characters (zero-width
  space, joiners, direction marks: Unicode category Cf), which make two passwords that look the
  same differ, or a password that looks long nearly empty;
- "repetitive or sequential characters (e.g. 'aaaaaa', '1234abcd')" are among NIST's examples of
  values to refuse: a password of spaces only, or of fewer than MIN_DISTINCT different characters
  ('aaaaaaaa', 'abababab'), is refused (sequences such as '12345678' are on the common list).

Every rule gives its own message; none of them echoes the password.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

MIN_LENGTH = 8
MAX_LENGTH = 256
MIN_DISTINCT = 3


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
    if any(unicodedata.category(c) == "Cf" for c in password):
        return "the password must not contain invisible formatting characters (zero-width or direction marks)"
    if not password.strip():
        return "the password must not be only spaces"
    folded = password.casefold()
    if len(set(folded)) < MIN_DISTINCT:
        return f"the password must use at least {MIN_DISTINCT} different characters"
    if username and username.casefold() in folded:
        return "the password must not contain the username"
    if folded in common_passwords():
        return "the password is one of the most commonly used passwords; choose another"
    return None
