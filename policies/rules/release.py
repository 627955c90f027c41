"""Rules from the release review: what an internet-facing load balancer shows, which CPU the instances
have, and which way S3 traffic leaves the private subnets.

- `metrics-not-public` (stack): an internet-facing application load balancer whose listener hands
  `/metrics` to its targets. ALB listener rules are evaluated in priority order, the lowest value first,
  and the default action applies when no rule matches; a path pattern is case-sensitive, `*` matches any
  run of characters and `?` exactly one
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-update-rules.html,
  .../rule-condition-types.html "Path conditions"). The last action of a rule (by `order`) is the one
  that answers; `authenticate-*` actions come before it.
- `image-architecture-matches`: a launch template or instance whose instance type's architecture is not
  the one of its AMI (named by an SSM parameter, `resolve:ssm:<path>`, whose path says x86_64 or arm64),
  or not the one of the container image it runs (`containerArchitecture`, optional). EC2 refuses the
  first pair at launch; the second boots and fails at `docker run` with `exec format error`. Graviton
  types carry the attribute `g` after the generation digit (t4g, m7gd, c7gn; also a1)
  (https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html).
- `s3-gateway-endpoint` (stack): a route table that sends the internet route to a NAT gateway while no
  S3 gateway endpoint is attached to it: every S3 and ECR-layer download then pays the NAT's per-GB
  processing charge; a gateway endpoint costs nothing
  (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html).

All three are advisory: none is a security boundary the stack relies on alone.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, StackResource, as_int, get, items, lb_types, linked, resource_keys, type_set

LOAD_BALANCERS = lb_types("LoadBalancer")
LISTENERS = lb_types("Listener")
LISTENER_RULES = lb_types("ListenerRule")
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ENDPOINT_ASSOCIATION = "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation"

# ----------------------------------------------------------------------------- metrics-not-public


def _pattern_matches(pattern: str, path: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path) is not None


def _terminal_action(actions: Any) -> Any:
    """The type of the action performed last: the one with the highest order. An action without an
    order (or order 0) is given its one-based position in the list (terraform-provider-aws
    internal/service/elbv2/listener.go, expandListenerAction: `Order: aws.Int32(int32(i + 1))` unless
    `order` is set and not 0)."""
    ordered = sorted(
        (as_int(action.get("order")) or i + 1, i, action)
        for i, action in enumerate(items(actions))
        if isinstance(action, dict)
    )
    return ordered[-1][2].get("type") if ordered else None


def _path_patterns(condition: dict[str, Any]) -> list[str] | None:
    values = get(condition, "pathPattern", "values")
    if values is UNKNOWN:
        return None
    return [v for v in items(values) if isinstance(v, str)]


def _decides(rule: StackResource, path: str) -> tuple[bool, bool]:
    """(matches every request for `path`, matches some request for `path`)."""
    conditions = [c for c in items(rule.props.get("conditions")) if isinstance(c, dict)]
    path_conditions = [c for c in conditions if c.get("pathPattern") is not None]
    # A rule without a path condition matches some request for every path (all of them if it has no
    # condition at all).
    for condition in path_conditions:
        patterns = _path_patterns(condition)
        if patterns is None or not any(_pattern_matches(p, path) for p in patterns):
            return False, False
    # Any other condition (host, header, source address, ...) narrows the rule to some requests only.
    return len(path_conditions) == len(conditions), True


def check_metrics_not_public(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    paths = [p for p in config.get("paths", ["/metrics"]) if isinstance(p, str)]
    balancers: dict[str, StackResource] = {}
    for r in resources:
        if r.resource_type in LOAD_BALANCERS:
            balancers.update(dict.fromkeys(resource_keys(r, "arn", "id"), r))
    listeners: dict[str, StackResource] = {}
    for r in resources:
        if r.resource_type in LISTENERS:
            listeners.update(dict.fromkeys(resource_keys(r, "arn", "id"), r))
    rules_of: dict[str, list[StackResource]] = {}
    for r in resources:
        if r.resource_type in LISTENER_RULES:
            listener = linked(r, "listenerArn", listeners)
            if listener is not None:
                rules_of.setdefault(listener.urn, []).append(r)

    found: list[tuple[str | None, str]] = []
    for listener in {id(v): v for v in listeners.values()}.values():
        lb = linked(listener, "loadBalancerArn", balancers)
        if lb is None:
            continue
        internal, kind = lb.props.get("internal"), lb.props.get("loadBalancerType")
        if internal is UNKNOWN or internal is True or (isinstance(kind, str) and kind != "application"):
            continue
        rules = rules_of.get(listener.urn, [])
        if any(as_int(r.props.get("priority")) is None for r in rules):
            continue  # the order is not known yet: cannot judge
        for path in paths:
            answer = _terminal_action(listener.props.get("defaultActions"))
            leak_through = None
            for rule in sorted(rules, key=lambda r: as_int(r.props.get("priority")) or 0):
                every, some = _decides(rule, path)
                if every:
                    answer = _terminal_action(rule.props.get("actions"))
                    break
                if some and _terminal_action(rule.props.get("actions")) == "forward":
                    leak_through = rule.name
            if answer == "forward" or leak_through is not None:
                how = f"listener rule {leak_through}" if leak_through else "the listener's default action"
                found.append((listener.urn, (
                    f"internet-facing load balancer {lb.name} forwards {path} to its targets ({how}): the app's "
                    "metrics (routes, counts, latencies, errors) are readable by anyone"
                )))
    return found


METRICS_NOT_PUBLIC = Rule(
    name="metrics-not-public",
    description="An internet-facing application load balancer does not forward /metrics to its targets.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="Prometheus text names every route with its request counts, latencies and errors: a map of the app "
    "for an attacker, and the scrape path costs the app CPU for anyone who asks.",
    remediation="Add a listener rule at the lowest priority that answers the metrics path itself (fixed-response "
    "404), or serve metrics on a port the load balancer does not target.",
    stack_check=check_metrics_not_public,
    config={"paths": {"type": "array", "items": {"type": "string"}, "default": ["/metrics"],
                      "description": "paths that must not reach the targets from the internet"}},
    tags=("security", "exposure"),
)

# ----------------------------------------------------------------------------- image-architecture-matches

X86_64, ARM64 = "x86_64", "arm64"
_FAMILY = re.compile(r"^(?P<cls>[a-z]+)(?P<gen>\d+)(?P<attrs>[a-z-]*)\.")


def instance_architecture(instance_type: Any) -> str | None:
    if not isinstance(instance_type, str):
        return None
    match = _FAMILY.match(instance_type)
    if match is None or match["cls"] == "mac":
        return None
    if match["cls"] == "a" and match["gen"] == "1":
        return ARM64
    return ARM64 if "g" in match["attrs"] else X86_64


def ami_architecture(image_id: Any) -> str | None:
    """The architecture an AMI reference names: only `resolve:ssm:` parameter paths say it (an AMI id is hex)."""
    if not isinstance(image_id, str):
        return None
    path = image_id.lower()
    if "arm64" in path or "aarch64" in path:
        return ARM64
    if "x86_64" in path or "amd64" in path:
        return X86_64
    return None


def check_image_architecture(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    instance_type = props.get("instanceType")
    instance = instance_architecture(instance_type)
    if instance is None:
        return []
    ami = ami_architecture(props.get("imageId") if resource_type == LAUNCH_TEMPLATE else props.get("ami"))
    found = []
    if ami is not None and ami != instance:
        found.append(f"instance type {instance_type} is {instance} but the AMI is {ami}: EC2 refuses to launch "
                     "the pair")
    container = config.get("containerArchitecture")
    if container in (X86_64, ARM64) and container != instance:
        found.append(f"instance type {instance_type} is {instance} but the container image is built for "
                     f"{container}: the container fails at start with `exec format error`")
    return found


IMAGE_ARCHITECTURE_MATCHES = Rule(
    name="image-architecture-matches",
    description="Launch templates and instances use an instance type of their image's CPU architecture.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="An arm64 type with an x86_64 AMI never launches; with an x86_64-only container it boots and fails "
    "its health check forever, so the group replaces instances in a loop and never serves.",
    remediation="Pick an instance type of the AMI's and the container's architecture (no `g` attribute for "
    "x86_64), or build the image and pick the AMI for arm64.",
    resource_types=type_set(LAUNCH_TEMPLATE, INSTANCE),
    check=check_image_architecture,
    config={"containerArchitecture": {"type": "string", "enum": ["", X86_64, ARM64], "default": "",
                                      "description": "architecture of the container image the instances run"}},
    tags=("reliability",),
)

# ----------------------------------------------------------------------------- s3-gateway-endpoint


def _is_s3_gateway(endpoint: StackResource) -> bool | None:
    kind, service = endpoint.props.get("vpcEndpointType"), endpoint.props.get("serviceName")
    if kind is UNKNOWN or service is UNKNOWN:
        return None
    return (kind or "Gateway") == "Gateway" and isinstance(service, str) and service.endswith(".s3")


def _to_nat(route: dict[str, Any]) -> bool:
    """A route to a NAT gateway: `natGatewayId` holds nothing else, so one the program set but preview
    does not know yet (the NAT gateway of a new stack) is one too."""
    target = route.get("natGatewayId")
    return target is UNKNOWN or bool(target)


def check_s3_gateway_endpoint(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    tables: dict[str, StackResource] = {}
    for r in resources:
        if r.resource_type == ROUTE_TABLE:
            tables.update(dict.fromkeys(resource_keys(r, "id"), r))
    nat_tables: dict[str, StackResource] = {}
    for table in tables.values():
        if any(isinstance(route, dict) and _to_nat(route) for route in items(table.props.get("routes"))):
            nat_tables[table.urn] = table
    for route in (r for r in resources if r.resource_type == ROUTE):
        routed = linked(route, "routeTableId", tables)
        if routed is not None and _to_nat(route.props):
            nat_tables[routed.urn] = routed
    if not nat_tables:
        return []

    covered: set[str] = set()
    endpoints = [r for r in resources if r.resource_type == ENDPOINT]
    gateway_keys: dict[str, StackResource] = {}
    for endpoint in endpoints:
        verdict = _is_s3_gateway(endpoint)
        if verdict is None:
            return []  # an endpoint that may be an S3 gateway on any table: cannot judge
        if not verdict:
            continue
        gateway_keys.update(dict.fromkeys(resource_keys(endpoint, "id"), endpoint))
        covered.update(endpoint.property_dependencies.get("routeTableIds", ()))
        ids = endpoint.props.get("routeTableIds")
        if (ids is UNKNOWN or any(i is UNKNOWN for i in items(ids))) and not endpoint.property_dependencies.get(
            "routeTableIds"
        ):
            return []  # the tables it covers are not known yet
        for value in items(ids):
            if isinstance(value, str) and value in tables:
                covered.add(tables[value].urn)
    for association in (r for r in resources if r.resource_type == ENDPOINT_ASSOCIATION):
        if linked(association, "vpcEndpointId", gateway_keys) is not None:
            associated = linked(association, "routeTableId", tables)
            if associated is not None:
                covered.add(associated.urn)
    return [
        (table.urn, f"route table {table.name} sends traffic to a NAT gateway and has no S3 gateway endpoint: S3 "
         "(and ECR image layers, served from S3) pays the NAT's per-GB charge and its bandwidth")
        for urn, table in sorted(nat_tables.items()) if urn not in covered
    ]


S3_GATEWAY_ENDPOINT = Rule(
    name="s3-gateway-endpoint",
    description="Private subnets that reach the internet through a NAT gateway reach S3 through a gateway "
    "endpoint.",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    why="Without it every object and image layer crosses the NAT: a per-GB charge, the NAT's bandwidth shared "
    "with everything else, and an outage of the NAT's AZ cutting S3 off too.",
    remediation="Add an aws.ec2.VpcEndpoint of type Gateway for com.amazonaws.<region>.s3 with the private route "
    "tables in routeTableIds.",
    stack_check=check_s3_gateway_endpoint,
    tags=("cost", "reliability"),
)

RULES = (METRICS_NOT_PUBLIC, IMAGE_ARCHITECTURE_MATCHES, S3_GATEWAY_ENDPOINT)
