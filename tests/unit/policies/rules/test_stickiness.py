"""no-sticky-sessions across load balancers, classic ELB, Global Accelerator and Kubernetes."""

import pytest

from policies.rules import UNKNOWN
from policies.rules.stickiness import NO_STICKY_SESSIONS

TG_TYPES = ["aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"]
LISTENER_TYPES = ["aws:lb/listener:Listener", "aws:alb/listener:Listener"]


@pytest.mark.parametrize("tg", TG_TYPES)
def test_target_group_stickiness(tg, via_policy):
    ok = {"port": 80, "protocol": "HTTP"}
    assert via_policy(NO_STICKY_SESSIONS, tg, ok) == []
    assert via_policy(NO_STICKY_SESSIONS, tg, {**ok, "stickiness": {"type": "lb_cookie", "enabled": False}}) == []
    sticky = {**ok, "stickiness": {"type": "lb_cookie", "cookieDuration": 3600}}
    expected = ["target group stickiness is enabled (lb_cookie): sessions get pinned to one instance"]
    assert via_policy(NO_STICKY_SESSIONS, tg, sticky) == expected
    assert NO_STICKY_SESSIONS.evaluate(tg, {**ok, "stickiness": {"type": "source_ip", "enabled": True}}) == [
        "target group stickiness is enabled (source_ip): sessions get pinned to one instance"
    ]


def test_unknown_enabled_is_not_a_violation():
    assert NO_STICKY_SESSIONS.evaluate(TG_TYPES[0], {"stickiness": {"type": "lb_cookie", "enabled": UNKNOWN}}) == []


@pytest.mark.parametrize("listener", LISTENER_TYPES)
def test_listener_forward_stickiness(listener, via_policy):
    forward = {"type": "forward", "forward": {"targetGroups": [{"arn": "tg"}], "stickiness": {"duration": 60}}}
    assert via_policy(NO_STICKY_SESSIONS, listener, {"defaultActions": [forward]}) == []
    forward["forward"]["stickiness"]["enabled"] = True
    assert via_policy(NO_STICKY_SESSIONS, listener, {"defaultActions": [forward]}) == [
        "listener default forward action enables target-group stickiness"
    ]
    rule_type = listener.replace("listener:Listener", "listenerRule:ListenerRule")
    assert via_policy(NO_STICKY_SESSIONS, rule_type, {"actions": [forward]}) == [
        "listener rule forward action enables target-group stickiness"
    ]


def test_classic_elb_cookie_policies(via_policy):
    assert via_policy(
        NO_STICKY_SESSIONS, "aws:elb/loadBalancerCookieStickinessPolicy:LoadBalancerCookieStickinessPolicy", {}
    ) == ["classic ELB load-balancer cookie stickiness policy pins sessions to one instance"]
    assert via_policy(NO_STICKY_SESSIONS, "aws:elb/appCookieStickinessPolicy:AppCookieStickinessPolicy", {}) == [
        "classic ELB application cookie stickiness policy pins sessions to one instance"
    ]
    policy = "aws:elb/loadBalancerPolicy:LoadBalancerPolicy"
    assert via_policy(NO_STICKY_SESSIONS, policy, {"policyTypeName": "LBCookieStickinessPolicyType"}) == [
        "classic ELB policy of type LBCookieStickinessPolicyType pins sessions to one instance"
    ]
    assert via_policy(NO_STICKY_SESSIONS, policy, {"policyTypeName": "SSLNegotiationPolicyType"}) == []


def test_global_accelerator_client_affinity():
    ga = "aws:globalaccelerator/listener:Listener"
    assert NO_STICKY_SESSIONS.evaluate(ga, {"clientAffinity": "NONE"}) == []
    assert NO_STICKY_SESSIONS.evaluate(ga, {"clientAffinity": "SOURCE_IP"}) == [
        "Global Accelerator listener clientAffinity SOURCE_IP pins clients to one endpoint"
    ]


def test_kubernetes_service_affinity(via_policy):
    svc = "kubernetes:core/v1:Service"
    ok = {"spec": {"selector": {"app": "web"}, "sessionAffinity": "None"}}
    assert via_policy(NO_STICKY_SESSIONS, svc, ok) == []
    sticky = {"spec": {"selector": {"app": "web"}, "sessionAffinity": "ClientIP"}}
    assert via_policy(NO_STICKY_SESSIONS, svc, sticky) == [
        "Service sessionAffinity is ClientIP: each client is pinned to one pod"
    ]
    key = "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"
    nlb = {"metadata": {"annotations": {key: "stickiness.enabled=true,stickiness.type=source_ip"}}}
    assert via_policy(NO_STICKY_SESSIONS, svc, nlb) == [
        "annotation service.beta.kubernetes.io/aws-load-balancer-target-group-attributes enables stickiness "
        "(stickiness.enabled=true,stickiness.type=source_ip)"
    ]


@pytest.mark.parametrize(
    "ingress", ["kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:extensions/v1beta1:Ingress"]
)
def test_ingress_annotations(ingress, via_policy):
    key = "alb.ingress.kubernetes.io/target-group-attributes"
    ok = {"metadata": {"annotations": {key: "deregistration_delay.timeout_seconds=30"}}}
    assert via_policy(NO_STICKY_SESSIONS, ingress, ok) == []
    value = "stickiness.enabled=true,stickiness.lb_cookie.duration_seconds=60"
    assert via_policy(NO_STICKY_SESSIONS, ingress, {"metadata": {"annotations": {key: value}}}) == [
        f"annotation {key} enables stickiness ({value})"
    ]
    off = {"metadata": {"annotations": {key: "stickiness.enabled=false"}}}
    assert via_policy(NO_STICKY_SESSIONS, ingress, off) == []
    nginx = {"metadata": {"annotations": {"nginx.ingress.kubernetes.io/affinity": "cookie"}}}
    assert via_policy(NO_STICKY_SESSIONS, ingress, nginx) == [
        "annotation nginx.ingress.kubernetes.io/affinity=cookie enables sticky sessions"
    ]


EB_ENV = "aws:elasticbeanstalk/environment:Environment"
EB_TEMPLATE = "aws:elasticbeanstalk/configurationTemplate:ConfigurationTemplate"
EB_BASE = [
    {"namespace": "aws:autoscaling:asg", "name": "MinSize", "value": "2"},
    {"namespace": "aws:elasticbeanstalk:environment", "name": "LoadBalancerType", "value": "application"},
    {"namespace": "aws:elasticbeanstalk:environment:process:default", "name": "StickinessEnabled", "value": "false"},
    {"namespace": "aws:elb:policies", "name": "Stickiness Policy", "value": "false"},
    {"namespace": "aws:elb:policies", "name": "ConnectionDrainingEnabled", "value": "true"},
]


def _eb(namespace, name, value):
    return {
        "settings": [s for s in EB_BASE if (s["namespace"], s["name"]) != (namespace, name)]
        + [{"namespace": namespace, "name": name, "value": value}]
    }


@pytest.mark.parametrize("eb", [EB_ENV, EB_TEMPLATE])
def test_beanstalk_without_stickiness_passes(eb, via_policy):
    assert via_policy(NO_STICKY_SESSIONS, eb, {"settings": EB_BASE}) == []
    assert via_policy(NO_STICKY_SESSIONS, eb, {}) == []


@pytest.mark.parametrize("eb", [EB_ENV, EB_TEMPLATE])
@pytest.mark.parametrize(
    ("namespace", "name", "value", "message"),
    [
        (
            "aws:elasticbeanstalk:environment:process:default",
            "StickinessEnabled",
            "true",
            "aws:elasticbeanstalk:environment:process:default StickinessEnabled is true: the environment's target "
            "group pins sessions",
        ),
        (
            "aws:elasticbeanstalk:environment:process:api",
            "StickinessEnabled",
            "TRUE",
            "aws:elasticbeanstalk:environment:process:api StickinessEnabled is true: the environment's target "
            "group pins sessions",
        ),
        (
            "aws:elb:policies",
            "Stickiness Policy",
            "true",
            "aws:elb:policies Stickiness Policy is true: the classic load balancer pins sessions",
        ),
        (
            "aws:elb:policies:appsession",
            "CookieName",
            "JSESSIONID",
            "aws:elb:policies:appsession CookieName JSESSIONID: application-controlled stickiness pins sessions",
        ),
    ],
)
def test_beanstalk_stickiness_options(eb, namespace, name, value, message, via_policy):
    assert via_policy(NO_STICKY_SESSIONS, eb, _eb(namespace, name, value)) == [message]


def test_beanstalk_other_options_of_the_same_names_pass(via_policy):
    props = _eb("aws:elasticbeanstalk:environment:process:default", "StickinessType", "lb_cookie")
    assert via_policy(NO_STICKY_SESSIONS, EB_ENV, props) == []
    props = _eb("aws:elb:policies:appsession", "LoadBalancerPorts", "80")
    assert via_policy(NO_STICKY_SESSIONS, EB_ENV, props) == []


@pytest.mark.parametrize(
    "props",
    [
        {"settings": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"},
        _eb(
            "aws:elasticbeanstalk:environment:process:default",
            "StickinessEnabled",
            "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        ),
    ],
)
def test_beanstalk_unknown_stickiness_is_not_judged(props, via_policy):
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError):
        via_policy(NO_STICKY_SESSIONS, EB_ENV, props)


def test_default_enforcement_levels():
    """Mandatory blocks a deployment, advisory only reports: the default is part of the rule's promise."""
    assert NO_STICKY_SESSIONS.enforcement.value == "mandatory"


PROCESS = "aws:elasticbeanstalk:environment:process:default"
STICKY = {"namespace": PROCESS, "name": "StickinessEnabled", "value": "true"}
STICKY_FINDING = f"{PROCESS} StickinessEnabled is true: the environment's target group pins sessions"


def test_stickiness_that_is_not_a_block_is_off(via_policy):
    assert via_policy(NO_STICKY_SESSIONS, TG_TYPES[0], {"stickiness": "enabled"}) == []


def test_stickiness_enabled_without_a_type_is_the_lb_cookie(via_policy):
    assert via_policy(NO_STICKY_SESSIONS, TG_TYPES[0], {"stickiness": {"enabled": True}}) == [
        "target group stickiness is enabled (lb_cookie): sessions get pinned to one instance"
    ]


@pytest.mark.parametrize(
    "odd",
    [
        {"namespace": None, "name": "StickinessEnabled", "value": "true"},
        {"namespace": "aws:elb:policies", "name": None, "value": UNKNOWN},
        {"namespace": PROCESS, "name": "DeregistrationTimeout", "value": "true"},
        {"namespace": "aws:elb:policies:p", "name": "Other", "value": UNKNOWN},
        "not an option",
    ],
)
def test_beanstalk_odd_options_are_skipped_and_later_ones_read(odd, via_policy):
    assert via_policy(NO_STICKY_SESSIONS, EB_ENV, {"settings": [odd]}) == []
    assert via_policy(NO_STICKY_SESSIONS, EB_ENV, {"settings": [odd, STICKY]}) == [STICKY_FINDING]


@pytest.mark.parametrize(
    "option",
    [
        {"namespace": UNKNOWN, "name": "StickinessEnabled", "value": "true"},
        {"namespace": PROCESS, "name": UNKNOWN, "value": "true"},
        {"namespace": "aws:elb:policies:p", "name": "CookieName", "value": UNKNOWN},
    ],
)
def test_beanstalk_option_not_known_names_the_settings(option, via_policy):
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError) as raised:
        via_policy(NO_STICKY_SESSIONS, EB_ENV, {"settings": [option]})
    assert raised.value.props == ["settings"]
