"""Names for components and the few physical names the program sets itself.

Most AWS names are left to Pulumi's auto-naming (a random suffix keeps replacements and parallel
stacks from colliding); only names AWS needs up front, such as the final DB snapshot, are built here.
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")

# `<environment>-<component>-<role>` plus Pulumi's 8-character random suffix must fit the
# 32-character limit of load balancer and target group names.
MAX_ENVIRONMENT_LENGTH = 10


def is_label(text: str, max_length: int = MAX_ENVIRONMENT_LENGTH) -> bool:
    """A short DNS-style label: lowercase letters, digits and single inner hyphens."""
    return len(text) <= max_length and bool(_LABEL.match(text)) and "--" not in text


def child(name: str, role: str) -> str:
    """The name of a component's child: `<component>-<role>`."""
    return f"{name}-{role}"


def _rds_identifier(text: str, limit: int) -> str:
    """RDS identifiers: letters, digits and single hyphens, starting with a letter, no trailing hyphen."""
    ident = re.sub(r"[^a-zA-Z0-9-]", "-", text).strip("-")
    ident = re.sub(r"-{2,}", "-", ident)
    if not ident or not ident[0].isalpha():
        ident = f"db-{ident}"
    return ident[:limit].rstrip("-").lower()


def db_identifier(name: str, suffix: str) -> str:
    """`<name>-<suffix>` as a DB instance identifier (at most 63 characters); the suffix is kept whole."""
    if not re.fullmatch(r"[a-z0-9]{1,16}", suffix):
        raise ValueError(f"identifier suffix {suffix!r} must be 1-16 lowercase letters or digits")
    return f"{_rds_identifier(name, 62 - len(suffix))}-{suffix}"


def final_snapshot_identifier(instance_identifier: str) -> str:
    """The final snapshot of one instance: named after that instance's own (unique) identifier."""
    return _rds_identifier(f"{instance_identifier}-final", 255)


def ssm_path(*parts: str) -> str:
    """An SSM parameter path: `/part/part/...` (each part a label)."""
    for part in parts:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", part):
            raise ValueError(f"{part!r} cannot be part of an SSM parameter name")
    return "/" + "/".join(parts)
