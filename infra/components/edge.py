"""Edge: the Application Load Balancer in front of the app.

Creates: an access-log bucket (a SecureBucket with SSE-S3 and the ELB log-delivery grant); an ALB
that drops invalid header fields and logs every request, internal (private subnets, reachable only
from inside the VPC, e.g. through an API Gateway VPC link) unless `internet_facing` asks for a public
one in the public subnets; a target group health-checking `/readyz` with stickiness explicitly off
(any replica can serve any request); with a certificate, an HTTPS listener on a TLS 1.3/1.2 policy
and an HTTP listener that only redirects to HTTPS; without one (a stack with no domain), a single
plain-HTTP listener. An internet-facing ALB also gets a listener rule answering `/metrics` itself with a
404, so the app's Prometheus text is never served to the internet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components.storage import SecureBucket, SecureBucketArgs
from infra.config import ComputeConfig, EdgeConfig, LoggingConfig, StorageConfig
from infra.lib import iam, limits

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HEALTH_CHECK_PATH = "/readyz"
LOG_PREFIX = "alb"
# Rules are evaluated in priority order before the default action, and a path pattern is case-sensitive
# and may hold `*` (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
# "Path conditions"; listener-update-rules.html). `/metrics*` also covers `/metrics/` and `/metrics/...`.
METRICS_PATTERNS = ("/metrics*",)
METRICS_RULE_PRIORITY = 1



@dataclass(frozen=True, kw_only=True)
class EdgeArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_ids: Sequence[pulumi.Input[str]]
    region: str
    internet_facing: bool = False
    """a public ALB (subnet_ids must then be public subnets); the default keeps it inside the VPC"""
    app_port: int = ComputeConfig().app_port
    certificate_arn: pulumi.Input[str] | None = None
    """the resolved certificate (the stack's certificateArn, or the one found for certificateDomain)"""
    config: EdgeConfig = field(default_factory=EdgeConfig)
    """deletion protection and idle timeout; the app's keep-alive must exceed the latter
    (app_env.keepalive_timeout)"""
    log_retention_days: int = LoggingConfig().retention_days
    # The stack's protectStatefulResources: the access-log bucket holds the audit trail.
    protect_access_logs: bool = False
    disposable: bool = False
    """`pulumi destroy` may delete the access-log bucket with its logs (a disposable stack)"""

    def __post_init__(self) -> None:
        if len(self.subnet_ids) < 2:
            raise ValueError("an ALB needs subnets in at least 2 AZs")
        if not self.security_group_ids:
            raise ValueError("the ALB needs a security group")
        if isinstance(self.certificate_arn, str) and not limits.ACM_CERTIFICATE_ARN.match(self.certificate_arn):
            raise ValueError(f"certificate_arn {self.certificate_arn!r} is not an ACM certificate ARN")
        if not 1024 <= self.app_port <= 65535:
            raise ValueError("app_port must be an unprivileged port")


class Edge(pulumi.ComponentResource):
    dns_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]
    """the ALB's canonical hosted zone, for alias records"""
    url: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    load_balancer_arn: pulumi.Output[str]
    listener_arn: pulumi.Output[str]
    """the listener that forwards to the app (HTTPS with a certificate, else HTTP)"""
    listener_port: int
    access_log_bucket: pulumi.Output[str]

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:edge:Edge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        region = args.region
        logs = SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                sse_algorithm="AES256",
                config=StorageConfig(noncurrent_version_days=1),
                expire_current_days=args.log_retention_days,
                extra_statements=lambda arn: iam.elb_log_delivery_statements(arn, LOG_PREFIX, region),
                force_destroy=args.disposable,
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect_access_logs),
        )

        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=not args.internet_facing,
            subnets=list(args.subnet_ids),
            security_groups=list(args.security_group_ids),
            drop_invalid_header_fields=True,
            desync_mitigation_mode="defensive",
            enable_deletion_protection=args.config.deletion_protection,
            idle_timeout=args.config.idle_timeout_seconds,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=logs.bucket_name, prefix=LOG_PREFIX, enabled=True),
            # The log bucket's policy must be in place or the ALB refuses to enable access logs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]),
        )

        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            port=args.app_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=HEALTH_CHECK_PATH,
                protocol="HTTP",
                port="traffic-port",
                matcher="200",
                # A replica that stops answering (a blocked event loop, a frozen or throttled container)
                # is out of rotation after 2 failed checks: 7-12 s after it froze, instead of 20-30 s
                # with a 10 s interval. 5 s and 2 s are the ALB's smallest interval and timeout, and 2
                # its smallest thresholds (target-group-health-checks.html, "Health check settings"):
                # /readyz answers from memory in about a millisecond, so 2 s is no risk to a healthy one.
                interval=5,
                timeout=2,
                healthy_threshold=2,
                unhealthy_threshold=2,
            ),
            # Sessions live in Redis and tokens are self-contained: pinning clients to a replica
            # would only make scale-in and replica loss visible to users.
            stickiness=aws.lb.TargetGroupStickinessArgs(type="lb_cookie", enabled=False),
            opts=child,
        )
        forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)]

        if args.certificate_arn is not None:
            listener = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=forward,
                opts=child,
            )
            aws.lb.Listener(
                f"{name}-http-redirect",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="redirect",
                        redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                            protocol="HTTPS", port="443", status_code="HTTP_301"
                        ),
                    )
                ],
                opts=child,
            )
            scheme = "https"
        else:
            listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=forward,
                opts=child,
            )
            scheme = "http"

        if args.internet_facing:
            # The app serves /metrics for scrapers inside the VPC; from the internet it would show request
            # counts and latencies per route to anyone.
            aws.lb.ListenerRule(
                f"{name}-metrics-not-public",
                listener_arn=listener.arn,
                priority=METRICS_RULE_PRIORITY,
                conditions=[aws.lb.ListenerRuleConditionArgs(
                    path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=list(METRICS_PATTERNS)),
                )],
                actions=[aws.lb.ListenerRuleActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerRuleActionFixedResponseArgs(
                        content_type="application/json", status_code="404", message_body='{"detail":"Not Found"}',
                    ),
                )],
                opts=child,
            )

        self.dns_name = alb.dns_name
        self.zone_id = alb.zone_id
        self.url = alb.dns_name.apply(lambda dns: f"{scheme}://{dns}")
        self.target_group_arn = target_group.arn
        self.load_balancer_arn = alb.arn
        self.listener_arn = listener.arn
        self.listener_port = 443 if args.certificate_arn is not None else 80
        self.access_log_bucket = logs.bucket_name
        self.register_outputs(
            {
                "url": self.url,
                "dnsName": alb.dns_name,
                "targetGroupArn": target_group.arn,
                "listenerArn": listener.arn,
                "accessLogBucket": logs.bucket_name,
            }
        )
