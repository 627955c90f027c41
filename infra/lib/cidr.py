"""Subnet planning: carve a VPC CIDR into public, private-app and private-data subnets per AZ.

The plan is deterministic (same inputs, same subnets) so that re-running the program never moves
a subnet, and every subnet lies inside the VPC without overlapping another.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

TIERS = ("public", "app", "data")


class CidrError(ValueError):
    """A CIDR (or a set of them) cannot be used as asked."""


@dataclass(frozen=True)
class SubnetPlan:
    vpc: str
    public: tuple[str, ...]
    app: tuple[str, ...]
    data: tuple[str, ...]

    def all(self) -> tuple[str, ...]:
        return self.public + self.app + self.data


def parse_network(text: str) -> ipaddress.IPv4Network:
    """A strict IPv4 network ("10.0.0.0/16"); host bits set or a bare address are errors."""
    if not isinstance(text, str) or "/" not in text:
        raise CidrError(f"{text!r} is not a CIDR block like 10.0.0.0/16")
    try:
        net = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise CidrError(f"{text!r} is not a valid CIDR block ({exc})") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise CidrError(f"{text!r} is not an IPv4 CIDR block")
    return net


def _per_az_blocks(tier_block: ipaddress.IPv4Network, az_count: int) -> list[ipaddress.IPv4Network]:
    extra_bits = max(0, (az_count - 1).bit_length())
    if tier_block.prefixlen + extra_bits > 28:
        raise CidrError(f"{tier_block} is too small to hold {az_count} subnets of at least /28")
    return list(tier_block.subnets(prefixlen_diff=extra_bits))[:az_count]


def plan_subnets(vpc_cidr: str, az_count: int) -> SubnetPlan:
    """Split `vpc_cidr` into three tiers of `az_count` subnets each.

    Layout: the app tier holds the instances (and pods, later) so it gets the first half of the
    VPC; the data tier the third quarter; the public tier the last quarter (public subnets only
    hold the load balancer and NAT gateways). Each tier is split evenly over the AZs, rounded up
    to a power of two so every block sits on a CIDR boundary.
    """
    if not 1 <= az_count <= 8:
        raise CidrError(f"the AZ count must be between 1 and 8 (got {az_count})")
    vpc = parse_network(vpc_cidr)
    if vpc.prefixlen > 24:
        raise CidrError(f"{vpc} is too small; a VPC needs at least a /24 to hold three subnet tiers")
    halves = list(vpc.subnets(prefixlen_diff=1))
    quarters = list(halves[1].subnets(prefixlen_diff=1))
    app = _per_az_blocks(halves[0], az_count)
    data = _per_az_blocks(quarters[0], az_count)
    public = _per_az_blocks(quarters[1], az_count)
    return SubnetPlan(
        vpc=str(vpc),
        public=tuple(map(str, public)),
        app=tuple(map(str, app)),
        data=tuple(map(str, data)),
    )


def check_plan(vpc_cidr: str, tiers: dict[str, Sequence[str]]) -> list[str]:
    """Problems with explicitly given subnets: malformed, outside the VPC, too small, overlapping.

    Returns human-readable problems (empty when the plan is sound), in a stable order.
    """
    vpc = parse_network(vpc_cidr)
    problems: list[str] = []
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for tier, cidrs in tiers.items():
        for text in cidrs:
            try:
                net = parse_network(text)
            except CidrError as exc:
                problems.append(f"{tier}: {exc}")
                continue
            if not net.subnet_of(vpc):
                problems.append(f"{tier}: {net} is outside the VPC {vpc}")
            if net.prefixlen > 28:
                problems.append(f"{tier}: {net} is smaller than /28, the smallest AWS subnet")
            for other_tier, other in seen:
                if net.overlaps(other):
                    problems.append(f"{tier}: {net} overlaps {other} ({other_tier})")
            seen.append((tier, net))
    return problems


def overlapping(cidrs: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of CIDRs that overlap, in input order."""
    nets = [parse_network(c) for c in cidrs]
    return [
        (str(a), str(b))
        for i, a in enumerate(nets)
        for b in nets[i + 1 :]
        if a.overlaps(b)
    ]
