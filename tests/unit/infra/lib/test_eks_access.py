"""infra/lib/eks_access.py: the configured deployer and the admins, one access entry per principal."""

from __future__ import annotations

import pytest

from infra.lib.eks_access import deployer_problem, entry_name

ROLE = "arn:aws:iam::210987654321:role/deploy-dev"


@pytest.mark.parametrize("deployer", [ROLE, "arn:aws-us-gov:iam::210987654321:user/ci", "role/deploy-dev",
                                      "role/ci/deploy-dev", "user/ci"])
def test_role_or_user_arns_and_short_names_are_accepted(deployer: str) -> None:
    assert deployer_problem(deployer, ["arn:aws:iam::210987654321:role/oncall"]) is None


@pytest.mark.parametrize("deployer", ["arn:aws:sts::210987654321:assumed-role/deploy-dev/run-1", "deploy-dev",
                                      "arn:aws:iam::210987654321:policy/x", "group/ci", ""])
def test_sessions_and_other_arns_are_refused(deployer: str) -> None:
    assert (deployer_problem(deployer, []) or "").startswith("must be an IAM role or user ARN")


def test_the_deployer_listed_again_as_an_admin_is_refused() -> None:
    assert (deployer_problem(ROLE, [ROLE]) or "").startswith("is also listed in eksAdminPrincipalArns")
    # The short form names the same role as the full ARN in the stack's account.
    assert (deployer_problem("role/deploy-dev", [ROLE]) or "").startswith("is also listed")
    # Another role of the same name would collide on the access entry's resource name.
    assert (deployer_problem(ROLE, ["arn:aws:iam::210987654321:user/deploy-dev"]) or "").startswith(
        "has the same name as the admin principal")


def test_entry_names_follow_the_principals_name() -> None:
    assert entry_name(ROLE) == "deploy-dev"
    assert entry_name("arn:aws:iam::210987654321:role/Ops.Team") == "ops-team"
