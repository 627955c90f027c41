"""imdsv2-required, no-world-open-data-ports, alb-https-redirect, alb-header-hygiene."""

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE as UNKNOWN_SENTINEL

from policies.rules import UNKNOWN
from policies.rules.network import ALB_HEADER_HYGIENE, ALB_HTTPS_REDIRECT, IMDSV2_REQUIRED, NO_WORLD_OPEN_DATA_PORTS

IMDS_OK = {"metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}}


@pytest.mark.parametrize(
    "resource_type",
    [
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/instance:Instance",
        "aws:ec2/launchConfiguration:LaunchConfiguration",
    ],
)
def test_imdsv2(resource_type, via_policy):
    assert via_policy(IMDSV2_REQUIRED, resource_type, IMDS_OK) == []
    assert via_policy(IMDSV2_REQUIRED, resource_type, {}) == [
        "metadataOptions.httpTokens is unset, not required: IMDSv1 lets SSRF read credentials"
    ]
    optional = {"metadataOptions": {**IMDS_OK["metadataOptions"], "httpTokens": "optional"}}
    assert via_policy(IMDSV2_REQUIRED, resource_type, optional) == [
        "metadataOptions.httpTokens is optional, not required: IMDSv1 lets SSRF read credentials"
    ]
    hops = {"metadataOptions": {**IMDS_OK["metadataOptions"], "httpPutResponseHopLimit": 2}}
    assert via_policy(IMDSV2_REQUIRED, resource_type, hops) == [
        "metadataOptions.httpPutResponseHopLimit is 2 (limit 1): containers on the host can reach IMDS"
    ]
    assert via_policy(IMDSV2_REQUIRED, resource_type, hops, {"maxHopLimit": 2}) == []
    disabled = {"metadataOptions": {"httpEndpoint": "disabled"}}
    assert via_policy(IMDSV2_REQUIRED, resource_type, disabled) == []


def test_imds_unknown_tokens_are_not_flagged():
    assert IMDSV2_REQUIRED.evaluate("aws:ec2/instance:Instance", {"metadataOptions": {"httpTokens": UNKNOWN}}) == []


SG = "aws:ec2/securityGroup:SecurityGroup"


def _ingress(port_from, port_to, cidrs=("0.0.0.0/0",), protocol="tcp", v6=()):
    return {
        "protocol": protocol,
        "fromPort": port_from,
        "toPort": port_to,
        "cidrBlocks": list(cidrs),
        "ipv6CidrBlocks": list(v6),
    }


def test_security_group_inline_rules(via_policy):
    ok = {"ingress": [_ingress(443, 443), _ingress(80, 80), _ingress(5432, 5432, cidrs=["10.0.0.0/16"])]}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, SG, ok) == []
    ssh = {"ingress": [*ok["ingress"], _ingress(22, 22)]}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, SG, ssh) == ["ingress from 0.0.0.0/0 opens port(s) 22"]
    v6 = {"ingress": [_ingress(6379, 6379, cidrs=[], v6=["::/0"])]}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, SG, v6) == ["ingress from ::/0 opens port(s) 6379"]
    everything = {"ingress": [_ingress(0, 0, protocol="-1")]}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, SG, everything) == [
        "ingress from 0.0.0.0/0 opens port(s) 22, 23, 1433, 1521, 2049, 2375 and 17 more"
    ]
    span = {"ingress": [_ingress(3000, 3400)]}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, SG, span) == ["ingress from 0.0.0.0/0 opens port(s) 3306, 3389"]


def test_security_group_rule_resources(via_policy):
    rule = "aws:ec2/securityGroupRule:SecurityGroupRule"
    props = {"type": "ingress", "protocol": "tcp", "fromPort": 3389, "toPort": 3389, "cidrBlocks": ["0.0.0.0/0"]}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, rule, props) == ["ingress rule from 0.0.0.0/0 opens port(s) 3389"]
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, rule, {**props, "type": "egress"}) == []
    vpc_rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    ingress = {"ipProtocol": "tcp", "fromPort": 27017, "toPort": 27017, "cidrIpv4": "0.0.0.0/0"}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, vpc_rule, ingress) == [
        "ingress rule from 0.0.0.0/0 opens port(s) 27017"
    ]
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, vpc_rule, {**ingress, "cidrIpv4": "10.0.0.0/8"}) == []
    https = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, vpc_rule, https) == []
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, vpc_rule, {"ipProtocol": "-1", "cidrIpv6": "::/0"})[0].startswith(
        "ingress rule from ::/0 opens port(s) 22, 23"
    )


def test_port_list_is_configurable(via_policy):
    props = {"ingress": [_ingress(8080, 8080)]}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, SG, props) == []
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, SG, props, {"ports": [8080]}) == [
        "ingress from 0.0.0.0/0 opens port(s) 8080"
    ]


def _listener(via_stack_policy, listener, props, *others):
    """The rule's findings for one listener (named l), with other resources of the stack beside it."""
    return [m for urn, m in via_stack_policy(ALB_HTTPS_REDIRECT, [(listener, "l", props, {}), *others])]


@pytest.mark.parametrize("listener", ["aws:lb/listener:Listener", "aws:alb/listener:Listener"])
def test_https_redirect(listener, via_stack_policy):
    redirect = {
        "protocol": "HTTP",
        "port": 80,
        "defaultActions": [
            {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
        ],
    }
    assert _listener(via_stack_policy, listener, redirect) == []
    https = {"protocol": "HTTPS", "port": 443, "defaultActions": [{"type": "forward", "targetGroupArn": "tg"}]}
    assert _listener(via_stack_policy, listener, https) == []
    plain = {"protocol": "HTTP", "port": 80, "defaultActions": [{"type": "forward", "targetGroupArn": "tg"}]}
    assert _listener(via_stack_policy, listener, plain) == [
        "HTTP listener on port 80 serves traffic (forward) instead of redirecting to HTTPS"
    ]
    assert via_stack_policy(ALB_HTTPS_REDIRECT, [(listener, "l", plain, {})]) == [
        (
            f"urn:pulumi:t::p::{listener}::l",
            "HTTP listener on port 80 serves traffic (forward) instead of redirecting to HTTPS",
        )
    ]
    nlb = {"protocol": "TCP", "port": 5432, "defaultActions": [{"type": "forward", "targetGroupArn": "tg"}]}
    assert _listener(via_stack_policy, listener, nlb) == []
    assert ALB_HTTPS_REDIRECT.enforcement.value == "advisory"
    assert ALB_HTTPS_REDIRECT.is_stack


ALB = {"loadBalancerType": "application", "dropInvalidHeaderFields": True, "desyncMitigationMode": "defensive"}
DROP = "dropInvalidHeaderFields is not true: header fields with invalid characters reach the targets"


@pytest.mark.parametrize("resource_type", ["aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"])
def test_alb_header_hygiene(resource_type, via_policy):
    assert via_policy(ALB_HEADER_HYGIENE, resource_type, ALB) == []
    assert via_policy(ALB_HEADER_HYGIENE, resource_type, {**ALB, "desyncMitigationMode": "strictest"}) == []
    assert via_policy(ALB_HEADER_HYGIENE, resource_type, {**ALB, "dropInvalidHeaderFields": False}) == [DROP]
    assert via_policy(ALB_HEADER_HYGIENE, resource_type, {"subnets": ["subnet-a"]}) == [DROP]
    assert via_policy(ALB_HEADER_HYGIENE, resource_type, {**ALB, "desyncMitigationMode": "monitor"}) == [
        "desyncMitigationMode is monitor: requests that could desynchronise the targets (request smuggling) are "
        "forwarded"
    ]
    assert via_policy(ALB_HEADER_HYGIENE, resource_type, {"loadBalancerType": "network"}) == []
    assert via_policy(ALB_HEADER_HYGIENE, resource_type, {"dropInvalidHeaderFields": UNKNOWN}) == []


ALB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
NLB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/db/50dc6c495c0c9188"
GWY_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/gwy/fw/50dc6c495c0c9188"
FORWARD = [{"type": "forward", "targetGroupArn": "tg"}]


UNSET = (
    "HTTP listener on port 80 (no protocol: HTTP, the ALB default) serves traffic (forward) instead of "
    "redirecting to HTTPS"
)


@pytest.mark.parametrize("listener", ["aws:lb/listener:Listener", "aws:alb/listener:Listener"])
def test_listener_without_protocol_on_an_alb_arn_is_http(listener, via_stack_policy):
    props = {"loadBalancerArn": ALB_ARN, "port": 80, "defaultActions": FORWARD}
    assert _listener(via_stack_policy, listener, props) == [UNSET]
    assert _listener(via_stack_policy, listener, {**props, "protocol": "HTTPS"}) == []
    redirect = [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]
    assert _listener(via_stack_policy, listener, {**props, "defaultActions": redirect}) == []


@pytest.mark.parametrize("arn", [NLB_ARN, GWY_ARN])
def test_listener_without_protocol_on_a_network_or_gateway_arn_is_not_http(arn, via_stack_policy):
    props = {"loadBalancerArn": arn, "port": 80, "defaultActions": FORWARD}
    assert _listener(via_stack_policy, "aws:lb/listener:Listener", props) == []


LB_T = "aws:lb/loadBalancer:LoadBalancer"


@pytest.mark.parametrize(
    ("balancer", "reported"),
    [
        ({}, True),
        ({"loadBalancerType": "application"}, True),
        ({"loadBalancerType": "network"}, False),
        ({"loadBalancerType": "gateway"}, False),
    ],
)
def test_listener_without_protocol_is_judged_by_its_load_balancer_in_the_stack(balancer, reported, via_stack_policy):
    """The load balancer's ARN is not known during preview; its kind, which the program sets, is."""
    props = {"loadBalancerArn": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "port": 80, "defaultActions": FORWARD}
    found = via_stack_policy(
        ALB_HTTPS_REDIRECT,
        [("aws:lb/listener:Listener", "l", props, {"loadBalancerArn": ["lb"]}), (LB_T, "lb", balancer, {})],
    )
    assert [m for _, m in found] == ([UNSET] if reported else [])


def test_listener_is_paired_with_its_load_balancer_by_arn(via_stack_policy):
    arn = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/web"
    props = {"loadBalancerArn": arn, "port": 80, "defaultActions": FORWARD}
    others = [(LB_T, "lb", {"arn": arn, "loadBalancerType": "network"}, {})]
    assert _listener(via_stack_policy, "aws:lb/listener:Listener", props, *others) == []
    others = [(LB_T, "lb", {"arn": arn}, {})]
    assert _listener(via_stack_policy, "aws:lb/listener:Listener", props, *others) == [UNSET]


@pytest.mark.parametrize(
    ("props", "others"),
    [
        ({"loadBalancerArn": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "port": 80, "defaultActions": FORWARD}, []),
        (
            {"loadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/web", "defaultActions": FORWARD},
            [],
        ),
        ({"protocol": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "loadBalancerArn": "x", "defaultActions": FORWARD}, []),
        (
            {"loadBalancerArn": "x", "defaultActions": FORWARD},
            [(LB_T, "lb", {"arn": "x", "loadBalancerType": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, {})],
        ),
    ],
)
def test_listener_protocol_that_cannot_be_told_is_not_judged(props, others, via_stack_policy):
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError):
        _listener(via_stack_policy, "aws:lb/listener:Listener", props, *others)


def test_a_finding_on_one_listener_is_reported_beside_one_not_judged(via_stack_policy):
    plain = {"protocol": "HTTP", "port": 80, "defaultActions": FORWARD}
    unknown = {"loadBalancerArn": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "defaultActions": FORWARD}
    found = via_stack_policy(
        ALB_HTTPS_REDIRECT,
        [("aws:lb/listener:Listener", "a", plain, {}), ("aws:lb/listener:Listener", "b", unknown, {})],
    )
    assert found == [
        (
            "urn:pulumi:t::p::aws:lb/listener:Listener::a",
            "HTTP listener on port 80 serves traffic (forward) instead of redirecting to HTTPS",
        )
    ]


@pytest.mark.parametrize(("port", "shown"), [(80.0, "80"), (8080, "8080"), (None, "?")])
def test_listener_port_as_the_engine_sends_it(port, shown, via_stack_policy):
    props = {"protocol": "HTTP", "defaultActions": FORWARD} | ({"port": port} if port is not None else {})
    assert _listener(via_stack_policy, "aws:lb/listener:Listener", props) == [
        f"HTTP listener on port {shown} serves traffic (forward) instead of redirecting to HTTPS"
    ]


def test_default_enforcement_levels():
    """Mandatory blocks a deployment, advisory only reports: the default is part of the rule's promise."""
    assert IMDSV2_REQUIRED.enforcement.value == "mandatory"
    assert NO_WORLD_OPEN_DATA_PORTS.enforcement.value == "mandatory"
    assert ALB_HEADER_HYGIENE.enforcement.value == "advisory"


def test_hop_limit_defaults_to_1_in_the_check_itself():
    from policies.rules.network import check_imdsv2

    two = {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}}
    assert check_imdsv2("aws:ec2/instance:Instance", two, {}) == [
        "metadataOptions.httpPutResponseHopLimit is 2 (limit 1): containers on the host can reach IMDS"
    ]
    one = {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}}
    assert check_imdsv2("aws:ec2/instance:Instance", one, {}) == []


ALL_DATA_PORTS = "22, 23, 1433, 1521, 2049, 2375 and 17 more"


@pytest.mark.parametrize(
    ("protocol", "port_from", "port_to", "opened"),
    [
        ("all", 0, 0, ALL_DATA_PORTS),
        ("-1", 0, 0, ALL_DATA_PORTS),
        ("TCP", 22, 22, "22"),
        ("6", 22, 22, "22"),
        ("udp", 2049, 2049, "2049"),
        ("17", 2049, 2049, "2049"),
        ("tcp", -1, -1, ALL_DATA_PORTS),
        ("icmp", -1, -1, None),
        ("tcp", -1, 22, "22"),
        ("tcp", 0, -1, None),
        ("tcp", 1, -1, None),
        ("tcp", -2, -1, None),
        ("tcp", -1, 1, None),
        ("tcp", -1, -2, None),
        ("tcp", None, 22, None),
        ("tcp", 22, UNKNOWN, None),
        (None, 22, 22, None),
        (UNKNOWN, 22, 22, None),
    ],
)
def test_protocols_and_port_ranges(protocol, port_from, port_to, opened):
    props = {"ingress": [_ingress(port_from, port_to, protocol=protocol)]}
    expected = [] if opened is None else [f"ingress from 0.0.0.0/0 opens port(s) {opened}"]
    assert NO_WORLD_OPEN_DATA_PORTS.evaluate(SG, props) == expected


def test_port_lists_are_cut_after_six():
    props = {"ingress": [_ingress(0, 0, protocol="-1")]}
    six = [1, 2, 3, 4, 5, 6]
    assert NO_WORLD_OPEN_DATA_PORTS.evaluate(SG, props, {"ports": six}) == [
        "ingress from 0.0.0.0/0 opens port(s) 1, 2, 3, 4, 5, 6"
    ]
    assert NO_WORLD_OPEN_DATA_PORTS.evaluate(SG, props, {"ports": [*six, 7]}) == [
        "ingress from 0.0.0.0/0 opens port(s) 1, 2, 3, 4, 5, 6 and 1 more"
    ]


def test_data_ports_default_in_the_check_itself():
    from policies.rules.network import check_world_open

    assert check_world_open(SG, {"ingress": [_ingress(0, 0, protocol="-1")]}, {}) == [
        f"ingress from 0.0.0.0/0 opens port(s) {ALL_DATA_PORTS}"
    ]


def test_every_world_range_is_named_and_odd_entries_skipped(via_policy):
    both = {"ingress": ["not a rule", _ingress(22, 22, v6=["::/0"])]}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, SG, both) == ["ingress from 0.0.0.0/0, ::/0 opens port(s) 22"]
    rule = "aws:ec2/securityGroupRule:SecurityGroupRule"
    props = {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, rule, {**props, "ipv6CidrBlocks": ["::/0"]}) == [
        "ingress rule from 0.0.0.0/0, ::/0 opens port(s) 22"
    ]
    v6_only = {**props, "cidrBlocks": [], "ipv6CidrBlocks": ["::/0"]}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, rule, v6_only) == ["ingress rule from ::/0 opens port(s) 22"]
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, rule, {**props, "fromPort": 443, "toPort": 443}) == []
    vpc_rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    ingress = {"ipProtocol": "all", "cidrIpv4": "0.0.0.0/0", "cidrIpv6": "::/0"}
    assert via_policy(NO_WORLD_OPEN_DATA_PORTS, vpc_rule, ingress) == [
        f"ingress rule from 0.0.0.0/0, ::/0 opens port(s) {ALL_DATA_PORTS}"
    ]


@pytest.mark.parametrize("drop", ["true", "True", True])
def test_drop_invalid_header_fields_true_in_any_spelling(drop):
    assert ALB_HEADER_HYGIENE.evaluate("aws:lb/loadBalancer:LoadBalancer", {"dropInvalidHeaderFields": drop}) == []


def test_listener_protocol_that_is_not_a_string_counts_as_unset(via_stack_policy):
    props = {"protocol": 80, "loadBalancerArn": ALB_ARN, "port": 80, "defaultActions": FORWARD}
    assert _listener(via_stack_policy, "aws:lb/listener:Listener", props) == [UNSET]


def test_an_empty_load_balancer_type_is_an_application_load_balancer(via_stack_policy):
    props = {"loadBalancerArn": "x", "port": 80, "defaultActions": FORWARD}
    balancer = (LB_T, "lb", {"arn": "x", "loadBalancerType": ""}, {})
    assert _listener(via_stack_policy, "aws:lb/listener:Listener", props, balancer) == [UNSET]


@pytest.mark.parametrize(
    ("props", "others", "path"),
    [
        ({"protocol": "HT" + UNKNOWN_SENTINEL, "loadBalancerArn": "x", "defaultActions": FORWARD}, [], "protocol"),
        ({"loadBalancerArn": "x", "defaultActions": FORWARD}, [], "protocol"),  # an ARN that names no kind
        (
            {"loadBalancerArn": "x", "defaultActions": FORWARD},
            [(LB_T, "lb", {"arn": "x", "loadBalancerType": "app" + UNKNOWN_SENTINEL}, {})],
            "loadBalancerType",
        ),
    ],
)
def test_listener_protocol_not_known_names_the_property(props, others, path, via_stack_policy):
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError) as raised:
        _listener(via_stack_policy, "aws:lb/listener:Listener", props, *others)
    assert raised.value.props == [path]


def test_listener_port_that_is_not_a_number_is_shown_as_given(via_stack_policy):
    props = {"protocol": "HTTP", "port": "eighty", "defaultActions": FORWARD}
    assert _listener(via_stack_policy, "aws:lb/listener:Listener", props) == [
        "HTTP listener on port eighty serves traffic (forward) instead of redirecting to HTTPS"
    ]


@pytest.mark.parametrize("protocol", [UNKNOWN_SENTINEL, "HTTP" + UNKNOWN_SENTINEL])
def test_listener_protocol_set_but_not_known_is_not_taken_for_unset(protocol, via_stack_policy):
    """The program sets a protocol preview does not know yet: it may be HTTPS, so even an ALB's
    HTTP default does not decide it."""
    from pulumi_policy.proxy import UnknownValueError

    props = {"protocol": protocol, "loadBalancerArn": "x", "port": 80, "defaultActions": FORWARD}
    balancer = (LB_T, "lb", {"arn": "x", "loadBalancerType": "application"}, {})
    with pytest.raises(UnknownValueError) as raised:
        _listener(via_stack_policy, "aws:lb/listener:Listener", props, balancer)
    assert raised.value.props == ["protocol"]


@pytest.mark.parametrize("first", ["authenticate-cognito", "authenticate-oidc"])
def test_an_authenticating_default_action_serves_traffic(first, via_stack_policy):
    actions = [{"type": first, "order": 1}, {"type": "fixed-response", "order": 2}]
    props = {"protocol": "HTTP", "port": 80, "defaultActions": actions}
    assert _listener(via_stack_policy, "aws:lb/listener:Listener", props) == [
        "HTTP listener on port 80 serves traffic (forward) instead of redirecting to HTTPS"
    ]
    fixed = {**props, "defaultActions": [{"type": "fixed-response"}]}
    assert _listener(via_stack_policy, "aws:lb/listener:Listener", fixed) == []


def test_listener_is_paired_with_its_load_balancer_by_id(via_stack_policy):
    arn = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/web"
    props = {"loadBalancerArn": arn, "port": 80, "defaultActions": FORWARD}
    others = [(LB_T, "lb", {"id": arn, "loadBalancerType": "network"}, {})]
    assert _listener(via_stack_policy, "aws:lb/listener:Listener", props, *others) == []


def test_every_listener_is_judged_whatever_comes_before_it(via_stack_policy):
    plain = {"protocol": "HTTP", "port": 80, "defaultActions": FORWARD}
    unknown = {"loadBalancerArn": UNKNOWN_SENTINEL, "defaultActions": FORWARD}
    found = via_stack_policy(
        ALB_HTTPS_REDIRECT,
        [
            (LB_T, "lb", {"loadBalancerType": "application"}, {}),
            ("aws:lb/listener:Listener", "a", unknown, {}),
            ("aws:lb/listener:Listener", "b", plain, {}),
        ],
    )
    assert found == [
        (
            "urn:pulumi:t::p::aws:lb/listener:Listener::b",
            "HTTP listener on port 80 serves traffic (forward) instead of redirecting to HTTPS",
        )
    ]
