"""Network: the VPC and everything that routes inside it.

Creates: a VPC; per AZ a public, a private-app and a private-data subnet; an internet gateway; NAT
gateways with Elastic IPs (one shared, or one per AZ); route tables (public → internet gateway,
app → NAT, data → nowhere outside the VPC); an S3 gateway endpoint on the app route tables; the VPC's
default security group emptied of all rules; VPC flow logs to a CloudWatch log group with retention,
written through a dedicated IAM role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components.context import aws_context
from infra.config import LoggingConfig, NetworkConfig
from infra.lib import iam, limits


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    config: NetworkConfig = field(default_factory=NetworkConfig)
    """the VPC's address plan (explicit subnets, or planned from vpc_cidr) and the NAT layout"""
    flow_log_retention_days: int = LoggingConfig().retention_days

    def __post_init__(self) -> None:
        if not limits.is_log_retention(self.flow_log_retention_days):
            raise ValueError(f"{self.flow_log_retention_days} is not a CloudWatch Logs retention period")


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    app_subnet_ids: list[pulumi.Output[str]]
    data_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:network:Network", name, None, opts)
        plan = args.config
        child = pulumi.ResourceOptions(parent=self)

        zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self)).names
        if len(zones) < plan.az_count:
            raise ValueError(f"the region has {len(zones)} available AZs; {plan.az_count} were asked for")
        zones = sorted(zones)[: plan.az_count]

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=plan.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )

        # Taking over the default security group with no rules leaves it denying everything, so
        # nothing that lands in it by accident can talk to anything.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            tags={"Name": f"{name}-default-sg-locked"},
            opts=child,
        )

        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{name}-igw"}, opts=child
        )

        def subnets(tier: str, cidrs: tuple[str, ...]) -> list[aws.ec2.Subnet]:
            return [
                aws.ec2.Subnet(
                    f"{name}-{tier}-{i}",
                    vpc_id=vpc.id,
                    cidr_block=block,
                    availability_zone=zone,
                    # No subnet hands out public addresses: the load balancer and NAT gateways
                    # get theirs explicitly, instances never get one.
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{name}-{tier}-{zone}", "tier": tier},
                    opts=child,
                )
                for i, (block, zone) in enumerate(zip(cidrs, zones, strict=True))
            ]

        public = subnets("public", plan.public_subnets)
        app = subnets("app", plan.app_subnets)
        data = subnets("data", plan.data_subnets)

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={"Name": f"{name}-public-rt"},
            opts=child,
        )
        for i, subnet in enumerate(public):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{i}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
            )

        nat_count = plan.az_count if plan.nat_gateway_per_az else 1
        nats = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(f"{name}-nat-eip-{i}", domain="vpc", tags={"Name": f"{name}-nat-{i}"}, opts=child)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.allocation_id,
                    subnet_id=public[i].id,
                    connectivity_type="public",
                    tags={"Name": f"{name}-nat-{i}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        app_tables = []
        for i, subnet in enumerate(app):
            nat = nats[i % nat_count]
            rt = aws.ec2.RouteTable(
                f"{name}-app-rt-{i}",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={"Name": f"{name}-app-rt-{i}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-app-rta-{i}", subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
            app_tables.append(rt)

        # S3 traffic from the app tier (receipts, and the image layers ECR serves from S3) takes the
        # gateway endpoint instead of the NAT: no NAT processing charge per GB, and no hourly charge for
        # the endpoint (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html). The
        # endpoint adds a route for S3's prefix list to each table; the default policy allows everything
        # (bucket policies still decide). The data tier stays without any route out.
        where = aws_context(self)
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=where.region.apply(lambda region: f"com.amazonaws.{region}.s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in app_tables],
            tags={"Name": f"{name}-s3"},
            opts=child,
        )

        # The data tier only answers the app tier; with no route out, a compromised database or
        # cache node cannot reach the internet either.
        data_rt = aws.ec2.RouteTable(
            f"{name}-data-rt", vpc_id=vpc.id, tags={"Name": f"{name}-data-rt"}, opts=child
        )
        for i, subnet in enumerate(data):
            aws.ec2.RouteTableAssociation(
                f"{name}-data-rta-{i}", subnet_id=subnet.id, route_table_id=data_rt.id, opts=child
            )

        flow_log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=args.flow_log_retention_days,
            opts=child,
        )
        # The flow-logs service may assume the role only for this account's flow logs (confused deputy):
        # https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
        flow_role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=pulumi.Output.all(where.account_id, where.partition, where.region).apply(
                lambda v: json.dumps(iam.assume_role_policy(
                    "vpc-flow-logs.amazonaws.com",
                    source_account=v[0],
                    source_arn=f"arn:{v[1]}:ec2:{v[2]}:{v[0]}:vpc-flow-log/*",
                ))
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=flow_role.id,
            policy=flow_log_group.arn.apply(lambda arn: json.dumps(iam.flow_logs_policy(arn))),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=flow_log_group.arn,
            iam_role_arn=flow_role.arn,
            max_aggregation_interval=60,
            opts=child,
        )

        self.vpc_id = vpc.id
        self.vpc_cidr = plan.vpc_cidr
        self.availability_zones = zones
        self.public_subnet_ids = [s.id for s in public]
        self.app_subnet_ids = [s.id for s in app]
        self.data_subnet_ids = [s.id for s in data]
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "appSubnetIds": self.app_subnet_ids,
                "dataSubnetIds": self.data_subnet_ids,
            }
        )
