"""Who gets an EKS access entry: the configured deployer and the listed admins, checked before any
resource exists. Pure, no Pulumi import.

An access entry's `principal_arn` replaces the entry when it changes, and one principal can hold one entry
(a second CreateAccessEntry fails with 409 ResourceInUseException): terraform-aws-modules/terraform-aws-eks
#3293 and #2969 show both, for a deployer derived from the caller and for one also listed as an admin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A role or user ARN, or role/<name> (user/<name>) completed with the account the stack deploys into. Not an
# assumed-role session (arn:aws:sts::...:assumed-role/...), which names one session, not the role.
DEPLOYER = re.compile(r"^(arn:aws[a-z-]*:iam::\d{12}:)?(role|user)/[\w+=,.@/-]+$")


def entry_name(principal: str) -> str:
    """Access entries are named after the principal's name, not its position, so reordering replaces nothing."""
    return re.sub(r"[^a-z0-9]+", "-", principal.rsplit("/", 1)[-1].lower()).strip("-")


def deployer_problem(deployer: str, admins: Sequence[str]) -> str | None:
    """Why this deployer principal cannot get its access entry next to these admins, or None."""
    if not DEPLOYER.match(deployer):
        return (f"must be an IAM role or user ARN, or role/<name> in the stack's account (got {deployer!r}); an "
                "assumed-role session ARN names one session, not the role")
    short = deployer if not deployer.startswith("arn:") else deployer.split(":", 5)[5]
    for admin in admins:
        if admin == deployer or admin.endswith(":" + short):
            return (f"is also listed in eksAdminPrincipalArns ({admin}): one principal has one access entry, and a "
                    "second one fails with CreateAccessEntry 409 ResourceInUseException; remove it from the list")
        if entry_name(admin) == entry_name(deployer):
            return (f"has the same name as the admin principal {admin}: their access entries would collide; "
                    "rename one or drop the admin")
    return None
