"""Rules for the network edge of compute: IMDSv2 with hop limit 1, security groups closed to the world
on data and admin ports, and HTTP listeners that redirect to HTTPS.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity
from pulumi_policy.proxy import UnknownValueError

from ._core import (
    UNKNOWN,
    Rule,
    StackResource,
    as_int,
    get,
    is_world_cidr,
    items,
    known,
    lb_types,
    linked,
    resource_keys,
    type_set,
)
from .images import holds_unknown, not_known

METADATA_TYPES = type_set(
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/instance:Instance",
    "aws:ec2/launchConfiguration:LaunchConfiguration",
    "aws:ec2/spotInstanceRequest:SpotInstanceRequest",
)
SECURITY_GROUP_TYPES = type_set(
    "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
)
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LISTENERS = lb_types("Listener")
LOAD_BALANCERS = lb_types("LoadBalancer")

DATA_PORTS = [
    22,
    23,
    1433,
    1521,
    2049,
    2375,
    2376,
    3306,
    3389,
    5432,
    5601,
    5984,
    6379,
    7000,
    7001,
    8086,
    9042,
    9200,
    9300,
    11211,
    27017,
    27018,
    50000,
]
_WORLD = {"0.0.0.0/0", "::/0"}


def check_imdsv2(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    options = props.get("metadataOptions")
    if not known(options) and options is not None:
        return []
    if get(options, "httpEndpoint") == "disabled":
        return []
    found = []
    tokens = get(options, "httpTokens")
    if tokens is None or (known(tokens) and tokens != "required"):
        found.append(
            f"metadataOptions.httpTokens is {tokens or 'unset'}, not required: IMDSv1 lets SSRF read credentials"
        )
    hops = as_int(get(options, "httpPutResponseHopLimit"))
    limit = int(config.get("maxHopLimit", 1))
    if hops is not None and hops > limit:
        found.append(
            f"metadataOptions.httpPutResponseHopLimit is {hops} (limit {limit}): containers on the host can reach IMDS"
        )
    return found


def _open_ports(protocol: Any, from_port: Any, to_port: Any, ports: list[int]) -> list[int]:
    # None and UNKNOWN spell no protocol below, so they open nothing.
    proto = str(protocol).lower()
    if proto in ("-1", "all"):
        return list(ports)
    if proto not in ("tcp", "6", "udp", "17"):
        return []
    low, high = as_int(from_port), as_int(to_port)
    if low is None or high is None:
        return []
    if low == -1 and high == -1:
        return list(ports)
    return [p for p in ports if low <= p <= high]


def _describe(ports: list[int]) -> str:
    shown = ", ".join(str(p) for p in ports[:6])
    return shown + (f" and {len(ports) - 6} more" if len(ports) > 6 else "")


def check_world_open(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    ports = [int(p) for p in config.get("ports", DATA_PORTS)]
    found = []
    if resource_type in SECURITY_GROUP_TYPES:
        for rule in items(props.get("ingress")):
            if not isinstance(rule, dict):
                continue
            world = [c for c in items(rule.get("cidrBlocks")) + items(rule.get("ipv6CidrBlocks")) if is_world_cidr(c)]
            open_ = _open_ports(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"), ports)
            if world and open_:
                found.append(f"ingress from {', '.join(world)} opens port(s) {_describe(open_)}")
        return found
    if resource_type == SG_RULE:
        if props.get("type") != "ingress":
            return []
        world = [c for c in items(props.get("cidrBlocks")) + items(props.get("ipv6CidrBlocks")) if is_world_cidr(c)]
        open_ = _open_ports(props.get("protocol"), props.get("fromPort"), props.get("toPort"), ports)
        if world and open_:
            found.append(f"ingress rule from {', '.join(world)} opens port(s) {_describe(open_)}")
        return found
    world = [c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if is_world_cidr(c)]
    open_ = _open_ports(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"), ports)
    if world and open_:
        found.append(f"ingress rule from {', '.join(world)} opens port(s) {_describe(open_)}")
    return found


def _listener_protocol(props: dict[str, Any], balancer: StackResource | None) -> str | None:
    """The listener's protocol. Unset, the provider sends HTTP for a listener of an application load
    balancer and nothing otherwise (terraform-provider-aws internal/service/elbv2/listener.go,
    resourceListenerCreate: `else if strings.Contains(lbARN, "loadbalancer/app/")` sets
    `ProtocolEnumHttp`, "Keep previous default of HTTP for Application Load Balancers"); a network or
    gateway load balancer's listener names its own. The load balancer's kind is read from the stack's
    load balancer (`loadBalancerType`, default `application` in pulumi-aws), else from the ARN."""
    protocol = props.get("protocol")
    # A protocol the program sets but preview does not know yet is not unset: it may be HTTPS.
    if protocol is UNKNOWN or holds_unknown(protocol):
        not_known("protocol")
    if isinstance(protocol, str) and protocol:
        return protocol.upper()
    if balancer is not None:
        kind = balancer.props.get("loadBalancerType")
        if kind is UNKNOWN or holds_unknown(kind):
            not_known("loadBalancerType")
        return "HTTP" if kind in (None, "", "application") else None
    arn = props.get("loadBalancerArn")
    if isinstance(arn, str) and ":loadbalancer/app/" in arn:
        return "HTTP"
    if isinstance(arn, str) and (":loadbalancer/net/" in arn or ":loadbalancer/gwy/" in arn):
        return None
    # Neither the stack nor the ARN (not known yet, or not saying its kind) tells HTTP from TCP.
    not_known("protocol")


def _port(value: Any) -> str:
    # The engine hands numbers over as floats (protobuf Struct): 80.0 is port 80.
    number = as_int(value)
    return str(number) if number is not None else "?" if value is None else str(value)


def _https_redirect(props: dict[str, Any], balancer: StackResource | None) -> list[str]:
    serving = any(
        isinstance(a, dict) and a.get("type") in ("forward", "authenticate-cognito", "authenticate-oidc")
        for a in items(props.get("defaultActions"))
    )
    if not serving or _listener_protocol(props, balancer) != "HTTP":
        return []
    explicit = isinstance(props.get("protocol"), str) and props["protocol"]
    unset = "" if explicit else " (no protocol: HTTP, the ALB default)"
    return [
        f"HTTP listener on port {_port(props.get('port'))}{unset} serves traffic (forward) instead of redirecting "
        "to HTTPS"
    ]


def check_https_redirect(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    """A stack rule so that a listener without a protocol is judged by its load balancer's kind, which
    the program sets (and preview knows) while the load balancer's ARN is not known yet."""
    by_key = {key: r for r in resources if r.resource_type in LOAD_BALANCERS for key in resource_keys(r, "arn", "id")}
    found: list[tuple[str | None, str]] = []
    unknown: list[UnknownValueError] = []
    for listener in resources:
        if listener.resource_type not in LISTENERS:
            continue
        try:
            messages = _https_redirect(listener.props, linked(listener, "loadBalancerArn", by_key))
        except UnknownValueError as err:
            unknown.append(err)
            continue
        found.extend((listener.urn, m) for m in messages)
    if unknown and not found:
        raise unknown[0]
    return found


def check_alb_header_hygiene(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    # pulumi-aws v7 aws.lb.LoadBalancer (pulumi_aws/lb/load_balancer.py): loadBalancerType defaults to
    # application, dropInvalidHeaderFields to false, desyncMitigationMode to defensive (monitor lets
    # every request through).
    kind = props.get("loadBalancerType")
    if known(kind) and kind != "application":
        return []
    found = []
    drop = props.get("dropInvalidHeaderFields")
    if drop is None or (known(drop) and drop is not True and str(drop).lower() != "true"):
        found.append("dropInvalidHeaderFields is not true: header fields with invalid characters reach the targets")
    if props.get("desyncMitigationMode") == "monitor":
        found.append(
            "desyncMitigationMode is monitor: requests that could desynchronise the targets (request "
            "smuggling) are forwarded"
        )
    return found


IMDSV2_REQUIRED = Rule(
    name="imdsv2-required",
    description="Instances and launch templates require IMDSv2 tokens with a hop limit of 1.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="IMDSv1 hands the instance role's credentials to any SSRF; a hop limit above 1 lets containers "
    "on the host reach them too.",
    remediation="Set metadataOptions {httpEndpoint: enabled, httpTokens: required, httpPutResponseHopLimit: 1}.",
    resource_types=METADATA_TYPES,
    check=check_imdsv2,
    config={
        "maxHopLimit": {
            "type": "integer",
            "minimum": 1,
            "maximum": 64,
            "default": 1,
            "description": "Largest accepted httpPutResponseHopLimit (2 for nodes whose pods need IMDS).",
        }
    },
    tags=("security", "ec2"),
)

NO_WORLD_OPEN_DATA_PORTS = Rule(
    name="no-world-open-data-ports",
    description="Security groups do not open admin or data-store ports to 0.0.0.0/0 or ::/0.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    why="SSH/RDP and database or cache ports open to the internet are the classic way in; only the load "
    "balancer's 80/443 face the world.",
    remediation="Allow these ports only from other security groups (referencedSecurityGroupId / "
    "sourceSecurityGroupId) or private CIDRs; use SSM Session Manager instead of SSH.",
    resource_types=SECURITY_GROUP_TYPES | type_set(SG_RULE, SG_INGRESS_RULE),
    check=check_world_open,
    config={
        "ports": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": 65535},
            "default": DATA_PORTS,
            "description": "Ports that must never be reachable from anywhere.",
        }
    },
    tags=("security", "network"),
)

ALB_HTTPS_REDIRECT = Rule(
    name="alb-https-redirect",
    description="Load balancer HTTP listeners only redirect to HTTPS where the stack demands it.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="Tokens and session ids travel in headers; over plain HTTP anyone on the path can replay them.",
    remediation="Serve on an HTTPS listener (TLS 1.2+ policy) and give the HTTP listener a redirect "
    "action {protocol: HTTPS, port: 443, statusCode: HTTP_301}.",
    stack_check=check_https_redirect,
    tags=("security", "load-balancing"),
)

ALB_HEADER_HYGIENE = Rule(
    name="alb-header-hygiene",
    description="Application load balancers drop invalid header fields and mitigate HTTP desync.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="Malformed headers and ambiguous requests are how request smuggling reaches the app behind the load "
    "balancer (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html"
    "#desync-mitigation-mode).",
    remediation="Set dropInvalidHeaderFields: true and leave desyncMitigationMode at defensive (or strictest).",
    resource_types=LOAD_BALANCERS,
    check=check_alb_header_hygiene,
    tags=("security", "load-balancing"),
)

RULES = (IMDSV2_REQUIRED, NO_WORLD_OPEN_DATA_PORTS, ALB_HTTPS_REDIRECT, ALB_HEADER_HYGIENE)
