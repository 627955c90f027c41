"""Rules for container registries: a tag names one image for good.

`aws.ecr.Repository.imageTagMutability` in pulumi-aws v7 (pulumi_aws/ecr/repository.py) defaults to
MUTABLE; IMMUTABLE (and IMMUTABLE_WITH_EXCLUSION, for the tags listed as exclusions) makes pushing an
existing tag fail (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html).
Scan on push is not required here: an account's enhanced scanning replaces it.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, type_set

REPOSITORY = "aws:ecr/repository:Repository"


def check_immutable_tags(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    value = props.get("imageTagMutability")
    if value is UNKNOWN or (isinstance(value, str) and value.startswith("IMMUTABLE")):
        return []
    return [
        f"imageTagMutability is {value or 'unset (MUTABLE)'}: a push can move a tag, so a rollback or a new "
        "instance may run an image nobody tested"
    ]


ECR_IMMUTABLE_TAGS = Rule(
    name="ecr-immutable-tags",
    description="ECR repositories keep image tags immutable.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="Every replica must run the same image: with mutable tags, instances launched after a push of the "
    "same tag run different code than the ones before it.",
    remediation="Set imageTagMutability: IMMUTABLE and deploy by digest.",
    resource_types=type_set(REPOSITORY),
    check=check_immutable_tags,
    tags=("security", "supply-chain"),
)

RULES = (ECR_IMMUTABLE_TAGS,)
