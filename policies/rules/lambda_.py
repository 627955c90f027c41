"""Rules for Lambda functions: no EFS mounts, no large ephemeral storage to lean on between invocations."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import Rule, as_int, get, items, known, type_set

FUNCTION = "aws:lambda/function:Function"


def check_efs(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    found = []
    for fs in items(props.get("fileSystemConfig")):
        if isinstance(fs, dict) and (known(fs.get("arn")) or known(fs.get("localMountPath"))):
            found.append(
                f"mounts an EFS file system at {get(fs, 'localMountPath', default='?')}: functions keep no "
                "files between invocations"
            )
    return found


def check_ephemeral_storage(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    size = as_int(get(props, "ephemeralStorage", "size"))
    limit = int(config.get("maxEphemeralStorageMb", 512))
    if size is not None and size > limit:
        return [f"ephemeralStorage.size is {size} MB (limit {limit} MB): /tmp is not storage between invocations"]
    return []


NO_LAMBDA_EFS = Rule(
    name="no-lambda-efs",
    description="Lambda functions may not mount EFS file systems.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    why="A file system shared by function instances is state outside the managed stores, with its own "
    "consistency and cleanup problems; it also pins the function into the VPC's mount targets.",
    remediation="Drop fileSystemConfig; read and write objects in S3 or rows in the database.",
    resource_types=type_set(FUNCTION),
    check=check_efs,
    tags=("statelessness", "lambda"),
)

LAMBDA_EPHEMERAL_STORAGE = Rule(
    name="lambda-ephemeral-storage",
    description="Lambda functions keep /tmp at the default size.",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    why="Large /tmp invites caching data across invocations, which only works while the same execution "
    "environment happens to be reused.",
    remediation="Keep ephemeralStorage at 512 MB or raise maxEphemeralStorageMb for a function that "
    "genuinely needs scratch space within one invocation.",
    resource_types=type_set(FUNCTION),
    check=check_ephemeral_storage,
    config={
        "maxEphemeralStorageMb": {
            "type": "integer",
            "minimum": 512,
            "maximum": 10240,
            "default": 512,
            "description": "Largest /tmp size (MB) accepted without a finding.",
        }
    },
    tags=("statelessness", "lambda"),
)

RULES = (NO_LAMBDA_EFS, LAMBDA_EPHEMERAL_STORAGE)
