"""infra/eks_preflight.py: the deploy job's check that its runner can finish `pulumi up` of an EKS stack."""

from __future__ import annotations

import pytest

from infra import eks_preflight
from infra.eks_preflight import main, problems, read_stack

ROLE = "arn:aws:iam::210987654321:role/stateless-stack-deploy-dev-eks"


def test_a_runner_inside_the_listed_network_with_the_configured_role_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "dev-eks", "--address", "34.200.0.17", "--role-arn", ROLE]) == 0
    assert capsys.readouterr().out == ("stacks/Pulumi.dev-eks.yaml: this runner can create the cluster's Kubernetes "
                                       "objects\n")


def test_a_runner_outside_the_listed_networks_stops_before_anything_is_created(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--stack", "dev-eks", "--address", "34.201.0.17", "--role-arn", ROLE]) == 1
    assert capsys.readouterr().err == (
        "error: stacks/Pulumi.dev-eks.yaml: stateless-stack:eksPublicAccessCidrs does not include this runner's "
        "address 34.201.0.17 (34.200.0.0/24): the cluster would be created and its Kubernetes objects would fail as "
        "unreachable; deploy from a runner in those networks (EKS_DEPLOY_RUNNER) or list its static egress network\n"
    )


def test_a_runner_with_another_role_than_the_configured_deployer_stops(capsys: pytest.CaptureFixture[str]) -> None:
    other = "arn:aws:iam::210987654321:role/someone-else"
    assert main(["--stack", "dev-eks", "--address", "34.200.0.17", "--role-arn", other]) == 1
    assert "stateless-stack:eksDeployerPrincipalArn is role/stateless-stack-deploy-dev-eks, but this runner deploys " \
           f"as {other}" in capsys.readouterr().err


def test_role_names_with_a_path_and_full_arns_both_match() -> None:
    s = read_stack("dev-eks")
    assert s.eks is not None
    assert problems(s, "34.200.0.1", ROLE) == []
    full = s.__class__(**{**s.__dict__, "eks": s.eks.__class__(**{**s.eks.__dict__, "deployer_principal_arn": ROLE})})
    assert problems(full, "34.200.0.1", ROLE) == []
    assert problems(full, "34.200.0.1", ROLE.replace("210987654321", "210987654322")) != []


def test_a_stack_without_eks_has_nothing_to_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "dev", "--address", "8.8.8.8", "--role-arn", "arn:aws:iam::210987654321:role/x"]) == 0
    assert capsys.readouterr().out == "stacks/Pulumi.dev.yaml: computeMode is not eks: nothing to check\n"


@pytest.mark.parametrize(("argv", "message"), [
    (["--stack", "dev-eks", "--address", "not-an-address"],
     "error: --address must be the runner's public IPv4 address (got 'not-an-address')\n"),
    (["--stack", "nope", "--address", "34.200.0.1"], "error: stacks/Pulumi.nope.yaml: stack file does not exist\n"),
])
def test_broken_input_exits_2_with_one_message(argv: list[str], message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == message


def test_the_module_reads_the_repositorys_stack_files() -> None:
    assert (eks_preflight.ROOT / "stacks" / "Pulumi.dev-eks.yaml").is_file()
