"""Stack settings: the only place that reads `pulumi.Config`.

`load_settings()` reads every key the program knows (declared with type, description and default in
`Pulumi.yaml`, mirrored by `SCHEMA` here), checks them all before any resource exists, and returns
one frozen `Settings`. Bad input raises `ConfigError` with one message naming the stack file and
the key, e.g. `stacks/Pulumi.prod.yaml: stateless-stack:asgMinSize must be ≤ asgMaxSize (got 4 > 2)`.

Environments differ only by values in their stack files; requirements such as "this stack must be
Multi-AZ" are themselves values (`requireMultiAz`), never a test on the stack's name.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from infra.lib import cidr, naming

PROJECT = "stateless-stack"
STACK_CONFIG_DIR = "stacks"

COMPUTE_MODES = ("asg", "eks")
INGRESS_MODES = ("alb", "apigateway")
WORKER_MODES = ("lambda",)
# The modes this program can build today; the one place to widen when a mode lands.
IMPLEMENTED_COMPUTE_MODES = frozenset(COMPUTE_MODES)

# The app's preStop drain uses the Kubernetes sleep action, on by default from 1.30.
MIN_KUBERNETES_VERSION = (1, 30)
# The broadest network allowed to reach a public Kubernetes API endpoint.
MIN_PUBLIC_ACCESS_PREFIX = 16
# AWS's rule for SQS event sources: a message stays hidden for 6 function timeouts plus the batching window.
VISIBILITY_TO_TIMEOUT_RATIO = 6
# The account AWS's documentation uses in example ARNs; a stack that names it cannot deploy.
DOCUMENTATION_ACCOUNT = "111122223333"
# Keys this program no longer reads, and what replaced them.
REMOVED_KEYS = {
    "workerLayerArn": "is no longer used: the worker runs the app image as a container-image function "
                      "(one image for web and worker, built by `pulumi up`); remove the key from the stack file",
}

# The values CloudWatch Logs accepts for retention_in_days.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)

ConfigType = Literal["string", "integer", "boolean", "array"]


class ConfigError(ValueError):
    """A stack's configuration cannot be used; the message names the stack file and the key."""

    def __init__(self, stack_file: str, key: str, problem: str) -> None:
        self.stack_file = stack_file
        self.key = key
        self.problem = problem
        super().__init__(f"{stack_file}: {key} {problem}")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


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


_INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"

SCHEMA: tuple[Key, ...] = (
    # --- environment
    Key("environment", "string",
        "Short environment label used in resource names and the app's SSM path (lowercase, at most 10 characters).",
        pattern=r"^[a-z]([a-z0-9-]*[a-z0-9])?$", pattern_hint="a lowercase label of at most 10 characters"),
    Key("requireMultiAz", "boolean",
        "This environment must survive the loss of one AZ: the database, the cache and NAT must be "
        "Multi-AZ and the instance group must keep at least 2 instances.", default=False),
    Key("computeMode", "string", "Where the app runs: an EC2 autoscaling group (asg) or EKS (eks).",
        default="asg", choices=COMPUTE_MODES),
    Key("ingressMode", "string",
        "How requests reach the app: an internet-facing ALB (alb), or API Gateway with a JWT authorizer in "
        "front of an internal ALB through a VPC link (apigateway).", default="alb", choices=INGRESS_MODES),
    Key("workerMode", "string", "Where the order worker runs: a Lambda function fed by the work queue (lambda).",
        default="lambda", choices=WORKER_MODES),
    # --- network
    Key("vpcCidr", "string", "IPv4 CIDR block of the VPC (at least a /24).", default="10.0.0.0/16"),
    Key("availabilityZoneCount", "integer", "How many availability zones to spread subnets over.",
        default=2, minimum=2, maximum=6),
    Key("natGatewayPerAz", "boolean",
        "One NAT gateway per AZ (survives an AZ outage) instead of a single shared one.", default=True),
    Key("publicSubnetCidrs", "array",
        "Explicit public subnet CIDRs, one per AZ; empty plans them from vpcCidr.", default=[]),
    Key("appSubnetCidrs", "array",
        "Explicit private-app subnet CIDRs, one per AZ; empty plans them from vpcCidr.", default=[]),
    Key("dataSubnetCidrs", "array",
        "Explicit private-data subnet CIDRs, one per AZ; empty plans them from vpcCidr.", default=[]),
    # --- logging
    Key("logRetentionDays", "integer",
        "Retention of CloudWatch log groups (VPC flow logs, app logs) and of ALB access logs, in days.",
        default=30, allowed=LOG_RETENTION_DAYS),
    Key("alarmTopicArn", "string",
        "SNS topic notified by the stack's alarms (dead-letter queue depth); empty raises alarms without notifying.",
        default="", pattern=r"^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$",
        pattern_hint="an SNS topic ARN or empty"),
    # --- edge
    Key("certificateArn", "string",
        "ACM certificate ARN for the HTTPS listener; empty (and no certificateDomain) serves plain HTTP only "
        "(dev without a domain).",
        default="", pattern=r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$",
        pattern_hint="an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>) or empty"),
    Key("certificateDomain", "string",
        "Domain of an issued ACM certificate in the stack's account and region, looked up at deploy time "
        "instead of naming its ARN (so the stack file holds no account-specific ARN); empty uses certificateArn.",
        default="", pattern=r"^$|^(\*\.)?(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        pattern_hint="a lowercase DNS name (or *.name) or empty"),
    Key("albDeletionProtection", "boolean", "Protect the load balancer against deletion.", default=True),
    Key("albIdleTimeoutSeconds", "integer",
        "Load balancer idle timeout in seconds; the app's keep-alive is set 5 s longer.",
        default=60, minimum=1, maximum=4000),
    # --- compute (asg)
    Key("instanceType", "string", "EC2 instance type of the app instances.", default="t3.small",
        pattern=_INSTANCE_TYPE, pattern_hint="an EC2 instance type such as t3.small"),
    Key("amiParameter", "string", "Public SSM parameter that names the app instances' AMI.",
        default="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        pattern=r"^/[A-Za-z0-9_./-]+$", pattern_hint="an SSM parameter path"),
    Key("rootVolumeSizeGb", "integer",
        "Size of the (only, encrypted) root volume of app instances and EKS nodes in GiB.",
        default=20, minimum=8, maximum=200),
    Key("asgMinSize", "integer", "Minimum number of app instances.", default=2, minimum=1, maximum=100),
    Key("asgDesiredCapacity", "integer", "Initial number of app instances (scaling adjusts it).",
        default=2, minimum=1, maximum=100),
    Key("asgMaxSize", "integer", "Maximum number of app instances.", default=4, minimum=1, maximum=100),
    Key("scalingCpuTargetPercent", "integer", "Average CPU the target-tracking policy aims for, in percent.",
        default=50, minimum=10, maximum=90),
    Key("appImageTag", "string",
        "Label the app image's tag starts with; `pulumi up` builds the image, tags it <label>-<hash of the "
        "sources> (tags are immutable) and runs it by digest.",
        default="0.1.0", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,115}$", pattern_hint="a container image tag"),
    Key("appPort", "integer", "Port the app listens on (APP_PORT; the load balancer's target port).",
        default=8000, minimum=1024, maximum=65535),
    # --- compute (eks); 0 means "not set" for the sizes, which computeMode eks requires
    Key("eksKubernetesVersion", "string", "Kubernetes version of the EKS cluster (1.30 or newer).",
        default="1.33", pattern=r"^\d+\.\d+$", pattern_hint="a major.minor version such as 1.33"),
    Key("eksNodeInstanceTypes", "array", "EC2 instance types of the EKS managed node group.",
        default=["t3.medium"]),
    Key("eksNodeMinSize", "integer", "Minimum number of EKS nodes; required (≥ 1) when computeMode is eks.",
        default=0, minimum=0, maximum=100),
    Key("eksNodeDesiredSize", "integer", "Initial number of EKS nodes; 0 starts at eksNodeMinSize.",
        default=0, minimum=0, maximum=100),
    Key("eksNodeMaxSize", "integer",
        "Maximum number of EKS nodes; required (≥ eksNodeMinSize) when computeMode is eks.",
        default=0, minimum=0, maximum=100),
    Key("eksPublicAccessCidrs", "array",
        "Networks (public IPv4, /16 or narrower) allowed to reach the Kubernetes API endpoint from outside "
        "the VPC; empty keeps the endpoint private-only, which needs eksDeployFromVpc.", default=[]),
    Key("eksDeployFromVpc", "boolean",
        "`pulumi up` runs inside the VPC (a runner in the private subnets), so the Kubernetes API endpoint may "
        "be private-only; otherwise eksPublicAccessCidrs must list the deployers' networks.", default=False),
    Key("eksAdminPrincipalArns", "array",
        "IAM roles or users given cluster-admin access besides the identity that runs `pulumi up` (which gets "
        "its own access entry), e.g. the other environments' CI roles or an operator role.", default=[]),
    Key("eksDeletionProtection", "boolean", "Protect the EKS cluster against deletion.", default=True),
    Key("k8sReplicas", "integer",
        "Pods of the app on EKS (the Deployment's replicas and the autoscaler's floor).",
        default=2, minimum=1, maximum=500),
    Key("k8sHpaMinReplicas", "integer", "Autoscaler minimum pods; 0 uses k8sReplicas.",
        default=0, minimum=0, maximum=500),
    Key("k8sHpaMaxReplicas", "integer", "Autoscaler maximum pods.", default=6, minimum=1, maximum=500),
    Key("k8sHpaCpuTargetPercent", "integer", "Average pod CPU the autoscaler aims for, in percent of the request.",
        default=60, minimum=10, maximum=100),
    # --- cache
    Key("cacheNodeType", "string", "ElastiCache node type.", default="cache.t4g.small",
        pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$", pattern_hint="an ElastiCache node type such as cache.t4g.small"),
    Key("cacheEngineVersion", "string", "Redis engine version.", default="7.1",
        pattern=r"^\d+\.\d+$", pattern_hint="a major.minor version such as 7.1"),
    Key("cacheNumNodes", "integer", "Number of cache nodes (primary plus replicas).",
        default=2, minimum=1, maximum=6),
    Key("cacheAutomaticFailover", "boolean", "Promote a replica automatically when the primary fails.",
        default=True),
    Key("cacheMultiAz", "boolean", "Place cache replicas in other AZs than the primary.", default=True),
    Key("cacheSnapshotRetentionDays", "integer", "Days of automatic cache snapshots (0 = none).",
        default=1, minimum=0, maximum=35),
    # --- database
    Key("dbInstanceClass", "string", "RDS instance class.", default="db.t4g.medium",
        pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$", pattern_hint="an RDS instance class such as db.t4g.medium"),
    Key("dbEngineVersion", "string", "PostgreSQL version (major, or major.minor).", default="16",
        pattern=r"^\d+(\.\d+)?$", pattern_hint="a version such as 16 or 16.4"),
    Key("dbName", "string", "Name of the app's database.", default="app",
        pattern=r"^[a-z][a-z0-9_]{0,62}$", pattern_hint="a lowercase identifier"),
    Key("dbAllocatedStorageGb", "integer", "Initial database storage in GiB.",
        default=20, minimum=20, maximum=65536),
    Key("dbMaxAllocatedStorageGb", "integer", "Ceiling for storage autoscaling in GiB.",
        default=100, minimum=20, maximum=65536),
    Key("dbMultiAz", "boolean", "Run a synchronous standby in another AZ.", default=True),
    Key("dbBackupRetentionDays", "integer", "Days of automated backups (point-in-time recovery).",
        default=7, minimum=1, maximum=35),
    Key("dbDeletionProtection", "boolean", "Protect the database against deletion.", default=True),
    Key("dbPerformanceInsights", "boolean", "Enable Performance Insights.", default=False),
    Key("dbAppPasswordVersion", "integer",
        "Generation of the app database role's password: raise it to rotate the password (`pulumi up` writes "
        "a new one to the app's secret and the migration runner sets it on the role).",
        default=1, minimum=1, maximum=1000000),
    # --- queue
    Key("queueMaxReceiveCount", "integer", "Receives before a message moves to the dead-letter queue.",
        default=5, minimum=1, maximum=1000),
    Key("queueVisibilityTimeoutSeconds", "integer",
        "How long a received message stays hidden (at least 6x workerTimeoutSeconds + workerBatchingWindowSeconds).",
        default=180, minimum=0, maximum=43200),
    # --- worker (lambda)
    Key("workerTimeoutSeconds", "integer", "Timeout of one worker invocation in seconds.",
        default=30, minimum=1, maximum=900),
    Key("workerMemoryMb", "integer", "Memory of the worker function in MB.", default=512, minimum=128, maximum=10240),
    Key("workerReservedConcurrency", "integer",
        "Concurrent worker invocations reserved (and capped) for the function; 0 reserves none (an account at "
        "the default concurrency quota of 10 cannot reserve any).",
        default=0, minimum=0, maximum=1000),
    Key("workerMaxConcurrency", "integer",
        "Most concurrent worker invocations the queue's event source starts (2-1000; at most "
        "workerReservedConcurrency when that is set).", default=5, minimum=2, maximum=1000),
    Key("workerBatchSize", "integer", "Messages handed to one worker invocation.",
        default=10, minimum=1, maximum=10000),
    Key("workerBatchingWindowSeconds", "integer",
        "How long the event source gathers messages before invoking (needed above 10 per batch).",
        default=0, minimum=0, maximum=300),
    # --- storage
    Key("bucketNoncurrentVersionDays", "integer", "Days before old object versions are deleted.",
        default=30, minimum=1, maximum=3650),
    # --- app
    Key("jwtIssuer", "string",
        "The `iss` claim of the app's tokens; an https URL serving /.well-known/openid-configuration "
        "when ingressMode is apigateway.", default="stateless-stack",
        pattern=r"^\S+$", pattern_hint="a non-empty string without spaces"),
    Key("jwtAudience", "string", "The `aud` claim of the app's tokens.", default="stateless-app",
        pattern=r"^\S+$", pattern_hint="a non-empty string without spaces"),
    # --- api (apigateway)
    Key("apiThrottlingBurstLimit", "integer", "API Gateway burst limit (requests) for the whole stage.",
        default=200, minimum=0, maximum=10000),
    Key("apiThrottlingRateLimit", "integer",
        "API Gateway steady-state limit (requests per second) for the whole stage.",
        default=100, minimum=0, maximum=10000),
    Key("apiDomainName", "string",
        "Custom domain of the API, served with certificateArn; also the name API Gateway verifies on the "
        "internal ALB's certificate, so required when certificateArn is set. Empty (no certificate) uses the "
        "execute-api endpoint.", default="",
        pattern=r"^$|^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        pattern_hint="a lowercase DNS name or empty"),
)

KEYS: dict[str, Key] = {k.name: k for k in SCHEMA}


# ----------------------------------------------------------------------------- the settings object


@dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    vpc_cidr: str
    az_count: int
    nat_gateway_per_az: bool
    public_subnets: tuple[str, ...]
    app_subnets: tuple[str, ...]
    data_subnets: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class EdgeSettings:
    certificate_arn: str | None
    certificate_domain: str | None
    """look the certificate up by domain at deploy time (exclusive with certificate_arn)"""
    deletion_protection: bool
    idle_timeout_seconds: int

    @property
    def has_certificate(self) -> bool:
        return self.certificate_arn is not None or self.certificate_domain is not None


@dataclass(frozen=True, kw_only=True)
class ComputeSettings:
    mode: str
    instance_type: str
    ami_parameter: str
    root_volume_size_gb: int
    min_size: int
    desired_capacity: int
    max_size: int
    cpu_target_percent: int
    image_tag: str
    app_port: int


@dataclass(frozen=True, kw_only=True)
class EksSettings:
    """Read only when computeMode is eks (Settings.eks is None otherwise)."""

    kubernetes_version: str
    node_instance_types: tuple[str, ...]
    node_min_size: int
    node_desired_size: int
    node_max_size: int
    public_access_cidrs: tuple[str, ...]
    deploy_from_vpc: bool
    admin_principal_arns: tuple[str, ...]
    deletion_protection: bool
    replicas: int
    hpa_min_replicas: int
    hpa_max_replicas: int
    hpa_cpu_target_percent: int


@dataclass(frozen=True, kw_only=True)
class IngressSettings:
    mode: str
    throttling_burst_limit: int
    throttling_rate_limit: int
    domain_name: str | None


@dataclass(frozen=True, kw_only=True)
class WorkerSettings:
    mode: str
    timeout_seconds: int
    memory_mb: int
    reserved_concurrency: int | None
    max_concurrency: int
    batch_size: int
    batching_window_seconds: int


@dataclass(frozen=True, kw_only=True)
class CacheSettings:
    node_type: str
    engine_version: str
    num_nodes: int
    automatic_failover: bool
    multi_az: bool
    snapshot_retention_days: int


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    instance_class: str
    engine_version: str
    name: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    multi_az: bool
    backup_retention_days: int
    deletion_protection: bool
    performance_insights: bool
    app_password_version: int


@dataclass(frozen=True, kw_only=True)
class QueueSettings:
    max_receive_count: int
    visibility_timeout_seconds: int


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    noncurrent_version_days: int


@dataclass(frozen=True, kw_only=True)
class AppSettings:
    jwt_issuer: str
    jwt_audience: str


@dataclass(frozen=True, kw_only=True)
class Settings:
    project: str
    stack: str
    stack_file: str
    environment: str
    region: str
    require_multi_az: bool
    log_retention_days: int
    alarm_topic_arn: str | None
    network: NetworkSettings
    edge: EdgeSettings
    ingress: IngressSettings
    compute: ComputeSettings
    eks: EksSettings | None
    worker: WorkerSettings
    cache: CacheSettings
    database: DatabaseSettings
    queue: QueueSettings
    storage: StorageSettings
    app: AppSettings


# ----------------------------------------------------------------------------- parsing


def stack_file_for(stack: str) -> str:
    return f"{STACK_CONFIG_DIR}/Pulumi.{stack}.yaml"


class _Checker:
    def __init__(self, project: str, stack_file: str) -> None:
        self.project = project
        self.stack_file = stack_file

    def fail(self, key: str, problem: str) -> ConfigError:
        qualified = key if ":" in key else f"{self.project}:{key}"
        return ConfigError(self.stack_file, qualified, problem)


def _coerce(key: Key, value: Any, fail: Callable[[str, str], ConfigError]) -> Any:
    """The engine hands values over as strings (structured ones as JSON); tests may pass natives."""
    if key.type == "string":
        if not isinstance(value, str):
            raise fail(key.name, f"must be a string (got {value!r})")
        return value.strip()
    if key.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise fail(key.name, f"must be a boolean, true or false (got {value!r})")
    if key.type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise fail(key.name, f"must be an integer (got {value!r})")
    # array of strings
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            raise fail(key.name, f"must be a list of strings (got {value!r})") from None
    if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
        raise fail(key.name, f"must be a list of strings (got {value!r})")
    return tuple(v.strip() for v in parsed)


def _check_value(key: Key, value: Any, fail: Callable[[str, str], ConfigError]) -> None:
    if key.choices is not None and value not in key.choices:
        raise fail(key.name, f"must be one of {', '.join(key.choices)} (got {value!r})")
    if key.minimum is not None and value < key.minimum:
        raise fail(key.name, f"must be ≥ {key.minimum} (got {value})")
    if key.maximum is not None and value > key.maximum:
        raise fail(key.name, f"must be ≤ {key.maximum} (got {value})")
    if key.allowed is not None and value not in key.allowed:
        raise fail(key.name, f"must be one of {', '.join(map(str, key.allowed))} (got {value})")
    if key.pattern is not None and not re.fullmatch(key.pattern, value):
        raise fail(key.name, f"must be {key.pattern_hint} (got {value!r})")


def parse_settings(
    raw: Mapping[str, Any],
    *,
    stack: str,
    region: str | None,
    project: str = PROJECT,
    stack_file: str | None = None,
) -> Settings:
    """Validate raw config values (bare key names → engine strings or native values) into Settings.

    Pure: no Pulumi runtime needed. Keys in `raw` that the schema does not know are errors, so a
    typo in a stack file cannot silently fall back to a default.
    """
    checker = _Checker(project, stack_file or stack_file_for(stack))
    fail = checker.fail

    for name in sorted(raw):
        if name in REMOVED_KEYS:
            raise fail(name, REMOVED_KEYS[name])
        if name not in KEYS:
            close = difflib.get_close_matches(name, KEYS, n=1)
            hint = f"; did you mean {project}:{close[0]}?" if close else ""
            raise fail(name, f"is not a setting this program knows{hint}")

    v: dict[str, Any] = {}
    for key in SCHEMA:
        value = raw.get(key.name)
        if value is None:
            if key.required:
                raise fail(key.name, f"is required: {key.description}")
            value = key.default
        value = _coerce(key, value, fail)
        _check_value(key, value, fail)
        v[key.name] = value

    if not region:
        raise fail("aws:region", "is required (pulumi config set aws:region <region>)")
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise fail("aws:region", f"must be an AWS region such as us-east-1 (got {region!r})")

    if not naming.is_label(v["environment"]):
        raise fail("environment", f"must be a lowercase label of at most "
                   f"{naming.MAX_ENVIRONMENT_LENGTH} characters (got {v['environment']!r})")
    if v["computeMode"] not in IMPLEMENTED_COMPUTE_MODES:
        raise fail("computeMode", f"{v['computeMode']!r} is not supported by this program yet "
                   f"(supported: {', '.join(sorted(IMPLEMENTED_COMPUTE_MODES))})")

    network = _network(v, fail)
    _check_ranges(v, fail)
    _check_multi_az(v, fail)
    eks = _eks(v, fail) if v["computeMode"] == "eks" else None
    _check_worker(v, fail)
    _check_ingress(v, fail)

    _check_placeholders(v, fail)
    cert = v["certificateArn"] or None
    if cert is not None and cert.split(":")[3] != region:
        raise fail("certificateArn", f"must be in the stack's region {region} (got a certificate in "
                   f"{cert.split(':')[3]}); a load balancer can only use certificates from its own region")
    if cert is not None and v["certificateDomain"]:
        raise fail("certificateDomain", "and certificateArn name the certificate twice: set only one")

    return Settings(
        project=project,
        stack=stack,
        stack_file=checker.stack_file,
        environment=v["environment"],
        region=region,
        require_multi_az=v["requireMultiAz"],
        log_retention_days=v["logRetentionDays"],
        alarm_topic_arn=v["alarmTopicArn"] or None,
        network=network,
        edge=EdgeSettings(
            certificate_arn=cert,
            certificate_domain=v["certificateDomain"] or None,
            deletion_protection=v["albDeletionProtection"],
            idle_timeout_seconds=v["albIdleTimeoutSeconds"],
        ),
        ingress=IngressSettings(
            mode=v["ingressMode"],
            throttling_burst_limit=v["apiThrottlingBurstLimit"],
            throttling_rate_limit=v["apiThrottlingRateLimit"],
            domain_name=v["apiDomainName"] or None,
        ),
        eks=eks,
        worker=WorkerSettings(
            mode=v["workerMode"],
            timeout_seconds=v["workerTimeoutSeconds"],
            memory_mb=v["workerMemoryMb"],
            reserved_concurrency=v["workerReservedConcurrency"] or None,
            max_concurrency=v["workerMaxConcurrency"],
            batch_size=v["workerBatchSize"],
            batching_window_seconds=v["workerBatchingWindowSeconds"],
        ),
        compute=ComputeSettings(
            mode=v["computeMode"],
            instance_type=v["instanceType"],
            ami_parameter=v["amiParameter"],
            root_volume_size_gb=v["rootVolumeSizeGb"],
            min_size=v["asgMinSize"],
            desired_capacity=v["asgDesiredCapacity"],
            max_size=v["asgMaxSize"],
            cpu_target_percent=v["scalingCpuTargetPercent"],
            image_tag=v["appImageTag"],
            app_port=v["appPort"],
        ),
        cache=CacheSettings(
            node_type=v["cacheNodeType"],
            engine_version=v["cacheEngineVersion"],
            num_nodes=v["cacheNumNodes"],
            automatic_failover=v["cacheAutomaticFailover"],
            multi_az=v["cacheMultiAz"],
            snapshot_retention_days=v["cacheSnapshotRetentionDays"],
        ),
        database=DatabaseSettings(
            instance_class=v["dbInstanceClass"],
            engine_version=v["dbEngineVersion"],
            name=v["dbName"],
            allocated_storage_gb=v["dbAllocatedStorageGb"],
            max_allocated_storage_gb=v["dbMaxAllocatedStorageGb"],
            multi_az=v["dbMultiAz"],
            backup_retention_days=v["dbBackupRetentionDays"],
            deletion_protection=v["dbDeletionProtection"],
            performance_insights=v["dbPerformanceInsights"],
            app_password_version=v["dbAppPasswordVersion"],
        ),
        queue=QueueSettings(
            max_receive_count=v["queueMaxReceiveCount"],
            visibility_timeout_seconds=v["queueVisibilityTimeoutSeconds"],
        ),
        storage=StorageSettings(noncurrent_version_days=v["bucketNoncurrentVersionDays"]),
        app=AppSettings(jwt_issuer=v["jwtIssuer"], jwt_audience=v["jwtAudience"]),
    )


def _network(v: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> NetworkSettings:
    az_count = v["availabilityZoneCount"]
    try:
        plan = cidr.plan_subnets(v["vpcCidr"], az_count)
    except cidr.CidrError as exc:
        raise fail("vpcCidr", f"is unusable: {exc}") from None

    explicit = {k: v[k] for k in ("publicSubnetCidrs", "appSubnetCidrs", "dataSubnetCidrs")}
    given = [k for k, cidrs in explicit.items() if cidrs]
    if given:
        for name, cidrs in explicit.items():
            if len(cidrs) != az_count:
                raise fail(name, f"must list one CIDR per AZ when any subnet CIDRs are given "
                           f"(availabilityZoneCount is {az_count}, got {len(cidrs)})")
        problems = cidr.check_plan(v["vpcCidr"], dict(explicit))
        if problems:
            tier = problems[0].split(":", 1)[0]
            raise fail(tier, f"is invalid: {problems[0].split(': ', 1)[1]}")
        public, app, data = explicit["publicSubnetCidrs"], explicit["appSubnetCidrs"], explicit["dataSubnetCidrs"]
    else:
        public, app, data = plan.public, plan.app, plan.data
    return NetworkSettings(
        vpc_cidr=plan.vpc,
        az_count=az_count,
        nat_gateway_per_az=v["natGatewayPerAz"],
        public_subnets=tuple(public),
        app_subnets=tuple(app),
        data_subnets=tuple(data),
    )


def _check_ranges(v: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> None:
    lo, want, hi = v["asgMinSize"], v["asgDesiredCapacity"], v["asgMaxSize"]
    if lo > hi:
        raise fail("asgMinSize", f"must be ≤ asgMaxSize (got {lo} > {hi})")
    if not lo <= want <= hi:
        raise fail("asgDesiredCapacity", f"must be between asgMinSize and asgMaxSize (got {want}, allowed {lo}..{hi})")
    if v["dbAllocatedStorageGb"] > v["dbMaxAllocatedStorageGb"]:
        raise fail("dbAllocatedStorageGb", f"must be ≤ dbMaxAllocatedStorageGb "
                   f"(got {v['dbAllocatedStorageGb']} > {v['dbMaxAllocatedStorageGb']})")
    if v["cacheAutomaticFailover"] and v["cacheNumNodes"] < 2:
        raise fail("cacheAutomaticFailover", f"needs cacheNumNodes ≥ 2, a replica to fail over to "
                   f"(got {v['cacheNumNodes']})")
    if v["cacheMultiAz"] and not v["cacheAutomaticFailover"]:
        raise fail("cacheMultiAz", "needs cacheAutomaticFailover to be true")


def _check_multi_az(v: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> None:
    if not v["requireMultiAz"]:
        return
    why = "because requireMultiAz is true"
    for key in ("dbMultiAz", "cacheMultiAz", "natGatewayPerAz"):
        if not v[key]:
            raise fail(key, f"must be true {why}")
    if v["asgMinSize"] < 2:
        raise fail("asgMinSize", f"must be ≥ 2 {why} (got {v['asgMinSize']})")


def _eks(v: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> EksSettings:
    """The EKS group; its sizes have no usable default, so computeMode eks must set them."""
    why = "because requireMultiAz is true"
    lo, want, hi = v["eksNodeMinSize"], v["eksNodeDesiredSize"], v["eksNodeMaxSize"]
    for key, value in (("eksNodeMinSize", lo), ("eksNodeMaxSize", hi)):
        if value == 0:
            raise fail(key, f"is required: computeMode eks needs {key} (a node count of at least 1)")
    if lo > hi:
        raise fail("eksNodeMinSize", f"must be ≤ eksNodeMaxSize (got {lo} > {hi})")
    if want and not lo <= want <= hi:
        raise fail("eksNodeDesiredSize", f"must be between eksNodeMinSize and eksNodeMaxSize "
                   f"(got {want}, allowed {lo}..{hi}), or 0 to start at eksNodeMinSize")
    if v["requireMultiAz"] and lo < 2:
        raise fail("eksNodeMinSize", f"must be ≥ 2 {why} (got {lo})")

    types = v["eksNodeInstanceTypes"]
    if not types:
        raise fail("eksNodeInstanceTypes", "must list at least one EC2 instance type when computeMode is eks")
    for t in types:
        if not re.fullmatch(_INSTANCE_TYPE, t):
            raise fail("eksNodeInstanceTypes", f"must list EC2 instance types such as t3.medium (got {t!r})")

    version = tuple(int(p) for p in v["eksKubernetesVersion"].split("."))
    if version < MIN_KUBERNETES_VERSION:
        # YAML reads an unquoted 1.30 as the number 1.3.
        hint = "; quote the version in the stack file, e.g. \"1.30\"" if version[1] < 10 else ""
        raise fail("eksKubernetesVersion", f"must be 1.30 or newer: the app's preStop drain uses the "
                   f"sleep action (got {v['eksKubernetesVersion']}{hint})")

    for block in v["eksPublicAccessCidrs"]:
        problem = _public_access_problem(block)
        if problem:
            raise fail("eksPublicAccessCidrs", problem)
    if len(set(v["eksPublicAccessCidrs"])) != len(v["eksPublicAccessCidrs"]):
        raise fail("eksPublicAccessCidrs", "lists a network twice")
    if not v["eksPublicAccessCidrs"] and not v["eksDeployFromVpc"]:
        # The same program creates the Kubernetes objects through the API endpoint, so whoever runs
        # `pulumi up` must reach it.
        raise fail("eksPublicAccessCidrs", "is empty, so the Kubernetes API endpoint is private-only and `pulumi up` "
                   "from outside the VPC cannot create the app's objects: list the deployers' public networks "
                   "(e.g. pulumi config set --path 'eksPublicAccessCidrs[0]' <your address>/32), or set "
                   "eksDeployFromVpc: true if pulumi up runs inside the VPC")

    principals = v["eksAdminPrincipalArns"]
    for arn in principals:
        if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+", arn):
            raise fail("eksAdminPrincipalArns", f"must list IAM role or user ARNs (got {arn!r})")
    names = [arn.rsplit("/", 1)[-1].lower() for arn in principals]
    if len(set(names)) != len(names):
        raise fail("eksAdminPrincipalArns", "lists a principal twice (or two with the same name)")

    replicas = v["k8sReplicas"]
    if v["requireMultiAz"] and replicas < 2:
        raise fail("k8sReplicas", f"must be ≥ 2 {why} (got {replicas})")
    floor = v["k8sHpaMinReplicas"] or replicas
    if floor < replicas:
        raise fail("k8sHpaMinReplicas", f"must be ≥ k8sReplicas (got {floor} < {replicas}), or 0 to use "
                   "k8sReplicas: the autoscaler must not go below the stack's replica count")
    if v["k8sHpaMaxReplicas"] < floor:
        raise fail("k8sHpaMaxReplicas", f"must be ≥ the autoscaler's minimum (got {v['k8sHpaMaxReplicas']} < {floor})")

    return EksSettings(
        kubernetes_version=v["eksKubernetesVersion"],
        node_instance_types=tuple(types),
        node_min_size=lo,
        node_desired_size=want or lo,
        node_max_size=hi,
        public_access_cidrs=tuple(v["eksPublicAccessCidrs"]),
        deploy_from_vpc=v["eksDeployFromVpc"],
        admin_principal_arns=tuple(principals),
        deletion_protection=v["eksDeletionProtection"],
        replicas=replicas,
        hpa_min_replicas=floor,
        hpa_max_replicas=v["k8sHpaMaxReplicas"],
        hpa_cpu_target_percent=v["k8sHpaCpuTargetPercent"],
    )


def _public_access_problem(block: str) -> str | None:
    try:
        net = ipaddress.ip_network(block, strict=True)
    except ValueError as exc:
        return f"must list CIDR blocks (got {block!r}: {exc})"
    if net.version != 4:
        return f"must list IPv4 networks (got {block})"
    if net.prefixlen < MIN_PUBLIC_ACCESS_PREFIX:
        return (f"must list networks of /{MIN_PUBLIC_ACCESS_PREFIX} or narrower (got {block}): name the "
                "deployers' addresses (CI runners, operators); a broad range opens the Kubernetes API to the internet")
    if not net.is_global:
        return (f"must list public networks (got {block}): the public endpoint only sees public source addresses, "
                "and the VPC already reaches the private endpoint")
    return None


def _check_worker(v: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> None:
    reserved, most = v["workerReservedConcurrency"], v["workerMaxConcurrency"]
    if reserved and most > reserved:
        raise fail("workerMaxConcurrency", f"must be ≤ workerReservedConcurrency (got {most} > {reserved}): the event "
                   "source would start invocations the reservation throttles, and throttled deliveries count as "
                   "receives toward the dead-letter queue")
    timeout, window = v["workerTimeoutSeconds"], v["workerBatchingWindowSeconds"]
    visibility = v["queueVisibilityTimeoutSeconds"]
    need = VISIBILITY_TO_TIMEOUT_RATIO * timeout + window
    if visibility < need:
        raise fail("queueVisibilityTimeoutSeconds", f"must be ≥ 6 x workerTimeoutSeconds + workerBatchingWindowSeconds "
                   f"(got {visibility} < 6 x {timeout} + {window} = {need}): a message must stay hidden while a slow "
                   "or throttled invocation still holds it; raise queueVisibilityTimeoutSeconds or lower "
                   "workerTimeoutSeconds")
    if v["workerBatchSize"] > 10 and window < 1:
        raise fail("workerBatchingWindowSeconds", f"must be ≥ 1 when workerBatchSize is above 10 "
                   f"(got workerBatchSize {v['workerBatchSize']})")


def _check_placeholders(v: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> None:
    """ARNs of AWS's documentation account are examples copied from docs: refuse them before any deploy."""
    for key in SCHEMA:
        values = v[key.name] if key.type == "array" else (v[key.name],)
        for value in values:
            if isinstance(value, str) and f":{DOCUMENTATION_ACCOUNT}:" in value:
                raise fail(key.name, f"names AWS's documentation account {DOCUMENTATION_ACCOUNT} ({value}): it is "
                           "an example, not a resource of yours; set your own value or leave the key unset")


def _check_ingress(v: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> None:
    # Like the eks keys, the api keys are read only in their mode, so switching modes is one setting.
    domain = v["apiDomainName"]
    if v["ingressMode"] != "apigateway":
        return
    issuer = urlsplit(v["jwtIssuer"])
    if issuer.scheme != "https" or not issuer.hostname or issuer.query or issuer.fragment:
        raise fail("jwtIssuer", f"must be an https URL when ingressMode is apigateway (got {v['jwtIssuer']!r}): "
                   "the JWT authorizer fetches <jwtIssuer>/.well-known/openid-configuration")
    has_certificate = bool(v["certificateArn"] or v["certificateDomain"])
    if domain and not has_certificate:
        raise fail("apiDomainName", "needs certificateArn or certificateDomain, an ACM certificate for that name in "
                   "the stack's region")
    if has_certificate and not domain:
        # Private integrations speak HTTPS only when given a name to verify; without one the VPC link
        # would send plain HTTP to the internal ALB's HTTPS listener.
        raise fail("apiDomainName", "is required when ingressMode is apigateway and certificateArn is set: it is "
                   "the API's domain and the name API Gateway verifies on the internal ALB's certificate")


# ----------------------------------------------------------------------------- the Pulumi side


def _project_values(project: str) -> dict[str, Any]:
    """Every config value in the project's namespace, as the engine handed them over."""
    from pulumi.runtime import config as runtime_config

    prefix = f"{project}:"
    merged: dict[str, Any] = {}
    merged.update(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return {k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)}


def pulumi_yaml_declarations() -> str:
    """The `config:` block of Pulumi.yaml, rendered from SCHEMA (the one place keys are declared).

    `python -m infra.settings` prints it; paste it over the block in Pulumi.yaml after changing SCHEMA.
    """
    lines = ["config:"]
    for key in SCHEMA:
        lines.append(f"  {PROJECT}:{key.name}:")
        lines.append(f"    type: {key.type}")
        if key.type == "array":
            lines += ["    items:", "      type: string"]
        lines.append(f"    description: {json.dumps(key.description, ensure_ascii=False)}")
        if not key.required:
            lines.append(f"    default: {json.dumps(key.default, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def load_settings() -> Settings:
    """Read this stack's configuration through pulumi.Config and validate it."""
    import pulumi

    project = pulumi.get_project()
    stack = pulumi.get_stack()
    config = pulumi.Config(project)
    raw = _project_values(project)
    for key in SCHEMA:
        value = config.get(key.name)
        if value is not None:
            raw[key.name] = value
    region = pulumi.Config("aws").get("region")
    return parse_settings(raw, stack=stack, region=region, project=project)


if __name__ == "__main__":
    print(pulumi_yaml_declarations(), end="")
