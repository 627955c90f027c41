"""Compute (autoscaling group): the app on EC2 instances that can be replaced at any moment.

Creates: a CloudWatch log group for the container's logs; an instance role with the SSM core managed policy,
the web tier's one grant (`iam.web_app_policy`, the same document the EKS pods get) and the host's own
needs (`iam.instance_host_policy`: the config parameter, the image, the log group); an instance profile;
a launch template (IMDSv2 only with hop limit 1, one encrypted gp3 root volume and no other block
device, no public IP, user data that runs the image by digest with its configuration read from SSM at
boot); an autoscaling group over the private-app subnets with ELB health checks and an instance refresh
that launches before it terminates (min healthy 100 %, max healthy 200 %); its attachment to the load
balancer's target group; a target-tracking scaling policy on average CPU.

ELB health checks are safe here because the target group checks `/readyz`, which reports only the
instance's own state (started, pools open, not draining) and never a dependency: a database failover
makes requests fail with 503, it never makes the group replace its instances.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.config import ComputeConfig, LoggingConfig
from infra.lib import iam, limits, user_data

SSM_CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
ROOT_DEVICE = "/dev/xvda"


@dataclass(frozen=True, kw_only=True)
class ComputeAsgArgs:
    region: str
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_ids: Sequence[pulumi.Input[str]]
    target_group_arn: pulumi.Input[str]
    env_parameter_name: pulumi.Input[str]
    env_parameter_arn: pulumi.Input[str]
    secret_arns: Sequence[pulumi.Input[str]]
    """the secrets the web app reads: its database role's secret and the Redis AUTH token"""
    signing_key_arn: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    # The image by digest (`<repository url>@sha256:...`) and the repository it lives in.
    image: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    environment: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None
    """the app's environment, the value of the SSM parameter; its digest goes into the user data so every
    change of it makes a new launch template version and so an instance refresh"""
    config: ComputeConfig = field(default_factory=ComputeConfig)
    """instance type, AMI, root volume, group sizes and CPU target (the stack's asg keys)"""
    log_retention_days: int = LoggingConfig().retention_days
    health_check_grace_seconds: int = 180
    """time for a new instance to install Docker, pull the image and pass /readyz before ELB health counts"""
    refresh_min_healthy_percent: int = 100
    refresh_max_healthy_percent: int = 200

    def __post_init__(self) -> None:
        if len(self.subnet_ids) < 2:
            raise ValueError("the autoscaling group needs subnets in at least 2 AZs")
        if not self.security_group_ids:
            raise ValueError("app instances need a security group")
        if not self.secret_arns:
            raise ValueError("secret_arns must list the secrets the app reads")
        limits.check_log_retention(self.log_retention_days)
        if not 60 <= self.health_check_grace_seconds <= 900:
            raise ValueError("health_check_grace_seconds must be between 60 and 900: shorter replaces instances "
                             "that are still pulling the image")
        lo, hi = self.refresh_min_healthy_percent, self.refresh_max_healthy_percent
        # AWS: max 100..200, min 0..100, and they may differ by at most 100; min 100 needs max > 100
        # (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html).
        if not (0 <= lo <= 100 and 100 <= hi <= 200 and hi - lo <= 100):
            raise ValueError(f"instance refresh needs 0 ≤ min ≤ 100 ≤ max ≤ 200 and max - min ≤ 100 (got {lo}, {hi})")
        if lo < 100:
            raise ValueError(f"instance refresh min healthy {lo} % terminates instances before their replacements "
                             "serve: keep 100 (launch before terminate)")
        if hi <= lo:
            raise ValueError("instance refresh max healthy must exceed min healthy, or nothing can be launched first")


class ComputeAsg(pulumi.ComponentResource):
    group_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ComputeAsgArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:compute_asg:ComputeAsg", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Pulumi does not hand a component's dependencies to its children; the group must not launch
        # instances before them (e.g. the migration that creates the app's database role).
        waits_for = opts.depends_on if opts is not None else None

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", retention_in_days=args.log_retention_days, opts=child
        )

        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(iam.assume_role_policy("ec2.amazonaws.com")),
            opts=child,
        )
        # Session Manager replaces SSH: no key pair, no port 22, every session audited.
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm-core", role=role.name, policy_arn=SSM_CORE_POLICY, opts=child
        )

        aws.iam.RolePolicy(
            f"{name}-app",
            role=role.id,
            policy=pulumi.Output.all(
                args.bucket_arn, args.queue_arn, args.signing_key_arn, pulumi.Output.all(*args.secret_arns),
            ).apply(lambda v: json.dumps(iam.web_app_policy(
                bucket_arn=v[0], queue_arn=v[1], signing_key_arn=v[2], secret_arns=v[3],
            ))),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-host",
            role=role.id,
            policy=pulumi.Output.all(args.env_parameter_arn, log_group.arn, args.repository_arn).apply(
                lambda v: json.dumps(iam.instance_host_policy(parameter_arns=[v[0]], log_group_arn=v[1],
                                                              repository_arn=v[2]))
            ),
            opts=child,
        )
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=child)

        region = args.region
        digest: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        if args.environment is not None:
            digest = pulumi.Output.from_input(args.environment).apply(user_data.environment_digest)
        script = pulumi.Output.all(args.image, args.env_parameter_name, log_group.name, digest).apply(
            lambda v: base64.b64encode(
                user_data.render_user_data(region=region, image=v[0], parameter_name=v[1], log_group=v[2],
                                           environment_digest=v[3]).encode()
            ).decode()
        )

        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description="stateless app instance",
            # Resolved by EC2 at launch from AWS's public parameter, so each instance refresh
            # picks up the latest patched AMI without the program looking it up.
            image_id=f"resolve:ssm:{args.config.ami_parameter}",
            instance_type=args.config.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            # The root volume is the only disk: instances hold nothing worth keeping.
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.config.root_volume_size_gb,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    associate_public_ip_address="false",
                    delete_on_termination="true",
                    security_groups=list(args.security_group_ids),
                )
            ],
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            user_data=script,
            update_default_version=True,
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags={"Name": f"{name}-app"})
                for kind in ("instance", "volume", "network-interface")
            ],
            # A new version (new image) only once the migration ran: a failed one leaves the template, and
            # so every instance the group launches, on the old image.
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits_for),
        )

        group = aws.autoscaling.Group(
            f"{name}-asg",
            vpc_zone_identifiers=list(args.subnet_ids),
            min_size=args.config.min_size,
            max_size=args.config.max_size,
            desired_capacity=args.config.desired_capacity,
            # Replaced only for their own failure: /readyz never reflects a dependency (see module doc).
            health_check_type="ELB",
            health_check_grace_period=args.health_check_grace_seconds,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                # Launch before terminate: capacity never dips below the desired count during a rollout.
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=args.refresh_min_healthy_percent,
                    max_healthy_percentage=args.refresh_max_healthy_percent,
                    instance_warmup=str(args.health_check_grace_seconds),
                ),
            ),
            default_instance_warmup=args.health_check_grace_seconds,
            termination_policies=["OldestLaunchTemplate", "OldestInstance"],
            enabled_metrics=[
                aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
                aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
                aws.autoscaling.Metric.GROUP_TOTAL_INSTANCES,
            ],
            tags=[aws.autoscaling.GroupTagArgs(key="Name", value=f"{name}-app", propagate_at_launch=True)],
            # The scaling policy owns the desired capacity once the group exists; re-applying the
            # configured value on every update would undo scaling decisions. Instances start only once
            # what the component waits for (the database migration) is done.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"], depends_on=waits_for),
        )
        aws.autoscaling.Attachment(
            f"{name}-tg-attachment",
            autoscaling_group_name=group.name,
            lb_target_group_arn=args.target_group_arn,
            opts=child,
        )
        aws.autoscaling.Policy(
            f"{name}-cpu-tracking",
            autoscaling_group_name=group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                target_value=float(args.config.cpu_target_percent),
                predefined_metric_specification=(
                    aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type="ASGAverageCPUUtilization"
                    )
                ),
            ),
            opts=child,
        )

        self.group_name = group.name
        self.role_arn = role.arn
        self.register_outputs(
            {"groupName": group.name, "roleArn": role.arn}
        )
