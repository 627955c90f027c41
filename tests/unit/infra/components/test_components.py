"""Components one at a time under the harness's mocks (tests/unit/infra/conftest.py), and their argument checks."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from infra.components.cache import Cache, CacheArgs
from infra.components.compute_asg import ComputeAsgArgs
from infra.components.database import DatabaseArgs, parameter_group_family
from infra.components.edge import Edge, EdgeArgs
from infra.components.network import Network, NetworkArgs
from infra.components.queue import QueueArgs
from infra.components.registry import ImageRepositoryArgs
from infra.components.security import SecurityArgs
from infra.components.storage import SecureBucket, SecureBucketArgs
from infra.config import CacheConfig, ComputeConfig, DatabaseConfig, NetworkConfig, QueueConfig
from infra.lib import cidr
from tests.unit.infra.conftest import AVAILABILITY_ZONES, ProgramFailed, Run, answered, run_component

NETWORK_INVOKES = frozenset({AVAILABILITY_ZONES})
CERT = "arn:aws:acm:us-east-1:111122223333:certificate/2b7c1e4d-0a5f-4c3e-9d81-5f0e6a7b8c9d"


def build(program: Any, **mocks_args: Any) -> Run:
    """`program` under the harness's mocks, in us-east-1 (where the certificate lives)."""
    return run_component(program, region="us-east-1", **mocks_args)


def inputs_of(run: Run, type_: str) -> list[dict[str, Any]]:
    return [r.inputs for r in run.of_type(type_)]


def network_args(**changes: Any) -> NetworkArgs:
    plan = cidr.plan_subnets("10.0.0.0/16", 3)
    config: dict[str, Any] = {"vpc_cidr": plan.vpc, "az_count": 3, "public_subnets": plan.public,
                              "app_subnets": plan.app, "data_subnets": plan.data}
    args: dict[str, Any] = {}
    for name, value in changes.items():
        (config if name in NetworkConfig.__dataclass_fields__ else args)[name] = value
    return NetworkArgs(config=NetworkConfig(**config), **args)


# ----------------------------------------------------------------------------- components under mocks


def test_network_single_nat_routes_every_app_subnet_through_it() -> None:
    rec = build(lambda: Network("t-net", network_args(nat_gateway_per_az=False)), invokes=NETWORK_INVOKES)
    assert len(rec.of_type("aws:ec2/natGateway:NatGateway")) == 1
    assert len(rec.of_type("aws:ec2/subnet:Subnet")) == 9
    assert {s["availabilityZone"] for s in inputs_of(rec, "aws:ec2/subnet:Subnet")} == {
        "us-east-1a", "us-east-1b", "us-east-1c"
    }
    assert all(r.name.startswith("t-net-") for r in rec.resources if r.name != "t-net")


def test_network_refuses_more_azs_than_the_region_has() -> None:
    with pytest.raises(ProgramFailed, match="ValueError: .*2 available AZs; 3 were asked for"):
        build(lambda: Network("t-net", network_args()), zones=2, invokes=NETWORK_INVOKES)


def test_edge_without_certificate_serves_plain_http_only() -> None:
    urls: list[str] = []

    def program() -> None:
        edge = Edge("t-edge", EdgeArgs(vpc_id="vpc-1", subnet_ids=["a", "b"], security_group_ids=["sg"],
                                       region="us-east-1"))
        edge.url.apply(urls.append)

    rec = build(program)
    listeners = inputs_of(rec, "aws:lb/listener:Listener")
    assert [(lst["protocol"], lst["port"]) for lst in listeners] == [("HTTP", 80)]
    alb = rec.one("aws:lb/loadBalancer:LoadBalancer")
    assert urls == ["http://" + answered(alb.type, alb.name, alb.inputs, "us-east-1")["dnsName"]]


def test_edge_with_certificate_redirects_http_to_https() -> None:
    urls: list[str] = []

    def program() -> None:
        edge = Edge(
            "t-edge",
            EdgeArgs(vpc_id="vpc-1", subnet_ids=["a", "b"], security_group_ids=["sg"], region="us-east-1",
                     certificate_arn=CERT),
        )
        edge.url.apply(urls.append)

    rec = build(program)
    url = urls[0]
    listeners = {lst["protocol"]: lst for lst in inputs_of(rec, "aws:lb/listener:Listener")}
    assert listeners["HTTPS"]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners["HTTP"]["defaultActions"][0]["type"] == "redirect"
    assert url.startswith("https://")
    assert inputs_of(rec, "aws:lb/loadBalancer:LoadBalancer")[0]["enableDeletionProtection"] is True


@pytest.mark.parametrize(("certificate", "port", "protocol"), [(None, 80, "HTTP"), (CERT, 443, "HTTPS")])
def test_edge_is_internal_unless_asked_and_exposes_its_forwarding_listener(
    certificate: str | None, port: int, protocol: str
) -> None:
    arns: list[str] = []
    ports: list[int] = []

    def program() -> None:
        def args(internet_facing: bool | None = None) -> EdgeArgs:
            base = EdgeArgs(vpc_id="vpc-1", subnet_ids=["a", "b"], security_group_ids=["sg"], region="us-east-1",
                            certificate_arn=certificate)
            return base if internet_facing is None else dataclasses.replace(base, internet_facing=internet_facing)

        internal = Edge("t-in", args())
        Edge("t-out", args(internet_facing=True))
        internal.listener_arn.apply(arns.append)
        ports.append(internal.listener_port)

    rec = build(program)
    albs = {r.name: r.inputs for r in rec.of_type("aws:lb/loadBalancer:LoadBalancer")}
    assert albs["t-in-alb"]["internal"] is True and albs["t-out-alb"]["internal"] is False
    listeners = {r.name: r.inputs for r in rec.of_type("aws:lb/listener:Listener")}
    forwarding = listeners[f"t-in-{protocol.lower()}"]
    assert (forwarding["protocol"], forwarding["port"]) == (protocol, port)
    assert forwarding["defaultActions"][0]["type"] == "forward"
    listener = rec.named(f"t-in-{protocol.lower()}")
    assert arns == [answered(listener.type, listener.name, listener.inputs, "us-east-1")["arn"]] and ports == [port]


def test_secure_bucket_adds_extra_statements_after_the_tls_deny() -> None:
    rec = build(lambda: SecureBucket(
        "t-logs",
        SecureBucketArgs(
            sse_algorithm="AES256",
            expire_current_days=30,
            extra_statements=lambda arn: [{"Sid": "Extra", "Effect": "Allow", "Action": "s3:PutObject",
                                           "Resource": f"{arn}/x/*", "Principal": {"Service": "x"}}],
        ),
    ))
    [policy] = inputs_of(rec, "aws:s3/bucketPolicy:BucketPolicy")
    sids = [s["Sid"] for s in json.loads(policy["policy"])["Statement"]]
    assert sids == ["DenyInsecureTransport", "Extra"]
    [lifecycle] = inputs_of(rec, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle["rules"][0]["expiration"] == {"days": 30}
    [sse] = inputs_of(rec, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["rules"][0]["bucketKeyEnabled"] is False


def test_cache_is_encrypted_with_a_generated_token() -> None:
    rec = build(lambda: Cache("t-cache", CacheArgs(subnet_ids=["a", "b"], security_group_ids=["sg"])))
    [group] = inputs_of(rec, "aws:elasticache/replicationGroup:ReplicationGroup")
    assert group["transitEncryptionEnabled"] is True and group["atRestEncryptionEnabled"] is True
    [password] = inputs_of(rec, "random:index/randomPassword:RandomPassword")
    assert password["special"] is False and password["length"] >= 16
    [version] = inputs_of(rec, "aws:secretsmanager/secretVersion:SecretVersion")
    assert "secretString" in version


# ----------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: network_args(az_count=1), "availabilityZoneCount must be ≥ 2"),
        (lambda: network_args(public_subnets=("10.0.192.0/20",)), "publicSubnetCidrs must list one CIDR per AZ"),
        (lambda: network_args(data_subnets=("10.0.0.0/20", "10.0.144.0/20", "10.0.160.0/20")), "overlaps"),
        (lambda: network_args(flow_log_retention_days=10), "retention period"),
        (lambda: SecurityArgs(vpc_id="v", public_ports=(443, 22)), "only ports 80 and 443"),
        (lambda: SecurityArgs(vpc_id="v", app_port=443), "must differ"),
        (lambda: SecureBucketArgs(sse_algorithm="none"), "sse_algorithm"),
        (lambda: QueueArgs(config=QueueConfig(max_receive_count=0)), "queueMaxReceiveCount must be ≥ 1"),
        (
            lambda: CacheArgs(subnet_ids=["a", "b"], security_group_ids=["s"], config=CacheConfig(num_nodes=1)),
            "cacheAutomaticFailover needs cacheNumNodes ≥ 2",
        ),
        (
            lambda: CacheArgs(subnet_ids=["a", "b"], security_group_ids=["s"],
                              config=CacheConfig(automatic_failover=False)),
            "cacheMultiAz needs cacheAutomaticFailover to be true",
        ),
        (
            lambda: DatabaseArgs(subnet_ids=["a", "b"], security_group_ids=["s"],
                                 config=DatabaseConfig(backup_retention_days=0)),
            "dbBackupRetentionDays must be ≥ 1",
        ),
        (lambda: DatabaseArgs(subnet_ids=["a"], security_group_ids=["s"]), "at least 2 AZs"),
        (
            lambda: EdgeArgs(vpc_id="v", subnet_ids=["a", "b"], security_group_ids=["s"], region="us-east-1",
                             certificate_arn="arn:aws:iam::1:server-certificate/x"),
            "not an ACM certificate ARN",
        ),
        (lambda: compute_args(config=ComputeConfig(min_size=3, desired_capacity=2)),
         "asgDesiredCapacity must be between asgMinSize and asgMaxSize"),
        (lambda: compute_args(secret_arns=[]), "secret_arns"),
        (lambda: ImageRepositoryArgs(image_label="latest tag"), "not usable as the start of a container image tag"),
        (lambda: ImageRepositoryArgs(image_label="1.0", dockerfile="/nonexistent/Dockerfile"), "does not exist"),
        (lambda: compute_args(refresh_min_healthy_percent=90, refresh_max_healthy_percent=150),
         "terminates instances before their replacements"),
        (lambda: compute_args(refresh_max_healthy_percent=100), "max healthy must exceed min healthy"),
    ],
)
def test_component_args_refuse_unsafe_or_inconsistent_values(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def compute_args(**changes: Any) -> ComputeAsgArgs:
    base: dict[str, Any] = {
        "region": "us-east-1", "subnet_ids": ["a", "b"], "security_group_ids": ["s"], "target_group_arn": "tg",
        "env_parameter_name": "/p", "env_parameter_arn": "arn:p", "secret_arns": ["arn:s"],
        "bucket_arn": "arn:b", "queue_arn": "arn:q", "image": "1.dkr.ecr.us-east-1.amazonaws.com/r:1.0",
        "repository_arn": "arn:r", "signing_key_arn": "arn:k",
    }
    return ComputeAsgArgs(**{**base, **changes})


def test_secure_defaults() -> None:
    db = DatabaseArgs(subnet_ids=["a", "b"], security_group_ids=["s"]).config
    assert (db.multi_az, db.deletion_protection, db.backup_retention_days >= 7) == (True, True, True)
    cache = CacheArgs(subnet_ids=["a", "b"], security_group_ids=["s"]).config
    assert (cache.multi_az, cache.automatic_failover) == (True, True)
    assert EdgeArgs(vpc_id="v", subnet_ids=["a", "b"], security_group_ids=["s"], region="r").config.deletion_protection
    assert network_args().config.nat_gateway_per_az is True
    assert compute_args().config.min_size >= 2
    assert parameter_group_family("16.4") == "postgres16"


# ----------------------------------------------------------------------------- typed arguments catch typos


@pytest.mark.parametrize(
    "args_class", [NetworkArgs, SecurityArgs, SecureBucketArgs, QueueArgs, CacheArgs, DatabaseArgs, EdgeArgs,
                   ComputeAsgArgs, ImageRepositoryArgs],
)
def test_component_args_are_frozen_keyword_only_dataclasses(args_class: type) -> None:
    params = args_class.__dataclass_params__
    assert params.frozen
    assert all(f.kw_only for f in dataclasses.fields(args_class))


def test_a_misspelt_component_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="nat_gateways_per_az"):
        network_args(nat_gateways_per_az=True)


def test_a_missing_required_component_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="security_group_ids"):
        CacheArgs(subnet_ids=["a", "b"])  # type: ignore[call-arg]


def test_a_misspelt_sdk_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="http_token"):
        aws.ec2.LaunchTemplateMetadataOptionsArgs(http_token="required")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="enable"):
        aws.lb.TargetGroupStickinessArgs(type="lb_cookie", enable=False)  # type: ignore[call-arg]


def test_a_misspelt_resource_argument_is_a_type_error_under_mocks() -> None:
    with pytest.raises(ProgramFailed, match="TypeError: .*stickyness"):
        build(lambda: aws.lb.TargetGroup("t-tg", port=8000, protocol="HTTP", stickyness=None))  # type: ignore[call-arg]


def test_a_missing_required_sdk_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="strategy"):
        aws.autoscaling.GroupInstanceRefreshArgs()  # type: ignore[call-arg]


def test_app_environment_output_resolves_inputs_into_the_contract() -> None:
    from infra.components.app_config import AppRuntimeInputs, app_environment_output
    from infra.lib.app_env import APP_ENV_KEYS

    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}"
    seen: list[dict[str, str]] = []

    def program() -> None:
        inputs = AppRuntimeInputs(
            region="us-east-1",
            database_host=pulumi.Output.from_input("db.internal"),
            database_port=pulumi.Output.from_input(5432),
            database_name="app",
            database_secret_arn=pulumi.Output.from_input(arn.format("db")),
            redis_host="cache.internal",
            redis_port=6379,
            redis_auth_secret_arn=arn.format("redis"),
            bucket="bucket",
            queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/q",
            jwt_kms_key_id="arn:aws:kms:us-east-1:123456789012:key/abcd-1234",
            jwt_issuer="issuer",
            jwt_audience="audience",
            app_port=8080,
            keepalive_timeout_seconds=125,
        )
        app_environment_output(inputs).apply(seen.append)

    build(program)
    [env] = seen
    assert tuple(env) == APP_ENV_KEYS
    assert env["APP_DATABASE_HOST"] == "db.internal" and env["APP_DATABASE_PORT"] == "5432"
    assert env["APP_REDIS_URL"] == "rediss://cache.internal:6379"
    assert (env["APP_PORT"], env["APP_KEEPALIVE_TIMEOUT_SECONDS"]) == ("8080", "125")


# ----------------------------------------------------------------------------- one default per knob


def test_component_defaults_equal_the_stack_schema_defaults() -> None:
    """A knob's secure default is the same in the component and in Pulumi.yaml/settings.SCHEMA."""
    from infra import config
    from infra.components.api import ApiGatewayArgs
    from infra.components.compute_eks import ComputeEksArgs
    from infra.components.migration import MigrationArgs
    from infra.components.worker import WorkerArgs
    from infra.settings import KEYS

    def default(cls: type, name: str) -> Any:
        f = cls.__dataclass_fields__[name]
        return f.default_factory() if f.default is dataclasses.MISSING else f.default

    # Each config object's defaults are its keys' defaults (an "unset" value reads as None).
    for concern in config.CONCERNS:
        for f in dataclasses.fields(concern):
            key, unset = f.metadata["key"], f.metadata["unset"]
            if key.required:
                continue
            want = None if key.default == unset else key.default
            got = default(concern, f.name)
            assert (list(got) if isinstance(got, tuple) else got) == want, key.name

    # Components that take a config object start from the stack's defaults.
    for args_class, concern in [(NetworkArgs, config.NetworkConfig), (QueueArgs, config.QueueConfig),
                                (CacheArgs, config.CacheConfig),
                                (DatabaseArgs, config.DatabaseConfig), (SecureBucketArgs, config.StorageConfig),
                                (ComputeAsgArgs, config.ComputeConfig), (EdgeArgs, config.EdgeConfig),
                                (WorkerArgs, config.WorkerConfig), (ApiGatewayArgs, config.IngressConfig)]:
        assert default(args_class, "config") == concern(), args_class.__name__

    pairs = [
        (ComputeEksArgs, "deletion_protection", "eksDeletionProtection"),
        (ComputeEksArgs, "kubernetes_version", "eksKubernetesVersion"),
        (ComputeEksArgs, "log_retention_days", "logRetentionDays"),
        (NetworkArgs, "flow_log_retention_days", "logRetentionDays"),
        (EdgeArgs, "log_retention_days", "logRetentionDays"),
        (EdgeArgs, "app_port", "appPort"),
        (ComputeAsgArgs, "log_retention_days", "logRetentionDays"),
        (WorkerArgs, "log_retention_days", "logRetentionDays"),
        (DatabaseArgs, "log_retention_days", "logRetentionDays"),
        (MigrationArgs, "log_retention_days", "logRetentionDays"),
        (ApiGatewayArgs, "access_log_retention_days", "logRetentionDays"),
    ]
    mismatched = [(cls.__name__, field, default(cls, field), KEYS[key].default) for cls, field, key in pairs
                  if default(cls, field) != KEYS[key].default]
    assert mismatched == []
    # No reservation by default on either side (the schema's 0 means none).
    assert config.WorkerConfig().reserved_concurrency is None and KEYS["workerReservedConcurrency"].default == 0


def test_a_security_group_flow_names_exactly_one_peer() -> None:
    from infra.components.security import flow_in, flow_out

    with pytest.raises(ValueError, match="names exactly one peer"):
        flow_in("t-in", "sg-a", 5432, description="neither", opts=pulumi.ResourceOptions())
    with pytest.raises(ValueError, match="names exactly one peer"):
        flow_out("t-out", "sg-a", 443, target="sg-b", cidr="0.0.0.0/0", description="both",
                 opts=pulumi.ResourceOptions())


def test_component_outputs_use_camel_case_keys() -> None:
    """One key style for register_outputs across components (the engine's own property style)."""
    import re
    from pathlib import Path

    snake = []
    for path in sorted((Path(__file__).resolve().parents[4] / "infra" / "components").glob("*.py")):
        text = path.read_text()
        for call in re.finditer(r"self\.register_outputs\((.*?)\)\n", text, re.S):
            snake += [f"{path.name}: {k}" for k in re.findall(r'"([a-z0-9]+_[a-z0-9_]+)":', call[1])]
    assert snake == []
