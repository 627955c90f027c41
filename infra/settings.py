"""Stack settings: the only place that reads `pulumi.Config`.

The keys are declared once, as fields of the per-concern config dataclasses in `infra/config.py`;
`SCHEMA` here, `Pulumi.yaml`'s `config:` block and the key table in `infra/README.md` are derived from
them (`python -m infra.settings --write` renders the two files; a test keeps them equal).

`load_settings()` reads every key the program knows, checks them all before any resource exists, and
returns one frozen `Settings` made of those config objects. Bad input raises `ConfigError` with one
message naming the stack file and the key, e.g.
`stacks/Pulumi.prod.yaml: stateless-stack:asgMinSize must be ≤ asgMaxSize (got 4 > 2)`.

Environments differ only by values in their stack files; requirements such as "this stack must be
Multi-AZ" are themselves values (`requireMultiAz`), never a test on the stack's name.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from infra import config as cfg
from infra.config import (
    COMPUTE_MODES,
    INGRESS_MODES,
    PROJECT,
    REQUIRED,
    WORKER_MODES,
    AppConfig,
    CacheConfig,
    ComputeConfig,
    DatabaseConfig,
    EdgeConfig,
    EksConfig,
    IngressConfig,
    Key,
    LoggingConfig,
    NetworkConfig,
    QueueConfig,
    ReleaseConfig,
    SettingError,
    StackConfig,
    StorageConfig,
    WorkerConfig,
)
from infra.lib import arch, eks_access, eks_versions, limits, naming

__all__ = [
    "COMPUTE_MODES", "INGRESS_MODES", "KEYS", "PROJECT", "REQUIRED", "SCHEMA", "WORKER_MODES", "ConfigError", "Key",
    "Settings", "load_settings", "parse_settings",
]

STACK_CONFIG_DIR = "stacks"
# The modes this program can build today; the one place to widen when a mode lands.
IMPLEMENTED_COMPUTE_MODES = frozenset(COMPUTE_MODES)

# The broadest network allowed to reach a public Kubernetes API endpoint.
MIN_PUBLIC_ACCESS_PREFIX = 16
# The account AWS's documentation uses in example ARNs; a stack that names it cannot deploy.
DOCUMENTATION_ACCOUNT = "111122223333"
# Keys this program no longer reads, and what replaced them.
REMOVED_KEYS = {
    "workerLayerArn": "is no longer used: the worker runs the app image as a container-image function "
                      "(one image for web and worker, built by `pulumi up`); remove the key from the stack file",
}



class ConfigError(ValueError):
    """A stack's configuration cannot be used; the message names the stack file and the key."""

    def __init__(self, stack_file: str, key: str, problem: str) -> None:
        self.stack_file = stack_file
        self.key = key
        self.problem = problem
        super().__init__(f"{stack_file}: {key} {problem}")


SCHEMA: tuple[Key, ...] = tuple(key for concern in cfg.CONCERNS for key in cfg.keys_of(concern))
"""Every key the program reads, in the order of `config.CONCERNS`."""

KEYS: dict[str, Key] = {k.name: k for k in SCHEMA}


# ----------------------------------------------------------------------------- the settings object


@dataclass(frozen=True, kw_only=True)
class Settings:
    """One stack's settings: the config object of every concern (see infra/config.py)."""

    project: str
    stack: str
    stack_file: str
    region: str
    general: StackConfig
    logging: LoggingConfig
    network: NetworkConfig
    edge: EdgeConfig
    ingress: IngressConfig
    compute: ComputeConfig
    eks: EksConfig | None
    worker: WorkerConfig
    cache: CacheConfig
    database: DatabaseConfig
    queue: QueueConfig
    storage: StorageConfig
    app: AppConfig
    release: ReleaseConfig
    warnings: tuple[str, ...] = ()
    """what the stack may run but should not (each names its key): load_settings logs them as warnings"""

    @property
    def environment(self) -> str:
        return self.general.environment

    @property
    def require_multi_az(self) -> bool:
        return self.general.require_multi_az

    @property
    def log_retention_days(self) -> int:
        return self.logging.retention_days

    @property
    def alarm_topic_arn(self) -> str | None:
        return self.logging.alarm_topic_arn


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
    problem = key.problem(value)
    if problem:
        raise fail(key.name, problem)


_C = TypeVar("_C")


def parse_settings(
    raw: Mapping[str, Any],
    *,
    stack: str,
    region: str | None,
    project: str = PROJECT,
    stack_file: str | None = None,
    today: date | None = None,
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

    def build(concern: type[_C]) -> _C:
        try:
            return cfg.from_values(concern, v)
        except SettingError as exc:
            raise fail(exc.key, exc.problem) from None

    general = build(StackConfig)
    network = build(NetworkConfig)
    compute = build(ComputeConfig)
    database = build(DatabaseConfig)
    cache = build(CacheConfig)
    _check_multi_az(v, fail)
    warnings: list[str] = []
    eks = _eks(v, fail, build, today or datetime.now(UTC).date(), warnings) if compute.mode == "eks" else None
    worker = build(WorkerConfig)
    queue = build(QueueConfig)
    problem = worker.visibility_problem(queue.visibility_timeout_seconds)
    if problem:
        raise fail("queueVisibilityTimeoutSeconds", problem)
    problem = worker.batching_problem()
    if problem:
        raise fail("workerBatchingWindowSeconds", problem)
    _check_ingress(v, fail)

    _check_placeholders(v, fail)
    edge = build(EdgeConfig)
    cert = edge.certificate_arn
    if cert is not None and cert.split(":")[3] != region:
        raise fail("certificateArn", f"must be in the stack's region {region} (got a certificate in "
                   f"{cert.split(':')[3]}); a load balancer can only use certificates from its own region")
    if cert is not None and edge.certificate_domain:
        raise fail("certificateDomain", "and certificateArn name the certificate twice: set only one")

    return Settings(
        project=project,
        stack=stack,
        stack_file=checker.stack_file,
        region=region,
        general=general,
        logging=build(LoggingConfig),
        network=network,
        edge=edge,
        ingress=build(IngressConfig),
        compute=compute,
        eks=eks,
        worker=worker,
        cache=cache,
        database=database,
        queue=queue,
        storage=build(StorageConfig),
        app=build(AppConfig),
        warnings=tuple(f"{checker.stack_file}: {w}" for w in warnings),
        release=_release(v, fail, build),
    )


def _release(v: dict[str, Any], fail: Callable[[str, str], ConfigError], build: Callable[[type], Any]) -> ReleaseConfig:
    # The image has one architecture (infra/lib/arch.py); an instance or node of another one never serves.
    problem = arch.mismatch(v["instanceType"], v["amiParameter"])
    if problem:
        raise fail("instanceType", problem)
    if v["computeMode"] == "eks":
        for instance_type in v["eksNodeInstanceTypes"]:
            problem = arch.mismatch(instance_type)
            if problem:
                raise fail("eksNodeInstanceTypes", problem)
    # An alias record needs one name: the certificate's domain (alb), or the API's custom domain.
    if v["hostedZoneId"]:
        if v["ingressMode"] == "apigateway" and not v["apiDomainName"]:
            raise fail("hostedZoneId", "needs apiDomainName with ingressMode apigateway: the record points that "
                       "name at the API's custom domain")
        if v["ingressMode"] != "apigateway" and (not v["certificateDomain"] or v["certificateDomain"].startswith("*")):
            raise fail("hostedZoneId", "needs certificateDomain naming the stack's domain (not a wildcard): the "
                       "record points that name at the load balancer")
    return build(ReleaseConfig)


def _check_multi_az(v: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> None:
    if not v["requireMultiAz"]:
        return
    why = "because requireMultiAz is true"
    for key in ("dbMultiAz", "cacheMultiAz", "natGatewayPerAz"):
        if not v[key]:
            raise fail(key, f"must be true {why}")
    if v["asgMinSize"] < 2:
        raise fail("asgMinSize", f"must be ≥ 2 {why} (got {v['asgMinSize']})")


def _eks(v: dict[str, Any], fail: Callable[[str, str], ConfigError], build: Callable[[type], Any], today: date,
         warnings: list[str]) -> EksConfig:
    """The EKS group; its sizes and its deployer have no usable default, so computeMode eks must set them."""
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
    zones = v["availabilityZoneCount"]
    if lo < zones:
        # One node group per zone (compute_eks.py); each keeps a node for the pods' zone spread.
        raise fail("eksNodeMinSize", f"must be ≥ availabilityZoneCount (got {lo} < {zones}): there is one node "
                   "group per availability zone and each keeps at least one node")

    types = v["eksNodeInstanceTypes"]
    if not types:
        raise fail("eksNodeInstanceTypes", "must list at least one EC2 instance type when computeMode is eks")
    for t in types:
        if not cfg.INSTANCE_TYPE.match(t):
            raise fail("eksNodeInstanceTypes", f"must list EC2 instance types such as t3.medium (got {t!r})")

    version = v["eksKubernetesVersion"]
    problem = limits.kubernetes_version_problem(version) or eks_versions.unavailable_problem(version, today)
    if problem:
        raise fail("eksKubernetesVersion", problem)
    try:
        eks_versions.autoscaler_release(version)
    except ValueError as exc:
        raise fail("eksKubernetesVersion", f"cannot be used: {exc}") from None
    # A warning, not a refusal: extended support costs money but works.
    late = eks_versions.support_warning(version, today)
    if late:
        warnings.append(f"{PROJECT}:eksKubernetesVersion {late}")

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
    problem = limits.principal_arns_problem(principals)
    if problem:
        raise fail("eksAdminPrincipalArns", problem)
    deployer = v["eksDeployerPrincipalArn"]
    if not deployer:
        raise fail("eksDeployerPrincipalArn", "is required when computeMode is eks: name the IAM role the pipeline "
                   "deploys this stack with (e.g. role/stateless-stack-deploy), which gets the cluster-admin access "
                   "entry; it is never taken from whoever runs `pulumi up`")
    problem = eks_access.deployer_problem(deployer, principals)
    if problem:
        raise fail("eksDeployerPrincipalArn", problem)

    replicas = v["k8sReplicas"]
    if v["requireMultiAz"] and replicas < 2:
        raise fail("k8sReplicas", f"must be ≥ 2 {why} (got {replicas})")
    floor = v["k8sHpaMinReplicas"] or replicas
    if floor < replicas:
        raise fail("k8sHpaMinReplicas", f"must be ≥ k8sReplicas (got {floor} < {replicas}), or 0 to use "
                   "k8sReplicas: the autoscaler must not go below the stack's replica count")
    if v["k8sHpaMaxReplicas"] < floor:
        raise fail("k8sHpaMaxReplicas", f"must be ≥ the autoscaler's minimum (got {v['k8sHpaMaxReplicas']} < {floor})")

    eks: EksConfig = build(EksConfig)
    return eks


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
    """The `config:` block of Pulumi.yaml, rendered from the declarations in infra/config.py."""
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


def readme_key_table() -> str:
    """The key table of infra/README.md, rendered from the same declarations."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in SCHEMA:
        if key.required:
            default = "**required**"
        elif key.default == "":
            default = '`""`'
        elif isinstance(key.default, (bool, list)):
            default = f"`{json.dumps(key.default)}`"
        else:
            default = f"`{key.default}`"
        meaning = key.description
        if key.choices is not None:
            meaning += f" One of {', '.join(key.choices)}."
        rows.append(f"| `{key.name}` | {key.type} | {default} | {meaning} |")
    return "\n".join(rows) + "\n"


ROOT = Path(__file__).resolve().parent.parent
TABLE_START = "<!-- key table: rendered by `python -m infra.settings --write` -->\n"
TABLE_END = "<!-- end of key table -->\n"


def rendered_files(root: Path = ROOT) -> dict[Path, str]:
    """Pulumi.yaml and infra/README.md as they must read, with the derived parts rendered."""
    pulumi_yaml = root / "Pulumi.yaml"
    text = pulumi_yaml.read_text()
    project_file = text[:text.index("config:\n")] + pulumi_yaml_declarations()
    readme = root / "infra" / "README.md"
    doc = readme.read_text()
    start, end = doc.index(TABLE_START) + len(TABLE_START), doc.index(TABLE_END)
    return {pulumi_yaml: project_file, readme: doc[:start] + readme_key_table() + doc[end:]}


def main(argv: list[str]) -> int:
    """`python -m infra.settings --write` renders the derived parts; `--check` fails if they are stale."""
    if argv not in (["--write"], ["--check"]):
        print("usage: python -m infra.settings --write | --check", file=sys.stderr)
        return 2
    stale = [path for path, text in rendered_files().items() if path.read_text() != text]
    if argv == ["--check"]:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is not what infra/config.py declares: "
                  "run python -m infra.settings --write", file=sys.stderr)
        return 1 if stale else 0
    for path, text in rendered_files().items():
        path.write_text(text)
    return 0


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
    settings = parse_settings(raw, stack=stack, region=region, project=project)
    for warning in settings.warnings:
        pulumi.log.warn(warning)
    return settings


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
