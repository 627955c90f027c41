"""Rules against sticky sessions: load-balancer target groups and listeners, classic ELB cookie
policies, Global Accelerator client affinity, Kubernetes Service affinity and ingress annotations,
Elastic Beanstalk option settings.

Stickiness pins a user to one replica, so that replica's memory becomes the session store: when it
dies or scales in, the sessions go with it.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, get, items, known, lb_types, truthy, type_set
from .images import not_known

TARGET_GROUPS = lb_types("TargetGroup")
LISTENERS = lb_types("Listener")
LISTENER_RULES = lb_types("ListenerRule")
ELB_COOKIE_POLICIES = type_set(
    "aws:elb/loadBalancerCookieStickinessPolicy:LoadBalancerCookieStickinessPolicy",
    "aws:elb/appCookieStickinessPolicy:AppCookieStickinessPolicy",
    "aws:elasticloadbalancing/loadBalancerCookieStickinessPolicy:LoadBalancerCookieStickinessPolicy",
    "aws:elasticloadbalancing/appCookieStickinessPolicy:AppCookieStickinessPolicy",
)
ELB_POLICIES = type_set(
    "aws:elb/loadBalancerPolicy:LoadBalancerPolicy",
    "aws:elasticloadbalancing/loadBalancerPolicy:LoadBalancerPolicy",
)
GA_LISTENER = "aws:globalaccelerator/listener:Listener"
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_INGRESSES = type_set(
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:networking.k8s.io/v1beta1:Ingress",
    "kubernetes:extensions/v1beta1:Ingress",
)

EB_TYPES = type_set(
    "aws:elasticbeanstalk/environment:Environment",
    "aws:elasticbeanstalk/configurationTemplate:ConfigurationTemplate",
)

_STICKY_ATTRIBUTE = re.compile(r"stickiness\.enabled\s*=\s*true", re.IGNORECASE)
_STICKY_ANNOTATIONS = (
    "alb.ingress.kubernetes.io/target-group-attributes",
    "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes",
)


def _stickiness_on(block: Any) -> bool:
    # The provider turns stickiness on whenever the block is present unless enabled is false.
    if not isinstance(block, dict) or not block:
        return False
    enabled = block.get("enabled")
    if enabled is None:
        return known(block.get("type"))
    return truthy(enabled)


def _forward_stickiness(actions: Any, where: str) -> list[str]:
    found = []
    for action in items(actions):
        # Unlike the target-group block, listener-level stickiness is off unless enabled is true.
        if truthy(get(action, "forward", "stickiness", "enabled")):
            found.append(f"{where} forward action enables target-group stickiness")
    return found


def _beanstalk_stickiness(settings: Any) -> list[str]:
    """Elastic Beanstalk's option settings (the "General options for all environments" page of the
    Elastic Beanstalk developer guide, command-options-general.html): `StickinessEnabled` of any
    `aws:elasticbeanstalk:environment:process:<name>` (the environment's ALB or NLB target group),
    `Stickiness Policy` of `aws:elb:policies` (a classic load balancer's cookie) and `CookieName` of an
    `aws:elb:policies:<policy>` (application-controlled stickiness of a classic load balancer)."""
    found = []
    unknown = settings is UNKNOWN
    for option in items(settings):
        namespace, name, value = get(option, "namespace"), get(option, "name"), get(option, "value")
        if not isinstance(namespace, str) or not isinstance(name, str):
            unknown = unknown or namespace is UNKNOWN or name is UNKNOWN
            continue
        if value is UNKNOWN and ("Stickiness" in name or name == "CookieName"):
            unknown = True
        if namespace.startswith("aws:elasticbeanstalk:environment:process:") and name == "StickinessEnabled":
            if truthy(value):
                found.append(f"{namespace} StickinessEnabled is true: the environment's target group pins sessions")
        elif namespace == "aws:elb:policies" and name == "Stickiness Policy":
            if truthy(value):
                found.append("aws:elb:policies Stickiness Policy is true: the classic load balancer pins sessions")
        elif namespace.startswith("aws:elb:policies:") and name == "CookieName" and known(value) and value:
            found.append(f"{namespace} CookieName {value}: application-controlled stickiness pins sessions")
    if unknown and not found:
        not_known("settings")
    return found


def check_sticky_sessions(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if resource_type in EB_TYPES:
        return _beanstalk_stickiness(props.get("settings"))
    if resource_type in TARGET_GROUPS:
        block = props.get("stickiness")
        if _stickiness_on(block):
            kind = get(block, "type", default="lb_cookie")
            return [f"target group stickiness is enabled ({kind}): sessions get pinned to one instance"]
        return []
    if resource_type in LISTENERS:
        return _forward_stickiness(props.get("defaultActions"), "listener default")
    if resource_type in LISTENER_RULES:
        return _forward_stickiness(props.get("actions"), "listener rule")
    if resource_type in ELB_COOKIE_POLICIES:
        kind = "application" if "appCookie" in resource_type else "load-balancer"
        return [f"classic ELB {kind} cookie stickiness policy pins sessions to one instance"]
    if resource_type in ELB_POLICIES:
        policy_type = props.get("policyTypeName")
        if isinstance(policy_type, str) and "CookieStickiness" in policy_type:
            return [f"classic ELB policy of type {policy_type} pins sessions to one instance"]
        return []
    if resource_type == GA_LISTENER:
        if props.get("clientAffinity") == "SOURCE_IP":
            return ["Global Accelerator listener clientAffinity SOURCE_IP pins clients to one endpoint"]
        return []
    annotations = get(props, "metadata", "annotations")
    found: list[str] = []
    if isinstance(annotations, dict):
        for key in _STICKY_ANNOTATIONS:
            value = annotations.get(key)
            if isinstance(value, str) and _STICKY_ATTRIBUTE.search(value):
                found.append(f"annotation {key} enables stickiness ({value.strip()})")
        affinity = annotations.get("nginx.ingress.kubernetes.io/affinity")
        if isinstance(affinity, str) and affinity.strip().lower() == "cookie":
            found.append("annotation nginx.ingress.kubernetes.io/affinity=cookie enables sticky sessions")
    if resource_type == K8S_SERVICE and get(props, "spec", "sessionAffinity") == "ClientIP":
        found.append("Service sessionAffinity is ClientIP: each client is pinned to one pod")
    return found


NO_STICKY_SESSIONS = Rule(
    name="no-sticky-sessions",
    description="No sticky sessions on load balancers, listeners, Services or ingresses.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="Stickiness makes one replica's memory the session store; a killed or scaled-in replica "
    "logs its users out or loses their carts, and load spreads unevenly.",
    remediation="Remove the stickiness block / cookie policy / sessionAffinity / stickiness annotation "
    "and keep sessions in Redis or a signed token.",
    resource_types=TARGET_GROUPS
    | LISTENERS
    | LISTENER_RULES
    | ELB_COOKIE_POLICIES
    | ELB_POLICIES
    | K8S_INGRESSES
    | EB_TYPES
    | type_set(GA_LISTENER, K8S_SERVICE),
    check=check_sticky_sessions,
    tags=("statelessness", "load-balancing", "kubernetes"),
)

RULES = (NO_STICKY_SESSIONS,)
