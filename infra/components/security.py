"""Security groups that chain the tiers: internet → load balancer → app → cache / database.

Creates: four security groups (alb, app, cache, db) and one rule resource per allowed flow:
- alb: ingress 443 and 80 from anywhere; egress only to the app group on the app port;
- app: ingress only from the alb group on the app port; egress to the cache and db groups on their
  ports and HTTPS out (through NAT) to AWS APIs and the image registry;
- cache / db: ingress only from the app group on their port; no egress at all.
Groups are created without inline rules, so AWS's default allow-all egress is removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

ANYWHERE = "0.0.0.0/0"


def _flow(kind: type[aws.vpc.SecurityGroupIngressRule] | type[aws.vpc.SecurityGroupEgressRule], name: str,
          group_id: pulumi.Input[str], port: pulumi.Input[int], peer: pulumi.Input[str] | None, cidr: str | None,
          description: str, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    # One TCP port per rule, to a peer group or a CIDR: the shape of every flow in the stack.
    if (peer is None) == (cidr is None):
        raise ValueError(f"{name}: a flow names exactly one peer, a security group or a CIDR")
    return kind(
        name,
        security_group_id=group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=peer,
        cidr_ipv4=cidr,
        description=description,
        opts=opts,
    )


def flow_in(name: str, group_id: pulumi.Input[str], port: pulumi.Input[int], *,
            source: pulumi.Input[str] | None = None, cidr: str | None = None, description: str,
            opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Let `group_id` accept TCP `port` from the `source` group (or a CIDR)."""
    return _flow(aws.vpc.SecurityGroupIngressRule, name, group_id, port, source, cidr, description, opts)


def flow_out(name: str, group_id: pulumi.Input[str], port: pulumi.Input[int], *,
             target: pulumi.Input[str] | None = None, cidr: str | None = None, description: str,
             opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Let `group_id` open TCP `port` to the `target` group (or a CIDR)."""
    return _flow(aws.vpc.SecurityGroupEgressRule, name, group_id, port, target, cidr, description, opts)


@dataclass(frozen=True, kw_only=True)
class SecurityArgs:
    vpc_id: pulumi.Input[str]
    app_port: int = 8000
    redis_port: int = 6379
    postgres_port: int = 5432
    public_ports: tuple[int, ...] = (443, 80)

    def __post_init__(self) -> None:
        for port in (self.app_port, self.redis_port, self.postgres_port, *self.public_ports):
            if not 1 <= port <= 65535:
                raise ValueError(f"{port} is not a TCP port")
        if set(self.public_ports) - {80, 443}:
            raise ValueError("only ports 80 and 443 may face the internet")
        if self.app_port in self.public_ports:
            raise ValueError("the app port must differ from the public ports")


class Security(pulumi.ComponentResource):
    alb_sg_id: pulumi.Output[str]
    app_sg_id: pulumi.Output[str]
    cache_sg_id: pulumi.Output[str]
    db_sg_id: pulumi.Output[str]

    def __init__(self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:security:Security", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def group(role: str, description: str) -> aws.ec2.SecurityGroup:
            return aws.ec2.SecurityGroup(
                f"{name}-{role}",
                vpc_id=args.vpc_id,
                description=description,
                revoke_rules_on_delete=True,
                tags={"Name": f"{name}-{role}"},
                opts=child,
            )

        alb = group("alb", "Load balancer: HTTPS/HTTP from the internet, to the app only")
        app = group("app", "App instances: from the load balancer only")
        cache = group("cache", "Redis: from the app only")
        db = group("db", "PostgreSQL: from the app only")

        def ingress(role: str, sg: aws.ec2.SecurityGroup, port: int, *, source: aws.ec2.SecurityGroup | None = None,
                    cidr: str | None = None, description: str) -> None:
            flow_in(f"{name}-{role}", sg.id, port, source=source.id if source is not None else None, cidr=cidr,
                    description=description, opts=child)

        def egress(role: str, sg: aws.ec2.SecurityGroup, port: int, *, target: aws.ec2.SecurityGroup | None = None,
                   cidr: str | None = None, description: str) -> None:
            flow_out(f"{name}-{role}", sg.id, port, target=target.id if target is not None else None, cidr=cidr,
                     description=description, opts=child)

        for port in args.public_ports:
            ingress(f"alb-in-{port}", alb, port, cidr=ANYWHERE, description=f"public traffic on {port}")
        egress("alb-out-app", alb, args.app_port, target=app, description="forward to the app")

        ingress("app-in-alb", app, args.app_port, source=alb, description="from the load balancer")
        egress("app-out-cache", app, args.redis_port, target=cache, description="to Redis")
        egress("app-out-db", app, args.postgres_port, target=db, description="to PostgreSQL")
        # AWS APIs (S3, SQS, Secrets Manager, SSM, ECR, CloudWatch) are HTTPS endpoints reached via NAT.
        egress("app-out-https", app, 443, cidr=ANYWHERE, description="HTTPS to AWS APIs")

        ingress("cache-in-app", cache, args.redis_port, source=app, description="from the app")
        ingress("db-in-app", db, args.postgres_port, source=app, description="from the app")

        self.alb_sg_id = alb.id
        self.app_sg_id = app.id
        self.cache_sg_id = cache.id
        self.db_sg_id = db.id
        self.register_outputs(
            {"albSgId": alb.id, "appSgId": app.id, "cacheSgId": cache.id, "dbSgId": db.id}
        )
