"""CPU architectures: of an EC2 instance type, of an AMI named by its SSM parameter, and of the app image.

The app image is built for one platform (`IMAGE_ARCHITECTURE`, linux/amd64: Lambda refuses an image index,
so the build has a single platform). An instance must run an AMI of its own architecture (RunInstances
refuses the pair otherwise) and the container's architecture (Docker otherwise fails at start with
`exec format error`, and the group replaces the instance forever).
"""

from __future__ import annotations

import re

X86_64 = "x86_64"
ARM64 = "arm64"
IMAGE_ARCHITECTURE = X86_64
# `<class><generation><attributes>.<size>`; the attribute `g` marks AWS Graviton (arm64), e.g. t4g, m7gd,
# c7gn, im4gn, g5g; `a1` is the first Graviton family. Naming:
# https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html
_FAMILY = re.compile(r"^(?P<cls>[a-z]+)(?P<gen>\d+)(?P<attrs>[a-z-]*)\.")


def instance_architecture(instance_type: str) -> str | None:
    """x86_64 or arm64 from the type's name, None when the name is not of the documented form."""
    match = _FAMILY.match(instance_type)
    if match is None:
        return None
    if match["cls"] == "a" and match["gen"] == "1":
        return ARM64
    if match["cls"] == "mac":
        return None
    return ARM64 if "g" in match["attrs"] else X86_64


def ami_parameter_architecture(parameter: str) -> str | None:
    """The architecture an AMI parameter path names (AWS's public parameters end in x86_64 or arm64)."""
    lowered = parameter.lower()
    if "arm64" in lowered or "aarch64" in lowered:
        return ARM64
    if "x86_64" in lowered or "amd64" in lowered:
        return X86_64
    return None


def mismatch(instance_type: str, ami_parameter: str | None = None,
             image_architecture: str = IMAGE_ARCHITECTURE) -> str | None:
    """Why this instance type cannot run the AMI or the image, or None."""
    instance = instance_architecture(instance_type)
    if instance is None:
        return None
    ami = ami_parameter_architecture(ami_parameter) if ami_parameter else None
    if ami is not None and ami != instance:
        return f"{instance_type} is {instance} but the AMI ({ami_parameter}) is {ami}: RunInstances refuses the pair"
    if instance != image_architecture:
        return (f"{instance_type} is {instance} but the app image is built for {image_architecture} only: the "
                "container would fail with `exec format error`; pick a type of the image's architecture")
    return None
