"""Before `pulumi up` of an EKS stack: can this runner, with this role, finish it?

The same `up` that creates the cluster (about 25 minutes with its node groups and add-on) then creates the
Kubernetes objects through the cluster's API endpoint, as the deployer's access entry. When the runner's
address is outside `eksPublicAccessCidrs`, or the runner's role is not `eksDeployerPrincipalArn`, that part
fails with "configured Kubernetes cluster is unreachable" or Unauthorized after the cluster exists
(pulumi/pulumi-kubernetes provider/pkg/provider/provider.go: Create refuses outside preview when the cluster
is unreachable). This check says so in seconds, from the stack file alone, before anything is created:

    python -m infra.eks_preflight --stack dev-eks --address "$(curl -s https://checkip.amazonaws.com)" \\
        --role-arn "$AWS_DEPLOY_ROLE_ARN"

Exit status: 0 the runner can deploy the stack (or the stack does not run EKS); 1 it cannot (the message
says which key to change); 2 the arguments or the stack file are broken.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from infra.config import PROJECT
from infra.settings import ConfigError, Settings, parse_settings, stack_file_for

ROOT = Path(__file__).resolve().parent.parent


def read_stack(stack: str, root: Path = ROOT) -> Settings:
    path = root / stack_file_for(stack)
    if not path.is_file():
        raise ConfigError(stack_file_for(stack), "stack file", "does not exist")
    doc: Any = yaml.safe_load(path.read_text()) or {}
    values = doc.get("config") or {}
    raw = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith(f"{PROJECT}:")}
    return parse_settings(raw, stack=stack, region=values.get("aws:region"))


def problems(s: Settings, address: str, role_arn: str | None) -> list[str]:
    """Why a runner at `address` assuming `role_arn` cannot finish `pulumi up` of this stack (empty: it can)."""
    if s.eks is None:
        return []
    where = f"{s.stack_file}: {PROJECT}"
    found = []
    if not s.eks.deploy_from_vpc:
        ip = ipaddress.ip_address(address)
        if not any(ip in ipaddress.ip_network(block) for block in s.eks.public_access_cidrs):
            found.append(
                f"{where}:eksPublicAccessCidrs does not include this runner's address {address} "
                f"({', '.join(s.eks.public_access_cidrs)}): the cluster would be created and its Kubernetes objects "
                "would fail as unreachable; deploy from a runner in those networks (EKS_DEPLOY_RUNNER) or list "
                "its static egress network"
            )
    if role_arn:
        configured = s.eks.deployer_principal_arn
        tail = role_arn.split(":", 5)[5] if role_arn.count(":") >= 5 else role_arn
        if role_arn != configured and tail != configured:
            found.append(
                f"{where}:eksDeployerPrincipalArn is {configured}, but this runner deploys as {role_arn}: only the "
                "configured principal gets the cluster-admin access entry, so the Kubernetes objects would be "
                "refused; set the key to the environment's deploy role"
            )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.eks_preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--address", required=True, help="the runner's public IPv4 address")
    parser.add_argument("--role-arn", default=None, help="the IAM role the runner deploys with")
    args = parser.parse_args(argv)
    try:
        ipaddress.IPv4Address(args.address.strip())
    except ValueError:
        print(f"error: --address must be the runner's public IPv4 address (got {args.address!r})", file=sys.stderr)
        return 2
    try:
        s = read_stack(args.stack)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    found = problems(s, args.address.strip(), args.role_arn or None)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if not found:
        print(f"{s.stack_file}: " + ("this runner can create the cluster's Kubernetes objects" if s.eks is not None
                                     else "computeMode is not eks: nothing to check"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
