"""Rules for KMS keys: symmetric encryption keys rotate.

`aws.kms.Key` in pulumi-aws v7 (pulumi_aws/kms/key.py): `enableKeyRotation` defaults to false,
`customerMasterKeySpec` to SYMMETRIC_DEFAULT, `keyUsage` to ENCRYPT_DECRYPT. Automatic rotation exists
only for symmetric encryption keys; asymmetric and HMAC keys (the app's RS256 signing key) cannot rotate
and are rotated by replacing them (https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, truthy, type_set

KEY = "aws:kms/key:Key"


def check_rotation(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    spec = props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    usage = props.get("keyUsage") or "ENCRYPT_DECRYPT"
    rotation = props.get("enableKeyRotation")
    if UNKNOWN in (spec, usage, rotation) or spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
        return []
    if truthy(rotation):
        return []
    return ["enableKeyRotation is not true: the symmetric key's material never changes"]


KMS_KEY_ROTATION = Rule(
    name="kms-key-rotation",
    description="Symmetric KMS encryption keys rotate their key material.",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    why="Rotation limits how much data one key version protects; for symmetric keys KMS does it for free "
    "and transparently.",
    remediation="Set enableKeyRotation: true.",
    resource_types=type_set(KEY),
    check=check_rotation,
    tags=("security", "kms"),
)

RULES = (KMS_KEY_ROTATION,)
