"""The stateless-guard policy pack, as `pulumi preview --policy-pack policies` loads it.

The Pulumi CLI runs this file with the pack directory as the working directory and on sys.path, so
the repository root is put on the import path first to make `policies.*` importable from there too.
"""

import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from pulumi_policy import PolicyPack  # noqa: E402

from policies.pack import PACK_DESCRIPTION, PACK_ENFORCEMENT, PACK_NAME, POLICIES  # noqa: E402

PolicyPack(
    PACK_NAME,
    policies=POLICIES,
    enforcement_level=PACK_ENFORCEMENT,
    description=PACK_DESCRIPTION,
)
