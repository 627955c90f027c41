"""metrics-not-public, image-architecture-matches, s3-gateway-endpoint (policies/rules/release.py)."""

import pytest
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.rules import RULES_BY_NAME
from policies.rules.release import IMAGE_ARCHITECTURE_MATCHES, METRICS_NOT_PUBLIC, S3_GATEWAY_ENDPOINT

LB_T = "aws:lb/loadBalancer:LoadBalancer"
LISTENER_T = "aws:lb/listener:Listener"
RULE_T = "aws:lb/listenerRule:ListenerRule"
LB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/edge/1"
LISTENER_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/edge/1/2"
LB = {"arn": LB_ARN, "internal": False, "loadBalancerType": "application"}
LISTENER = {"arn": LISTENER_ARN, "loadBalancerArn": LB_ARN, "defaultActions": [{"type": "forward"}]}
BLOCK = {"listenerArn": LISTENER_ARN, "priority": 1,
         "conditions": [{"pathPattern": {"values": ["/metrics*"]}}],
         "actions": [{"type": "fixed-response", "fixedResponse": {"statusCode": "404"}}]}


def urn(type_, name):
    return f"urn:pulumi:t::p::{type_}::{name}"


def edge(lb=None, listener=None, rules=None, deps=True):
    stack = [(LB_T, "edge", {**LB, **(lb or {})}, {}),
             (LISTENER_T, "edge-http", {**LISTENER, **(listener or {})},
              {"loadBalancerArn": ["edge"]} if deps else {})]
    for i, rule in enumerate([BLOCK] if rules is None else rules):
        stack.append((RULE_T, f"edge-rule-{i}", rule, {"listenerArn": ["edge-http"]} if deps else {}))
    return stack


def leak(how="the listener's default action", path="/metrics"):
    return [(urn(LISTENER_T, "edge-http"),
             f"internet-facing load balancer edge forwards {path} to its targets ({how}): the app's metrics "
             "(routes, counts, latencies, errors) are readable by anyone")]


def test_default_enforcement_is_advisory_for_all_three():
    for rule in (METRICS_NOT_PUBLIC, IMAGE_ARCHITECTURE_MATCHES, S3_GATEWAY_ENDPOINT):
        assert rule.enforcement == EnforcementLevel.ADVISORY
        assert RULES_BY_NAME[rule.name] is rule


# ----------------------------------------------------------------------------- metrics-not-public


def test_a_blocking_rule_passes_by_dependency_and_by_arn(via_stack_policy):
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge()) == []
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(deps=False)) == []


def test_no_blocking_rule_leaks(via_stack_policy):
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[])) == leak()


def test_an_internal_or_network_balancer_or_a_redirecting_listener_is_fine(via_stack_policy):
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(lb={"internal": True}, rules=[])) == []
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(lb={"loadBalancerType": "network"}, rules=[])) == []
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(lb={"internal": UNKNOWN_STRING_VALUE}, rules=[])) == []
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(listener={"defaultActions": [{"type": "redirect"}]},
                                                     rules=[])) == []


def test_the_lowest_priority_matching_rule_decides(via_stack_policy):
    forward = {**BLOCK, "priority": 0, "actions": [{"type": "forward"}]}
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[BLOCK, forward])) == leak()
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[{**forward, "priority": 2}, BLOCK])) == []


def test_a_pattern_that_misses_the_path_does_not_block(via_stack_policy):
    for pattern in ("/Metrics*", "/metric", "/metrics/?*", "/health*"):
        rule = {**BLOCK, "conditions": [{"pathPattern": {"values": [pattern]}}]}
        assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[rule])) == leak(), pattern
    for pattern in ("/metrics", "/me?rics", "*"):
        rule = {**BLOCK, "conditions": [{"pathPattern": {"values": [pattern]}}]}
        assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[rule])) == [], pattern


def test_a_rule_narrowed_by_another_condition_neither_blocks_nor_hides_a_forward(via_stack_policy):
    narrowed = {**BLOCK, "conditions": [*BLOCK["conditions"], {"hostHeader": {"values": ["admin.example.com"]}}]}
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[narrowed])) == leak()
    forwards = {**narrowed, "priority": 0, "actions": [{"type": "forward"}]}
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[forwards, BLOCK])) == leak("listener rule edge-rule-0")


def test_the_last_action_answers_and_authentication_counts(via_stack_policy):
    authenticated = {**BLOCK, "actions": [{"type": "forward", "order": 2}, {"type": "authenticate-oidc", "order": 1}]}
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[authenticated])) == leak()
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(
        listener={"defaultActions": [{"type": "authenticate-cognito", "order": 1}, {"type": "forward", "order": 2}]},
        rules=[])) == leak()


def test_an_unknown_priority_is_not_judged_and_other_paths_are_configurable(via_stack_policy):
    forward_first = {**BLOCK, "priority": UNKNOWN_STRING_VALUE, "actions": [{"type": "forward"}]}
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[forward_first, BLOCK])) == []
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(), {"paths": ["/internal/debug"]}) == leak(
        path="/internal/debug")


# ----------------------------------------------------------------------------- image-architecture-matches

LT_T = "aws:ec2/launchTemplate:LaunchTemplate"
X86_AMI = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
ARM_AMI = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
TEMPLATE = {"instanceType": "t3.small", "imageId": X86_AMI}


def test_matching_templates_and_instances_pass(via_policy):
    assert via_policy(IMAGE_ARCHITECTURE_MATCHES, LT_T, TEMPLATE) == []
    assert via_policy(IMAGE_ARCHITECTURE_MATCHES, LT_T, {"instanceType": "t4g.small", "imageId": ARM_AMI}) == []
    assert via_policy(IMAGE_ARCHITECTURE_MATCHES, "aws:ec2/instance:Instance",
                      {"instanceType": "m6i.large", "ami": X86_AMI}) == []


def test_a_graviton_type_with_an_x86_ami(via_policy):
    assert via_policy(IMAGE_ARCHITECTURE_MATCHES, LT_T, {**TEMPLATE, "instanceType": "m7g.large"}) == [
        "instance type m7g.large is arm64 but the AMI is x86_64: EC2 refuses to launch the pair"
    ]


def test_an_x86_type_with_an_arm_ami_on_an_instance(via_policy):
    assert via_policy(IMAGE_ARCHITECTURE_MATCHES, "aws:ec2/instance:Instance",
                      {"instanceType": "c6a.large", "ami": ARM_AMI}) == [
        "instance type c6a.large is x86_64 but the AMI is arm64: EC2 refuses to launch the pair"
    ]


def test_the_container_architecture_when_configured(via_policy):
    arm = {"instanceType": "t4g.small", "imageId": ARM_AMI}
    assert via_policy(IMAGE_ARCHITECTURE_MATCHES, LT_T, arm) == []
    assert via_policy(IMAGE_ARCHITECTURE_MATCHES, LT_T, arm, {"containerArchitecture": "x86_64"}) == [
        "instance type t4g.small is arm64 but the container image is built for x86_64: the container fails at "
        "start with `exec format error`"
    ]
    assert via_policy(IMAGE_ARCHITECTURE_MATCHES, LT_T, TEMPLATE, {"containerArchitecture": "x86_64"}) == []


@pytest.mark.parametrize("props", [
    {"instanceType": "m7g.large", "imageId": "ami-0123456789abcdef0"},   # an AMI id says nothing here
    {"instanceType": UNKNOWN_STRING_VALUE, "imageId": X86_AMI},
    {"instanceType": "m7g.large", "imageId": UNKNOWN_STRING_VALUE},
    {"imageId": ARM_AMI},                                                   # the type is set elsewhere
    {"instanceType": "m7g.large", "imageId": "resolve:ssm:/my/golden-image"},
])
def test_what_cannot_be_known_is_not_judged(via_policy, props):
    assert via_policy(IMAGE_ARCHITECTURE_MATCHES, LT_T, props) == []


# ----------------------------------------------------------------------------- s3-gateway-endpoint

RT_T = "aws:ec2/routeTable:RouteTable"
ENDPOINT_T = "aws:ec2/vpcEndpoint:VpcEndpoint"
APP_RT = {"id": "rtb-app", "routes": [{"cidrBlock": "0.0.0.0/0", "natGatewayId": "nat-1"}]}
PUBLIC_RT = {"id": "rtb-public", "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}]}
DATA_RT = {"id": "rtb-data", "routes": []}
ENDPOINT = {"id": "vpce-1", "vpcEndpointType": "Gateway", "serviceName": "com.amazonaws.eu-west-1.s3",
            "routeTableIds": ["rtb-app"]}


def network(endpoint=None, deps=None, extra=()):
    stack = [(RT_T, "app-rt", APP_RT, {}), (RT_T, "public-rt", PUBLIC_RT, {}), (RT_T, "data-rt", DATA_RT, {})]
    if endpoint is not False:
        stack.append((ENDPOINT_T, "s3", {**ENDPOINT, **(endpoint or {})},
                      {"routeTableIds": ["app-rt"]} if deps is None else deps))
    return stack + list(extra)


MISSING = [(urn(RT_T, "app-rt"),
            "route table app-rt sends traffic to a NAT gateway and has no S3 gateway endpoint: S3 (and ECR image "
            "layers, served from S3) pays the NAT's per-GB charge and its bandwidth")]


def test_an_endpoint_on_the_nat_route_table_passes_by_dependency_and_by_id(via_stack_policy):
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network()) == []
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(deps={})) == []


def test_no_endpoint(via_stack_policy):
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(endpoint=False)) == MISSING


@pytest.mark.parametrize("change", [
    {"vpcEndpointType": "Interface"}, {"serviceName": "com.amazonaws.eu-west-1.dynamodb"},
    {"routeTableIds": ["rtb-public"]},
])
def test_an_endpoint_that_is_not_an_s3_gateway_on_that_table_does_not_count(via_stack_policy, change):
    deps = {} if "routeTableIds" in change else None
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(endpoint=change, deps=deps)) == MISSING


def test_an_association_resource_counts_and_a_separate_nat_route_is_seen(via_stack_policy):
    association = ("aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation", "s3-app",
                   {"routeTableId": "rtb-app", "vpcEndpointId": "vpce-1"}, {})
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(endpoint={"routeTableIds": []}, deps={},
                                                         extra=[association])) == []
    route = ("aws:ec2/route:Route", "data-out", {"routeTableId": "rtb-data", "natGatewayId": "nat-1"}, {})
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(extra=[route])) == [
        (urn(RT_T, "data-rt"), MISSING[0][1].replace("app-rt", "data-rt"))]


def test_no_nat_no_finding_and_unknowns_are_not_judged(via_stack_policy):
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, [(RT_T, "public-rt", PUBLIC_RT, {})]) == []
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(endpoint={"serviceName": UNKNOWN_STRING_VALUE})) == []


# ----------------------------------------------------------------------------- edges of each rule


def test_the_default_path_is_metrics_in_the_check_itself():
    from policies.rules._core import StackResource
    from policies.rules.release import check_metrics_not_public

    resources = [
        StackResource(LB_T, urn(LB_T, "edge"), "edge", dict(LB)),
        StackResource(LISTENER_T, urn(LISTENER_T, "edge-http"), "edge-http", dict(LISTENER)),
    ]
    assert check_metrics_not_public(resources, {}) == leak()


def test_balancers_and_listeners_are_found_by_id_too(via_stack_policy):
    by_id = [
        (LB_T, "edge", {"id": "lb-1", "internal": False}, {}),
        (LISTENER_T, "edge-http", {"id": "l-1", "loadBalancerArn": "lb-1", "defaultActions": [{"type": "forward"}]},
         {}),
        (RULE_T, "edge-rule-0", {**BLOCK, "listenerArn": "l-1"}, {}),
    ]
    assert via_stack_policy(METRICS_NOT_PUBLIC, by_id) == []
    assert via_stack_policy(METRICS_NOT_PUBLIC, by_id[:2]) == leak()


def test_every_listener_is_judged_after_one_that_is_skipped(via_stack_policy):
    second = (LISTENER_T, "edge-https", {**LISTENER, "arn": "l-2"}, {"loadBalancerArn": ["edge"]})
    unbound = (LISTENER_T, "edge-other", {"arn": "l-0", "loadBalancerArn": "elsewhere",
                                          "defaultActions": [{"type": "forward"}]}, {})
    internal = (LB_T, "inner", {"arn": "lb-in", "internal": True}, {})
    inner_listener = (LISTENER_T, "inner-http", {"arn": "l-3", "loadBalancerArn": "lb-in",
                                                 "defaultActions": [{"type": "forward"}]}, {})
    unknown_order = {**BLOCK, "listenerArn": "l-4", "priority": UNKNOWN_STRING_VALUE}
    undecided = (LISTENER_T, "edge-alt", {**LISTENER, "arn": "l-4"}, {"loadBalancerArn": ["edge"]})
    stack = [unbound, internal, inner_listener, undecided, (RULE_T, "alt-rule", unknown_order, {}),
             *edge(rules=[]), second]
    found = via_stack_policy(METRICS_NOT_PUBLIC, stack)
    assert [u for u, _ in found] == [urn(LISTENER_T, "edge-http"), urn(LISTENER_T, "edge-https")]


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [
        ("a1.large", "arm64"),
        ("a2.large", "x86_64"),
        ("x1.large", "x86_64"),
        ("c7g.large", "arm64"),
        ("c7gd.large", "arm64"),
        ("t3.small", "x86_64"),
        ("mac2.metal", None),
        ("m5", None),
        ("", None),
        (None, None),
    ],
)
def test_instance_architecture(instance_type, architecture):
    from policies.rules.release import instance_architecture

    assert instance_architecture(instance_type) == architecture


@pytest.mark.parametrize(
    ("image", "architecture"),
    [
        ("resolve:ssm:/x/ubuntu-jammy-22.04-ARM64-server", "arm64"),
        ("resolve:ssm:/x/debian-12-aarch64", "arm64"),
        ("resolve:ssm:/x/debian-12-AMD64", "x86_64"),
        ("resolve:ssm:/x/al2023-x86_64", "x86_64"),
        ("ami-0123456789abcdef0", None),
        (None, None),
    ],
)
def test_ami_architecture(image, architecture):
    from policies.rules.release import ami_architecture

    assert ami_architecture(image) == architecture


def test_an_endpoint_without_a_type_is_a_gateway(via_stack_policy):
    # vpcEndpointType defaults to Gateway (pulumi_aws ec2/vpc_endpoint.py: "Defaults to `Gateway`").
    untyped = {k: v for k, v in ENDPOINT.items() if k != "vpcEndpointType"}
    stack = [(RT_T, "app-rt", APP_RT, {}), (ENDPOINT_T, "s3", untyped, {"routeTableIds": ["app-rt"]})]
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, stack) == []


def test_route_tables_not_known_yet_are_covered_by_their_dependency_alone(via_stack_policy):
    unknown = {"routeTableIds": ["04da6b54-80e4-46f7-96ec-b56ff0331ba9"]}
    # The engine recorded that routeTableIds came from app-rt: the table is covered.
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(endpoint=unknown)) == []
    # Without the dependency nothing can be said yet (another table may be the one).
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(endpoint=unknown, deps={})) == []
    # A dependency on another table covers that table only.
    other = network(endpoint=unknown, deps={"routeTableIds": ["data-rt"]})
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, other) == MISSING


def test_the_rule_and_the_program_read_instance_architectures_alike():
    # The pack cannot import the program (a published pack is its own directory) and the program does
    # not depend on pulumi_policy, so each keeps its reading of the type name; they must not drift.
    from infra.lib import arch
    from policies.rules.release import instance_architecture

    types = ["t3.micro", "t4g.small", "m7gd.large", "c7gn.xlarge", "im4gn.large", "g5g.xlarge", "a1.medium",
             "a2.large", "mac1.metal", "mac2.metal", "u-6tb1.metal", "x2iedn.xlarge", "inf2.xlarge", "nonsense"]
    assert [instance_architecture(t) for t in types] == [arch.instance_architecture(t) for t in types]


@pytest.mark.parametrize(("actions", "leaks"), [
    # Without an order an action is placed by its one-based position, as the provider sends it.
    ([{"type": "fixed-response", "order": 3}, {"type": "forward"}], False),
    ([{"type": "forward", "order": 1}, {"type": "fixed-response"}], False),
    ([{"type": "fixed-response", "order": 0}, {"type": "forward", "order": 2}], True),
    ([{"type": "fixed-response"}, {"type": "forward"}], True),
    ([UNKNOWN_STRING_VALUE, {"type": "forward"}], True),
    ([{"type": UNKNOWN_STRING_VALUE}], False),
    ([], False),
    (UNKNOWN_STRING_VALUE, False),
])
def test_the_action_with_the_highest_order_answers(actions, leaks, via_stack_policy):
    found = via_stack_policy(METRICS_NOT_PUBLIC, edge(listener={"defaultActions": actions}, rules=[]))
    assert found == (leak() if leaks else [])


def test_a_rule_without_a_path_condition_forwards_some_requests_for_every_path(via_stack_policy):
    host = {"hostHeader": {"values": ["api.example.com"]}, "pathPattern": None}
    by_host = {**BLOCK, "priority": 0, "conditions": [host], "actions": [{"type": "forward"}]}
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[by_host, BLOCK])) == leak("listener rule edge-rule-0")
    blocking = {**by_host, "actions": BLOCK["actions"]}
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(rules=[blocking])) == leak()


def test_a_path_condition_beside_an_unset_one_decides_alone(via_stack_policy):
    conditions = [{"pathPattern": {"values": ["/metrics"]}, "hostHeader": None},
                  {"hostHeader": {"values": ["api.example.com"]}, "pathPattern": None}]
    narrowed = {**BLOCK, "priority": 0, "conditions": conditions, "actions": [{"type": "forward"}]}
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(listener={"defaultActions": [{"type": "fixed-response"}]},
                                                     rules=[narrowed])) == leak("listener rule edge-rule-0")


def test_a_forwarding_rule_for_other_paths_leaks_nothing(via_stack_policy):
    api = {**BLOCK, "priority": 0, "conditions": [{"pathPattern": {"values": ["/api/*"]}}],
           "actions": [{"type": "forward"}]}
    assert via_stack_policy(METRICS_NOT_PUBLIC, edge(listener={"defaultActions": [{"type": "fixed-response"}]},
                                                     rules=[api])) == []


def test_routes_that_are_not_nat_routes_or_not_known_make_no_nat_table(via_stack_policy):
    routes = {"id": "rtb-app", "routes": [UNKNOWN_STRING_VALUE, {"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}]}
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, [(RT_T, "app-rt", routes, {})]) == []
    unknown_then_nat = {**routes, "routes": [UNKNOWN_STRING_VALUE, *APP_RT["routes"]]}
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, [(RT_T, "app-rt", unknown_then_nat, {})]) == MISSING


def test_a_route_to_a_nat_gateway_preview_does_not_know_yet_is_a_nat_route(via_stack_policy):
    # A new stack's preview: the NAT gateway's id is unknown, but natGatewayId names nothing else.
    inline = {"id": "rtb-app", "routes": [{"cidrBlock": "0.0.0.0/0", "natGatewayId": UNKNOWN_STRING_VALUE}]}
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, [(RT_T, "app-rt", inline, {})]) == MISSING
    route = ("aws:ec2/route:Route", "data-out", {"routeTableId": "rtb-data", "natGatewayId": UNKNOWN_STRING_VALUE},
             {})
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(extra=[route])) == [
        (urn(RT_T, "data-rt"), MISSING[0][1].replace("app-rt", "data-rt"))]


def test_separate_routes_count_only_to_a_nat_gateway_from_a_table_in_the_stack(via_stack_policy):
    igw = ("aws:ec2/route:Route", "data-igw", {"routeTableId": "rtb-data", "gatewayId": "igw-1"}, {})
    elsewhere = ("aws:ec2/route:Route", "other-out", {"routeTableId": "rtb-other", "natGatewayId": "nat-1"}, {})
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(extra=[igw, elsewhere])) == []


def test_an_endpoint_is_judged_after_one_that_is_no_s3_gateway(via_stack_policy):
    interface = (ENDPOINT_T, "ssm", {"id": "vpce-0", "vpcEndpointType": "Interface",
                                     "serviceName": "com.amazonaws.eu-west-1.ssm"}, {})
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, [interface, *network()]) == []


def test_endpoint_route_table_ids_outside_the_stack_are_skipped(via_stack_policy):
    outside = network(endpoint={"routeTableIds": ["rtb-elsewhere", "rtb-app"]}, deps={})
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, outside) == []
    assert via_stack_policy(S3_GATEWAY_ENDPOINT, network(endpoint={"routeTableIds": ["rtb-elsewhere"]}, deps={})) == (
        MISSING)
