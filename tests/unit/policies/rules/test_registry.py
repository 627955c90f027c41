"""ecr-immutable-tags (policies/rules/registry.py)."""

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.rules.registry import ECR_IMMUTABLE_TAGS

REPO_T = "aws:ecr/repository:Repository"


@pytest.mark.parametrize("value", ["IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", UNKNOWN_STRING_VALUE])
def test_immutable_repositories_pass(via_policy, value):
    assert via_policy(ECR_IMMUTABLE_TAGS, REPO_T, {"imageTagMutability": value}) == []


def test_mutable_tags(via_policy):
    assert via_policy(ECR_IMMUTABLE_TAGS, REPO_T, {}) == [
        "imageTagMutability is unset (MUTABLE): a push can move a tag, so a rollback or a new instance may run an "
        "image nobody tested"
    ]
    assert via_policy(ECR_IMMUTABLE_TAGS, REPO_T, {"imageTagMutability": "MUTABLE"}) == [
        "imageTagMutability is MUTABLE: a push can move a tag, so a rollback or a new instance may run an image "
        "nobody tested"
    ]


def test_default_enforcement_levels():
    """Mandatory blocks a deployment, advisory only reports: the default is part of the rule's promise."""
    assert ECR_IMMUTABLE_TAGS.enforcement.value == "advisory"
