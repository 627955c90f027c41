"""Stack settings, declared once: one frozen dataclass per concern, no Pulumi import.

Each field is declared with `setting(key, type, description, default, checks...)`: the stack key under
the project's namespace, its engine type, what it means, its default and the values it accepts. Everything
else is derived from these declarations: `settings.SCHEMA` (what `load_settings` reads and checks),
`Pulumi.yaml`'s `config:` block and the key table in `infra/README.md` (`python -m infra.settings --write`
renders both; a test keeps the committed files equal to the rendering). Components take these objects
(`DatabaseArgs(config=s.database)`), so a knob has one default and one check.

A concern's checks raise `SettingError(key, problem)`; `settings.parse_settings` turns it into the
`ConfigError` that names the stack file, so the message a user sees is the same whoever built the object.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

from infra.lib import cidr, eks_versions, limits

PROJECT = "stateless-stack"

COMPUTE_MODES = ("asg", "eks")
INGRESS_MODES = ("alb", "apigateway")
WORKER_MODES = ("lambda",)

ConfigType = Literal["string", "integer", "boolean", "array"]


class SettingError(ValueError):
    """One stack key has an unusable value; `problem` reads after the key's name."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key if ':' in key else f'{PROJECT}:{key}'} {problem}")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
_NO_UNSET: Any = object()


@dataclass(frozen=True)
class Key:
    """One config key: its engine type, what it means, its default and what values it accepts."""

    name: str
    type: ConfigType
    description: str
    default: Any = REQUIRED
    choices: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    allowed: tuple[int, ...] | None = None
    pattern: str | None = None
    pattern_hint: str | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def problem(self, value: Any) -> str | None:
        """Why `value` (already of the key's type) is not accepted, or None."""
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(self.choices)} (got {value!r})"
        if self.minimum is not None and value < self.minimum:
            return f"must be ≥ {self.minimum} (got {value})"
        if self.maximum is not None and value > self.maximum:
            return f"must be ≤ {self.maximum} (got {value})"
        if self.allowed is not None and value not in self.allowed:
            return f"must be one of {', '.join(map(str, self.allowed))} (got {value})"
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"must be {self.pattern_hint} (got {value!r})"
        return None


def setting(
    key: str,
    type: ConfigType,
    description: str,
    default: Any = REQUIRED,
    *,
    unset: Any = _NO_UNSET,
    **checks: Any,
) -> Any:
    """A config dataclass field bound to one stack key.

    `unset` is the stack value that means "not set" (an empty string, a 0): the field then holds None,
    which is what the components take.
    """
    declared = Key(key, type, description, default, **checks)
    if default is REQUIRED:
        value: Any = MISSING
    elif unset is not _NO_UNSET and default == unset:
        value = None
    elif isinstance(default, list):
        value = tuple(default)
    else:
        value = default
    metadata = {"key": declared, "unset": unset}
    return field(default=value, metadata=metadata) if value is not MISSING else field(metadata=metadata)


def keys_of(config: type) -> tuple[Key, ...]:
    return tuple(f.metadata["key"] for f in fields(config) if "key" in f.metadata)


def from_values(config: type, values: dict[str, Any]) -> Any:
    """Build `config` from checked stack values (key name → value), mapping "unset" values to None."""
    kwargs: dict[str, Any] = {}
    for f in fields(config):
        if "key" not in f.metadata:
            continue
        value = values[f.metadata["key"].name]
        unset = f.metadata["unset"]
        kwargs[f.name] = None if unset is not _NO_UNSET and value == unset else value
    return config(**kwargs)


def check_fields(config: Any) -> None:
    """The per-key checks (choices, bounds, patterns) for objects built in code rather than parsed."""
    for f in fields(config):
        if "key" not in f.metadata:
            continue
        key: Key = f.metadata["key"]
        value = getattr(config, f.name)
        if value is None or key.type == "array":
            continue
        problem = key.problem(value)
        if problem:
            raise SettingError(key.name, problem)


def _set(obj: Any, name: str, value: Any) -> None:
    # Normalising a derived value in __post_init__ of a frozen dataclass.
    object.__setattr__(obj, name, value)


_INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
INSTANCE_TYPE = re.compile(_INSTANCE_TYPE)


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    environment: str = setting(
        "environment", "string",
        "Short environment label used in resource names and the app's SSM path (lowercase, at most 10 characters).",
        pattern=r"^[a-z]([a-z0-9-]*[a-z0-9])?$", pattern_hint="a lowercase label of at most 10 characters")
    require_multi_az: bool = setting(
        "requireMultiAz", "boolean",
        "This environment must survive the loss of one AZ: the database, the cache and NAT must be "
        "Multi-AZ and the instance group must keep at least 2 instances.", default=False)
    protect_stateful_resources: bool = setting(
        "protectStatefulResources", "boolean",
        "Give the resources that hold state (database, cache, buckets, queues, KMS keys, their secrets) "
        "`protect`, so that no destroy, rename or replacing change deletes them; unprotect them first to "
        "destroy the stack on purpose (README).", default=False)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """The VPC's address plan: explicit subnets, or (all three empty) planned from vpc_cidr."""

    vpc_cidr: str = setting("vpcCidr", "string", "IPv4 CIDR block of the VPC (at least a /24).",
                            default="10.0.0.0/16")
    az_count: int = setting("availabilityZoneCount", "integer", "How many availability zones to spread subnets over.",
                            default=2, minimum=2, maximum=6)
    nat_gateway_per_az: bool = setting(
        "natGatewayPerAz", "boolean",
        "One NAT gateway per AZ (survives an AZ outage) instead of a single shared one.", default=True)
    public_subnets: tuple[str, ...] = setting(
        "publicSubnetCidrs", "array",
        "Explicit public subnet CIDRs, one per AZ; empty plans them from vpcCidr.", default=[])
    app_subnets: tuple[str, ...] = setting(
        "appSubnetCidrs", "array",
        "Explicit private-app subnet CIDRs, one per AZ; empty plans them from vpcCidr.", default=[])
    data_subnets: tuple[str, ...] = setting(
        "dataSubnetCidrs", "array",
        "Explicit private-data subnet CIDRs, one per AZ; empty plans them from vpcCidr.", default=[])

    def __post_init__(self) -> None:
        check_fields(self)
        try:
            plan = cidr.plan_subnets(self.vpc_cidr, self.az_count)
        except cidr.CidrError as exc:
            raise SettingError("vpcCidr", f"is unusable: {exc}") from None
        explicit = {"publicSubnetCidrs": self.public_subnets, "appSubnetCidrs": self.app_subnets,
                    "dataSubnetCidrs": self.data_subnets}
        if any(explicit.values()):
            for name, blocks in explicit.items():
                if len(blocks) != self.az_count:
                    raise SettingError(name, f"must list one CIDR per AZ when any subnet CIDRs are given "
                                       f"(availabilityZoneCount is {self.az_count}, got {len(blocks)})")
            problems = cidr.check_plan(self.vpc_cidr, {k: list(v) for k, v in explicit.items()})
            if problems:
                tier = problems[0].split(":", 1)[0]
                raise SettingError(tier, f"is invalid: {problems[0].split(': ', 1)[1]}")
        else:
            _set(self, "public_subnets", tuple(plan.public))
            _set(self, "app_subnets", tuple(plan.app))
            _set(self, "data_subnets", tuple(plan.data))
        _set(self, "public_subnets", tuple(self.public_subnets))
        _set(self, "app_subnets", tuple(self.app_subnets))
        _set(self, "data_subnets", tuple(self.data_subnets))
        _set(self, "vpc_cidr", plan.vpc)


@dataclass(frozen=True, kw_only=True)
class LoggingConfig:
    retention_days: int = setting(
        "logRetentionDays", "integer",
        "Retention of CloudWatch log groups (VPC flow logs, app logs) and of ALB access logs, in days.",
        default=30, allowed=limits.LOG_RETENTION_DAYS)
    alarm_topic_arn: str | None = setting(
        "alarmTopicArn", "string",
        "SNS topic notified by the stack's alarms (dead-letter queue depth); empty raises alarms without notifying.",
        default="", unset="", pattern=r"^$|" + limits.SNS_TOPIC_ARN.pattern, pattern_hint="an SNS topic ARN or empty")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class EdgeConfig:
    certificate_arn: str | None = setting(
        "certificateArn", "string",
        "ACM certificate ARN for the HTTPS listener; empty (and no certificateDomain) serves plain HTTP only "
        "(dev without a domain).",
        default="", unset="", pattern=r"^$|" + limits.ACM_CERTIFICATE_ARN.pattern,
        pattern_hint="an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>) or empty")
    certificate_domain: str | None = setting(
        "certificateDomain", "string",
        "Domain of an issued ACM certificate in the stack's account and region, looked up at deploy time "
        "instead of naming its ARN (so the stack file holds no account-specific ARN); empty uses certificateArn.",
        default="", unset="", pattern=r"^$|^(\*\.)?(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        pattern_hint="a lowercase DNS name (or *.name) or empty")
    """look the certificate up by domain at deploy time (exclusive with certificate_arn)"""
    deletion_protection: bool = setting("albDeletionProtection", "boolean",
                                        "Protect the load balancer against deletion.", default=True)
    idle_timeout_seconds: int = setting(
        "albIdleTimeoutSeconds", "integer",
        "Load balancer idle timeout in seconds; the app's keep-alive is set 5 s longer.",
        default=60, minimum=1, maximum=4000)

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def has_certificate(self) -> bool:
        return self.certificate_arn is not None or self.certificate_domain is not None


@dataclass(frozen=True, kw_only=True)
class ComputeConfig:
    mode: str = setting("computeMode", "string", "Where the app runs: an EC2 autoscaling group (asg) or EKS (eks).",
                        default="asg", choices=COMPUTE_MODES)
    instance_type: str = setting("instanceType", "string", "EC2 instance type of the app instances.",
                                 default="t3.small", pattern=_INSTANCE_TYPE,
                                 pattern_hint="an EC2 instance type such as t3.small")
    ami_parameter: str = setting("amiParameter", "string", "Public SSM parameter that names the app instances' AMI.",
                                 default="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
                                 pattern=r"^/[A-Za-z0-9_./-]+$", pattern_hint="an SSM parameter path")
    root_volume_size_gb: int = setting(
        "rootVolumeSizeGb", "integer",
        "Size of the (only, encrypted) root volume of app instances and EKS nodes in GiB.",
        default=20, minimum=8, maximum=200)
    min_size: int = setting("asgMinSize", "integer", "Minimum number of app instances.",
                            default=2, minimum=1, maximum=100)
    desired_capacity: int = setting("asgDesiredCapacity", "integer",
                                    "Initial number of app instances (scaling adjusts it).",
                                    default=2, minimum=1, maximum=100)
    max_size: int = setting("asgMaxSize", "integer", "Maximum number of app instances.",
                            default=4, minimum=1, maximum=100)
    cpu_target_percent: int = setting("scalingCpuTargetPercent", "integer",
                                      "Average CPU the target-tracking policy aims for, in percent.",
                                      default=50, minimum=10, maximum=90)
    image_tag: str = setting(
        "appImageTag", "string",
        "Label the app image's tag starts with; `pulumi up` builds the image, tags it <label>-<hash of the "
        "sources> (tags are immutable) and runs it by digest.",
        default="0.1.0", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,115}$", pattern_hint="a container image tag")
    app_port: int = setting("appPort", "integer",
                            "Port the app listens on (APP_PORT; the load balancer's target port).",
                            default=8000, minimum=1024, maximum=65535)

    def __post_init__(self) -> None:
        check_fields(self)
        lo, want, hi = self.min_size, self.desired_capacity, self.max_size
        if lo > hi:
            raise SettingError("asgMinSize", f"must be ≤ asgMaxSize (got {lo} > {hi})")
        if not lo <= want <= hi:
            raise SettingError("asgDesiredCapacity",
                               f"must be between asgMinSize and asgMaxSize (got {want}, allowed {lo}..{hi})")


@dataclass(frozen=True, kw_only=True)
class EksConfig:
    """Read only when computeMode is eks (Settings.eks is None otherwise); settings._eks checks it
    together with requireMultiAz. 0 means "not set" for the node sizes, which computeMode eks requires."""

    kubernetes_version: str = setting(
        "eksKubernetesVersion", "string",
        "Kubernetes version of the EKS cluster (one with a pinned Cluster Autoscaler release, see "
        "infra/lib/eks_versions.py); a version past EKS standard support is accepted with a warning.",
        default=eks_versions.DEFAULT_VERSION, pattern=r"^\d+\.\d+$", pattern_hint="a major.minor version such as 1.35")
    upgrade_policy: str = setting(
        "eksUpgradePolicy", "string",
        "What EKS does when the version leaves standard support: STANDARD upgrades the cluster, EXTENDED keeps it "
        "at the extended-support price (EKS's own default when unset).",
        default="STANDARD", choices=("STANDARD", "EXTENDED"))
    deployer_principal_arn: str = setting(
        "eksDeployerPrincipalArn", "string",
        "The IAM role (or user) that runs `pulumi up` for this stack, given the cluster-admin access entry the "
        "program needs: an ARN, or role/<name> in the stack's account; required when computeMode is eks, and "
        "not also in eksAdminPrincipalArns.", default="")
    node_instance_types: tuple[str, ...] = setting(
        "eksNodeInstanceTypes", "array", "EC2 instance types of the EKS managed node group.", default=["t3.medium"])
    node_min_size: int = setting("eksNodeMinSize", "integer",
                                 "Minimum number of EKS nodes; required (≥ 1) when computeMode is eks.",
                                 default=0, minimum=0, maximum=100)
    node_desired_size: int = setting("eksNodeDesiredSize", "integer",
                                     "Initial number of EKS nodes; 0 starts at eksNodeMinSize.",
                                     default=0, minimum=0, maximum=100)
    node_max_size: int = setting("eksNodeMaxSize", "integer",
                                 "Maximum number of EKS nodes; required (≥ eksNodeMinSize) when computeMode is eks.",
                                 default=0, minimum=0, maximum=100)
    public_access_cidrs: tuple[str, ...] = setting(
        "eksPublicAccessCidrs", "array",
        "Networks (public IPv4, /16 or narrower) allowed to reach the Kubernetes API endpoint from outside "
        "the VPC; empty keeps the endpoint private-only, which needs eksDeployFromVpc.", default=[])
    deploy_from_vpc: bool = setting(
        "eksDeployFromVpc", "boolean",
        "`pulumi up` runs inside the VPC (a runner in the private subnets), so the Kubernetes API endpoint may "
        "be private-only; otherwise eksPublicAccessCidrs must list the deployers' networks.", default=False)
    admin_principal_arns: tuple[str, ...] = setting(
        "eksAdminPrincipalArns", "array",
        "IAM roles or users given cluster-admin access besides eksDeployerPrincipalArn (which gets its own "
        "access entry), e.g. an operator role.", default=[])
    deletion_protection: bool = setting("eksDeletionProtection", "boolean",
                                        "Protect the EKS cluster against deletion.", default=True)
    replicas: int = setting("k8sReplicas", "integer",
                            "Pods of the app on EKS (the Deployment's replicas and the autoscaler's floor).",
                            default=2, minimum=1, maximum=500)
    hpa_min_replicas: int = setting("k8sHpaMinReplicas", "integer", "Autoscaler minimum pods; 0 uses k8sReplicas.",
                                    default=0, minimum=0, maximum=500)
    hpa_max_replicas: int = setting("k8sHpaMaxReplicas", "integer", "Autoscaler maximum pods.",
                                    default=6, minimum=1, maximum=500)
    hpa_cpu_target_percent: int = setting(
        "k8sHpaCpuTargetPercent", "integer", "Average pod CPU the autoscaler aims for, in percent of the request.",
        default=60, minimum=10, maximum=100)

    def __post_init__(self) -> None:
        check_fields(self)
        # The "use the other value" zeros resolve here, so every reader sees the effective count.
        _set(self, "node_desired_size", self.node_desired_size or self.node_min_size)
        _set(self, "hpa_min_replicas", self.hpa_min_replicas or self.replicas)
        _set(self, "node_instance_types", tuple(self.node_instance_types))
        _set(self, "public_access_cidrs", tuple(self.public_access_cidrs))
        _set(self, "admin_principal_arns", tuple(self.admin_principal_arns))


@dataclass(frozen=True, kw_only=True)
class CacheConfig:
    node_type: str = setting("cacheNodeType", "string", "ElastiCache node type.", default="cache.t4g.small",
                             pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$",
                             pattern_hint="an ElastiCache node type such as cache.t4g.small")
    engine_version: str = setting("cacheEngineVersion", "string", "Redis engine version.", default="7.1",
                                  pattern=r"^\d+\.\d+$", pattern_hint="a major.minor version such as 7.1")
    num_nodes: int = setting("cacheNumNodes", "integer", "Number of cache nodes (primary plus replicas).",
                             default=2, minimum=1, maximum=6)
    automatic_failover: bool = setting("cacheAutomaticFailover", "boolean",
                                       "Promote a replica automatically when the primary fails.", default=True)
    multi_az: bool = setting("cacheMultiAz", "boolean", "Place cache replicas in other AZs than the primary.",
                             default=True)
    snapshot_retention_days: int = setting("cacheSnapshotRetentionDays", "integer",
                                           "Days of automatic cache snapshots (0 = none).",
                                           default=1, minimum=0, maximum=35)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.automatic_failover and self.num_nodes < 2:
            raise SettingError("cacheAutomaticFailover", f"needs cacheNumNodes ≥ 2, a replica to fail over to "
                               f"(got {self.num_nodes})")
        if self.multi_az and not self.automatic_failover:
            raise SettingError("cacheMultiAz", "needs cacheAutomaticFailover to be true")


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    instance_class: str = setting("dbInstanceClass", "string", "RDS instance class.", default="db.t4g.medium",
                                  pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
                                  pattern_hint="an RDS instance class such as db.t4g.medium")
    engine_version: str = setting("dbEngineVersion", "string", "PostgreSQL version (major, or major.minor).",
                                  default="16", pattern=r"^\d+(\.\d+)?$", pattern_hint="a version such as 16 or 16.4")
    name: str = setting("dbName", "string", "Name of the app's database.", default="app",
                        pattern=r"^[a-z][a-z0-9_]{0,62}$", pattern_hint="a lowercase identifier")
    allocated_storage_gb: int = setting("dbAllocatedStorageGb", "integer", "Initial database storage in GiB.",
                                        default=20, minimum=20, maximum=65536)
    max_allocated_storage_gb: int = setting("dbMaxAllocatedStorageGb", "integer",
                                            "Ceiling for storage autoscaling in GiB.",
                                            default=100, minimum=20, maximum=65536)
    multi_az: bool = setting("dbMultiAz", "boolean", "Run a synchronous standby in another AZ.", default=True)
    backup_retention_days: int = setting("dbBackupRetentionDays", "integer",
                                         "Days of automated backups (point-in-time recovery).",
                                         default=7, minimum=1, maximum=35)
    deletion_protection: bool = setting("dbDeletionProtection", "boolean", "Protect the database against deletion.",
                                        default=True)
    performance_insights: bool = setting("dbPerformanceInsights", "boolean", "Enable Performance Insights.",
                                         default=False)
    app_password_version: int = setting(
        "dbAppPasswordVersion", "integer",
        "Generation of the app database role's password: raise it to rotate the password (`pulumi up` writes "
        "a new one to the app's secret and the migration runner sets it on the role).",
        default=1, minimum=1, maximum=1000000)
    """bumping it makes a new app-role password (see infra/README.md, rotating the app's password)"""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.allocated_storage_gb > self.max_allocated_storage_gb:
            raise SettingError("dbAllocatedStorageGb", f"must be ≤ dbMaxAllocatedStorageGb "
                               f"(got {self.allocated_storage_gb} > {self.max_allocated_storage_gb})")


@dataclass(frozen=True, kw_only=True)
class QueueConfig:
    max_receive_count: int = setting("queueMaxReceiveCount", "integer",
                                     "Receives before a message moves to the dead-letter queue.",
                                     default=5, minimum=1, maximum=1000)
    visibility_timeout_seconds: int = setting(
        "queueVisibilityTimeoutSeconds", "integer",
        "How long a received message stays hidden (at least 6x workerTimeoutSeconds + workerBatchingWindowSeconds).",
        default=180, minimum=0, maximum=43200)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class WorkerConfig:
    mode: str = setting("workerMode", "string",
                        "Where the order worker runs: a Lambda function fed by the work queue (lambda).",
                        default="lambda", choices=WORKER_MODES)
    timeout_seconds: int = setting("workerTimeoutSeconds", "integer", "Timeout of one worker invocation in seconds.",
                                   default=30, minimum=1, maximum=900)
    memory_mb: int = setting("workerMemoryMb", "integer", "Memory of the worker function in MB.",
                             default=512, minimum=128, maximum=10240)
    reserved_concurrency: int | None = setting(
        "workerReservedConcurrency", "integer",
        "Concurrent worker invocations reserved (and capped) for the function; 0 reserves none (an account at "
        "the default concurrency quota of 10 cannot reserve any).",
        default=0, unset=0, minimum=0, maximum=1000)
    """concurrent executions set aside (and capped) for the worker; None draws from the account's
    unreserved pool, which is what an account still at the default quota of 10 can afford
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html)"""
    max_concurrency: int = setting(
        "workerMaxConcurrency", "integer",
        "Most concurrent worker invocations the queue's event source starts (2-1000; at most "
        "workerReservedConcurrency when that is set).", default=5, minimum=2, maximum=1000)
    """cap on concurrent invocations by the event source: Lambda stops polling above it instead of invoking
    and being throttled, so throttles never count as receives toward the DLQ
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html)"""
    batch_size: int = setting("workerBatchSize", "integer", "Messages handed to one worker invocation.",
                              default=10, minimum=1, maximum=10000)
    batching_window_seconds: int = setting(
        "workerBatchingWindowSeconds", "integer",
        "How long the event source gathers messages before invoking (needed above 10 per batch).",
        default=0, minimum=0, maximum=300)

    def __post_init__(self) -> None:
        reserved, most = self.reserved_concurrency, self.max_concurrency
        if reserved is not None and reserved < 1:
            # 0 stops the function: every delivery is throttled, counts as a receive, and drains to the DLQ.
            raise SettingError("workerReservedConcurrency", f"must be ≥ 1 when set (got {reserved}): 0 would stop "
                               "the worker and send every message to the dead-letter queue; None reserves none")
        check_fields(self)
        if reserved and most > reserved:
            raise SettingError("workerMaxConcurrency", f"must be ≤ workerReservedConcurrency "
                               f"(got {most} > {reserved}): the event source would start invocations the "
                               "reservation throttles, and throttled deliveries count as receives toward the "
                               "dead-letter queue")

    def visibility_problem(self, visibility_timeout_seconds: int) -> str | None:
        """Why a queue with this visibility timeout cannot feed this worker, or None."""
        timeout, window = self.timeout_seconds, self.batching_window_seconds
        need = limits.minimum_visibility_timeout(timeout, window)
        if visibility_timeout_seconds >= need:
            return None
        return (f"must be ≥ 6 x workerTimeoutSeconds + workerBatchingWindowSeconds (got {visibility_timeout_seconds} "
                f"< 6 x {timeout} + {window} = {need}): a message must stay hidden while a slow or throttled "
                "invocation still holds it; raise queueVisibilityTimeoutSeconds or lower workerTimeoutSeconds")

    def batching_problem(self) -> str | None:
        if self.batch_size > 10 and self.batching_window_seconds < 1:
            return f"must be ≥ 1 when workerBatchSize is above 10 (got workerBatchSize {self.batch_size})"
        return None


@dataclass(frozen=True, kw_only=True)
class StorageConfig:
    noncurrent_version_days: int = setting("bucketNoncurrentVersionDays", "integer",
                                           "Days before old object versions are deleted.",
                                           default=30, minimum=1, maximum=3650)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class AppConfig:
    jwt_issuer: str = setting(
        "jwtIssuer", "string",
        "The `iss` claim of the app's tokens; an https URL serving /.well-known/openid-configuration "
        "when ingressMode is apigateway.", default="stateless-stack",
        pattern=r"^\S+$", pattern_hint="a non-empty string without spaces")
    jwt_audience: str = setting("jwtAudience", "string", "The `aud` claim of the app's tokens.",
                                default="stateless-app", pattern=r"^\S+$",
                                pattern_hint="a non-empty string without spaces")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class IngressConfig:
    mode: str = setting(
        "ingressMode", "string",
        "How requests reach the app: an internet-facing ALB (alb), or API Gateway with a JWT authorizer in "
        "front of an internal ALB through a VPC link (apigateway).", default="alb", choices=INGRESS_MODES)
    throttling_burst_limit: int = setting("apiThrottlingBurstLimit", "integer",
                                          "API Gateway burst limit (requests) for the whole stage.",
                                          default=200, minimum=0, maximum=10000)
    throttling_rate_limit: int = setting("apiThrottlingRateLimit", "integer",
                                         "API Gateway steady-state limit (requests per second) for the whole stage.",
                                         default=100, minimum=0, maximum=10000)
    domain_name: str | None = setting(
        "apiDomainName", "string",
        "Custom domain of the API, served with certificateArn; also the name API Gateway verifies on the "
        "internal ALB's certificate, so required when certificateArn is set. Empty (no certificate) uses the "
        "execute-api endpoint.", default="", unset="",
        pattern=r"^$|^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        pattern_hint="a lowercase DNS name or empty")

    def __post_init__(self) -> None:
        check_fields(self)


# ----------------------------------------------------------------------------- release (image, teardown)

DIGEST = r"^sha256:[0-9a-f]{64}$"


@dataclass(frozen=True, kw_only=True)
class ReleaseConfig:
    image_digest: str | None = setting(
        "imageDigest", "string",
        "The app image this stack deploys, by digest (sha256:<64 hex>), already copied into this stack's "
        "repository by the pipeline (the digest the previous stage deployed). Set: the stack builds and pushes "
        "nothing. Empty: `pulumi up` builds the image and pushes it under a content-addressed tag (the first "
        "stack).", default="", unset="", pattern=r"^$|" + DIGEST, pattern_hint="sha256:<64 hex> or empty")
    disposable: bool = setting(
        "disposable", "boolean",
        "`pulumi destroy` may delete the stack's buckets and image repository with their contents "
        "(force_destroy, force_delete). For stacks whose data nobody keeps (dev); never in staging or prod.",
        default=False)
    hosted_zone_id: str | None = setting(
        "hostedZoneId", "string",
        "Route 53 public hosted zone that holds the stack's domain (certificateDomain, or apiDomainName with "
        "apigateway): the program creates the alias record, and appUrl is https://<domain>. Empty: no record, "
        "DNS is managed elsewhere.", default="", unset="",
        pattern=r"^$|^Z[A-Z0-9]{1,31}$", pattern_hint="a hosted zone id such as Z0123456789ABCDEFGHIJ or empty")

    def __post_init__(self) -> None:
        check_fields(self)


# The concerns in the order their keys are declared in Pulumi.yaml and documented in infra/README.md.
CONCERNS: tuple[type, ...] = (
    StackConfig, ComputeConfig, IngressConfig, WorkerConfig, NetworkConfig, LoggingConfig, EdgeConfig,
    EksConfig, CacheConfig, DatabaseConfig, QueueConfig, StorageConfig, AppConfig, ReleaseConfig,
)
