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
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from infra.lib import cidr, naming

PROJECT = "stateless-stack"
STACK_CONFIG_DIR = "stacks"

COMPUTE_MODES = ("asg", "eks")
# The modes this program can build today; the one place to widen when a mode lands.
IMPLEMENTED_COMPUTE_MODES = frozenset({"asg"})

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
    # --- network
    Key("vpcCidr", "string", "IPv4 CIDR block of the VPC (at least a /24).", default="10.0.0.0/16"),
    Key("availabilityZoneCount", "integer", "How many availability zones to spread subnets over.",
        default=2, minimum=2, maximum=6),
    Key("natGatewayPerAz", "boolean",
        "One NAT gateway per AZ (survives an AZ outage) instead of a single shared one.", default=False),
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
        "ACM certificate ARN for the HTTPS listener; empty serves plain HTTP only (dev without a domain).",
        default="", pattern=r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$",
        pattern_hint="an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>) or empty"),
    Key("albDeletionProtection", "boolean", "Protect the load balancer against deletion.", default=True),
    Key("albIdleTimeoutSeconds", "integer", "Load balancer idle timeout in seconds.",
        default=60, minimum=1, maximum=4000),
    # --- compute (asg)
    Key("instanceType", "string", "EC2 instance type of the app instances.", default="t3.small",
        pattern=_INSTANCE_TYPE, pattern_hint="an EC2 instance type such as t3.small"),
    Key("amiParameter", "string", "Public SSM parameter that names the app instances' AMI.",
        default="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        pattern=r"^/[A-Za-z0-9_./-]+$", pattern_hint="an SSM parameter path"),
    Key("rootVolumeSizeGb", "integer", "Size of the (only, encrypted) root volume in GiB.",
        default=20, minimum=8, maximum=200),
    Key("asgMinSize", "integer", "Minimum number of app instances.", default=2, minimum=1, maximum=100),
    Key("asgDesiredCapacity", "integer", "Initial number of app instances (scaling adjusts it).",
        default=2, minimum=1, maximum=100),
    Key("asgMaxSize", "integer", "Maximum number of app instances.", default=4, minimum=1, maximum=100),
    Key("scalingCpuTargetPercent", "integer", "Average CPU the target-tracking policy aims for, in percent.",
        default=50, minimum=10, maximum=90),
    Key("appImageTag", "string", "Tag of the app image in the stack's ECR repository (tags are immutable).",
        default="0.1.0", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", pattern_hint="a container image tag"),
    Key("appPort", "integer", "Port the app listens on (load balancer target port).",
        default=8000, minimum=1024, maximum=65535),
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
    # --- queue
    Key("queueMaxReceiveCount", "integer", "Receives before a message moves to the dead-letter queue.",
        default=5, minimum=1, maximum=1000),
    Key("queueVisibilityTimeoutSeconds", "integer", "How long a received message stays hidden.",
        default=60, minimum=0, maximum=43200),
    # --- storage
    Key("bucketNoncurrentVersionDays", "integer", "Days before old object versions are deleted.",
        default=30, minimum=1, maximum=3650),
    # --- app
    Key("jwtIssuer", "string", "The `iss` claim of the app's tokens.", default="stateless-stack",
        pattern=r"^\S+$", pattern_hint="a non-empty string without spaces"),
    Key("jwtAudience", "string", "The `aud` claim of the app's tokens.", default="stateless-app",
        pattern=r"^\S+$", pattern_hint="a non-empty string without spaces"),
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
    deletion_protection: bool
    idle_timeout_seconds: int


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
    compute: ComputeSettings
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

    cert = v["certificateArn"] or None
    if cert is not None and cert.split(":")[3] != region:
        raise fail("certificateArn", f"must be in the stack's region {region} (got a certificate in "
                   f"{cert.split(':')[3]}); a load balancer can only use certificates from its own region")

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
            deletion_protection=v["albDeletionProtection"],
            idle_timeout_seconds=v["albIdleTimeoutSeconds"],
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


# ----------------------------------------------------------------------------- the Pulumi side


def _project_values(project: str) -> dict[str, Any]:
    """Every config value in the project's namespace, as the engine handed them over."""
    from pulumi.runtime import config as runtime_config

    prefix = f"{project}:"
    merged: dict[str, Any] = {}
    merged.update(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return {k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)}


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
