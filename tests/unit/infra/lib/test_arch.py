"""Instance types, AMIs and the app image agree on one CPU architecture."""

from __future__ import annotations

import pytest

from infra.lib import arch

X86_AMI = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
ARM_AMI = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        ("t3.small", "x86_64"), ("m6i.large", "x86_64"), ("m7i-flex.large", "x86_64"), ("g4dn.xlarge", "x86_64"),
        ("c6a.large", "x86_64"), ("t4g.small", "arm64"), ("m7gd.large", "arm64"), ("c7gn.large", "arm64"),
        ("im4gn.large", "arm64"), ("g5g.xlarge", "arm64"), ("a1.medium", "arm64"), ("r8g.large", "arm64"),
        ("mac2.metal", None), ("nonsense", None),
    ],
)
def test_the_architecture_of_an_instance_type_comes_from_its_name(instance_type: str, expected: str | None) -> None:
    assert arch.instance_architecture(instance_type) == expected


def test_ami_parameters_name_their_architecture() -> None:
    assert arch.ami_parameter_architecture(X86_AMI) == "x86_64"
    assert arch.ami_parameter_architecture(ARM_AMI) == "arm64"
    assert arch.ami_parameter_architecture("/my/golden-ami") is None


def test_graviton_is_refused_while_the_image_is_amd64_and_a_mismatched_ami_is_named() -> None:
    assert arch.IMAGE_ARCHITECTURE == "x86_64"
    assert arch.mismatch("t3.small", X86_AMI) is None
    assert "exec format error" in (arch.mismatch("t4g.small", ARM_AMI) or "")
    assert "RunInstances" in (arch.mismatch("t4g.small", X86_AMI) or "")
    assert "RunInstances" in (arch.mismatch("t3.small", ARM_AMI) or "")
    # An image built for arm64 would make the Graviton pair right and the x86 one wrong.
    assert arch.mismatch("t4g.small", ARM_AMI, image_architecture="arm64") is None
    assert arch.mismatch("t3.small", X86_AMI, image_architecture="arm64") is not None
    assert arch.mismatch("mac2.metal", X86_AMI) is None
