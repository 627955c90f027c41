"""Subnet planning: every subnet inside the VPC, none overlapping, deterministic."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.lib import cidr


@st.composite
def vpcs(draw: st.DrawFn) -> str:
    prefix = draw(st.integers(min_value=16, max_value=24))
    address = draw(st.integers(min_value=0, max_value=2**32 - 1))
    return str(ipaddress.ip_network(f"{ipaddress.IPv4Address(address)}/{prefix}", strict=False))


def _plannable(vpc: str, azs: int) -> bool:
    # The data and public tiers each get a quarter of the VPC; each AZ needs at least a /28.
    quarter = ipaddress.ip_network(vpc).prefixlen + 2
    return quarter + max(0, (azs - 1).bit_length()) <= 28


@settings(max_examples=300, deadline=None)
@given(vpc=vpcs(), azs=st.integers(min_value=1, max_value=8))
def test_every_subnet_is_inside_the_vpc_and_none_overlap(vpc: str, azs: int) -> None:
    if not _plannable(vpc, azs):
        with pytest.raises(cidr.CidrError):
            cidr.plan_subnets(vpc, azs)
        return
    plan = cidr.plan_subnets(vpc, azs)
    network = ipaddress.ip_network(vpc)
    subnets = [ipaddress.ip_network(s) for s in plan.all()]
    assert len(plan.public) == len(plan.app) == len(plan.data) == azs
    assert all(s.subnet_of(network) for s in subnets)
    assert cidr.overlapping(plan.all()) == []
    assert all(s.prefixlen <= 28 for s in subnets)
    assert cidr.check_plan(vpc, {"public": plan.public, "app": plan.app, "data": plan.data}) == []


@settings(max_examples=100, deadline=None)
@given(vpc=vpcs(), azs=st.integers(min_value=2, max_value=4))
def test_plans_are_deterministic_and_app_tier_is_largest(vpc: str, azs: int) -> None:
    if not _plannable(vpc, azs):
        return
    first, second = cidr.plan_subnets(vpc, azs), cidr.plan_subnets(vpc, azs)
    assert first == second
    app_size = ipaddress.ip_network(first.app[0]).num_addresses
    assert app_size >= ipaddress.ip_network(first.data[0]).num_addresses
    assert app_size >= ipaddress.ip_network(first.public[0]).num_addresses


@settings(max_examples=100, deadline=None)
@given(vpc=vpcs(), azs=st.integers(min_value=2, max_value=3))
def test_adding_an_az_never_moves_existing_subnets_of_the_same_power_of_two(vpc: str, azs: int) -> None:
    # 3 and 4 AZs round up to the same split, so growing from 3 to 4 keeps every subnet in place.
    if not _plannable(vpc, 4):
        return
    three, four = cidr.plan_subnets(vpc, 3), cidr.plan_subnets(vpc, 4)
    assert four.app[:3] == three.app and four.data[:3] == three.data and four.public[:3] == three.public


def test_a_known_plan() -> None:
    plan = cidr.plan_subnets("10.0.0.0/16", 2)
    assert plan.app == ("10.0.0.0/18", "10.0.64.0/18")
    assert plan.data == ("10.0.128.0/19", "10.0.160.0/19")
    assert plan.public == ("10.0.192.0/19", "10.0.224.0/19")


@pytest.mark.parametrize(
    "text", ["10.0.0.0", "10.0.0.1/16", "300.0.0.0/16", "fd00::/48", "", "ten/8", "10.0.0.0/33"]
)
def test_malformed_cidrs_are_rejected(text: str) -> None:
    with pytest.raises(cidr.CidrError):
        cidr.parse_network(text)


def test_check_plan_reports_outside_overlap_and_too_small() -> None:
    problems = cidr.check_plan(
        "10.0.0.0/16",
        {"public": ["10.0.0.0/24", "10.1.0.0/24"], "app": ["10.0.0.128/25"], "data": ["10.0.9.0/29"]},
    )
    assert "public: 10.1.0.0/24 is outside the VPC 10.0.0.0/16" in problems
    assert "app: 10.0.0.128/25 overlaps 10.0.0.0/24 (public)" in problems
    assert "data: 10.0.9.0/29 is smaller than /28, the smallest AWS subnet" in problems


def test_a_vpc_too_small_for_three_tiers_is_refused() -> None:
    with pytest.raises(cidr.CidrError, match="at least a /24"):
        cidr.plan_subnets("10.0.0.0/25", 2)
