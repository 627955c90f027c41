"""Releases and day 2 under the mock engine: one image promoted by digest, the migration before every
piece of new code, environment changes that roll the instances, a dev stack that destroys, and the
smaller points of the release review (/metrics, S3 endpoint, DNS, architectures)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from infra.lib import user_data
from infra.settings import ConfigError, parse_settings
from policies.gate.mockengine import ProgramRun, Resource, run_program
from tests.unit.infra.conftest import ROOT, config_of, program_run

DIGEST = "sha256:" + "5e" * 32
IMAGE = "docker-build:index:Image"
INVOCATION = "aws:lambda/invocation:Invocation"
FUNCTION = "aws:lambda/function:Function"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUP = "aws:autoscaling/group:Group"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RULES = ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
         "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
ROUTING = ("aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation",
           "aws:ec2/natGateway:NatGateway", "aws:ec2/vpcEndpoint:VpcEndpoint")


@pytest.fixture(scope="module")
def promoted() -> ProgramRun:
    """prod as the pipeline deploys it: with the digest staging ran."""
    return run_program(ROOT, "prod", config_overrides={"imageDigest": DIGEST})


def user_data_of(template: Resource) -> str:
    return base64.b64decode(template.inputs["userData"]).decode()


def image_consumers(run: ProgramRun) -> list[tuple[Resource, str]]:
    """Every resource that runs the app image, with the image reference it runs (other images, such as
    the Cluster Autoscaler's, are not the app's code)."""
    found = [(fn, fn.inputs["imageUri"]) for fn in run.of_type(FUNCTION)]
    for template in run.of_type(TEMPLATE):
        script = user_data_of(template) if template.inputs.get("userData") else ""
        pulls = [line.split()[-1] for line in script.splitlines() if line.startswith("docker pull ")]
        found += [(template, ref) for ref in pulls]
    for deployment in run.of_type(DEPLOYMENT):
        for container in deployment.inputs["spec"]["template"]["spec"]["containers"]:
            found.append((deployment, container["image"]))
    repository = run.one("aws:ecr/repository:Repository").outputs["repositoryUrl"]
    return [(r, ref) for r, ref in found if ref.startswith(f"{repository}@")]


# ----------------------------------------------------------------------------- one image, promoted by digest


def test_a_promoted_stack_builds_nothing_and_runs_the_given_digest_everywhere(promoted: ProgramRun) -> None:
    assert promoted.of_type(IMAGE) == []
    repo = promoted.one("aws:ecr/repository:Repository")
    expected = f"{repo.outputs['repositoryUrl']}@{DIGEST}"
    assert promoted.outputs["appImage"] == expected
    consumers = image_consumers(promoted)
    # Both functions and the launch template.
    assert {r.type for r, _ in consumers} == {FUNCTION, TEMPLATE} and len(consumers) == 3
    assert {ref for _, ref in consumers} == {expected}
    # Still immutable: the pipeline's copy may add a tag, never move one.
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"


def test_the_first_stack_pushes_only_under_a_tag_that_hashes_what_the_provider_rebuilds_for(
    dev: ProgramRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra.components.registry import ImageRepositoryArgs, build_inputs

    # The engine runs the program (and the provider) in the program's directory.
    monkeypatch.chdir(ROOT / "infra")
    built = dev.one(IMAGE)
    repo = dev.one("aws:ecr/repository:Repository")
    args = ImageRepositoryArgs(image_label=config_of("dev")["appImageTag"])
    assert built.inputs["tags"] == [f"{repo.outputs['repositoryUrl']}:{args.tag()}"]
    # Every input the provider's Diff compares (besides the registry password) feeds the tag.
    inputs = build_inputs(args.context_dir, args.dockerfile)
    assert built.inputs["context"] == {"location": inputs["context.location"]}
    assert built.inputs["dockerfile"] == {"location": inputs["dockerfile.location"]}
    assert built.inputs["platforms"] == [inputs["platforms"]]
    assert str(built.inputs["push"]).lower() == inputs["push"]
    assert str(built.inputs["buildOnPreview"]).lower() == inputs["buildOnPreview"]
    assert built.inputs["network"] == inputs["network"]
    handled = {"context", "dockerfile", "platforms", "push", "buildOnPreview", "network", "tags", "registries"}
    assert set(built.inputs) <= handled, set(built.inputs) - handled


# ----------------------------------------------------------------------------- the migration first


@pytest.mark.parametrize("name", ["dev", "prod", "dev-eks", "asg-apigateway"])
def test_everything_that_runs_new_code_waits_for_the_migration(name: str) -> None:
    run = program_run(name)
    [invocation] = run.of_type(INVOCATION)
    migration_fn = next(fn for fn in run.of_type(FUNCTION) if fn.urn in invocation.dependencies
                        or fn.urn in invocation.property_dependencies.get("functionName", ()))
    waiting = [r for r, _ in image_consumers(run) if r.urn != migration_fn.urn]
    assert waiting, "no consumer of the image found"
    for resource in waiting:
        assert invocation.urn in resource.dependencies, f"{resource.type} {resource.name} does not wait"
    for group in run.of_type(GROUP):
        assert invocation.urn in group.dependencies
    for mapping in run.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"):
        assert invocation.urn in mapping.dependencies


@pytest.mark.parametrize("name", ["dev", "prod", "dev-eks"])
def test_the_migration_runs_only_after_every_rule_and_route_it_needs(name: str) -> None:
    run = program_run(name)
    [invocation] = run.of_type(INVOCATION)
    needed = [r for r in run.of_type(*RULES, *ROUTING)]
    assert any(r.type == "aws:ec2/natGateway:NatGateway" for r in needed)
    missing = [f"{r.type} {r.name}" for r in needed if r.urn not in invocation.dependencies]
    # Rules added later for other functions and the API are no path of the migration's.
    assert all("worker" in m or "api" in m or "vpc-link" in m for m in missing), missing
    own = [r for r in run.of_type(*RULES) if "migrate" in r.name]
    assert own and all(r.urn in invocation.dependencies for r in own)


# ----------------------------------------------------------------------------- environment → launch template


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_the_launch_template_carries_the_digest_of_the_environment_instances_read(name: str) -> None:
    run = program_run(name)
    parameter = next(p for p in run.of_type("aws:ssm/parameter:Parameter") if p.name.endswith("-parameter")
                     or "environment" in str(p.inputs.get("name", "")))
    environment = json.loads(parameter.inputs["value"])
    script = user_data_of(run.one(TEMPLATE))
    assert f"# app environment sha256:{user_data.environment_digest(environment)}\n" in script


@pytest.mark.parametrize(
    ("change", "variable"),
    [({"albIdleTimeoutSeconds": 120}, "APP_KEEPALIVE_TIMEOUT_SECONDS"),
     ({"jwtIssuer": "other-issuer"}, "APP_JWT_ISSUER"),
     ({"appPort": 8080}, "APP_PORT"), ({"jwtAudience": "other"}, "APP_JWT_AUDIENCE")],
)
def test_a_stack_setting_that_reaches_the_environment_changes_the_launch_template(
    dev: ProgramRun, change: dict[str, Any], variable: str
) -> None:
    changed = run_program(ROOT, "dev", config_overrides=change)
    before, after = user_data_of(dev.one(TEMPLATE)), user_data_of(changed.one(TEMPLATE))
    assert before != after
    old_env = json.loads(next(iter(dev.of_type("aws:ssm/parameter:Parameter"))).inputs["value"])
    new_env = json.loads(next(iter(changed.of_type("aws:ssm/parameter:Parameter"))).inputs["value"])
    assert old_env[variable] != new_env[variable]


# ----------------------------------------------------------------------------- teardown


@pytest.mark.parametrize("name", ["dev", "dev-eks", "staging", "prod"])
def test_only_disposable_stacks_destroy_buckets_and_repositories_with_their_contents(name: str) -> None:
    run = program_run(name)
    disposable = bool(config_of(name).get("disposable", False))
    assert disposable is name.startswith("dev")
    buckets = run.of_type("aws:s3/bucket:Bucket")
    repos = run.of_type("aws:ecr/repository:Repository")
    assert len(buckets) >= 2 and repos
    assert all(bool(b.inputs.get("forceDestroy")) is disposable for b in buckets)
    assert all(bool(r.inputs.get("forceDelete")) is disposable for r in repos)


# ----------------------------------------------------------------------------- the smaller points


@pytest.mark.parametrize("name", ["dev", "prod", "eks-alb"])
def test_an_internet_facing_alb_answers_metrics_itself(name: str) -> None:
    run = program_run(name)
    [rule] = run.of_type("aws:lb/listenerRule:ListenerRule")
    forwarding = [listener for listener in run.of_type("aws:lb/listener:Listener")
                  if listener.inputs["defaultActions"][0]["type"] == "forward"]
    assert [rule.inputs["listenerArn"]] == [listener.outputs["arn"] for listener in forwarding]
    assert rule.inputs["priority"] == 1
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/metrics*"]}}]
    [action] = rule.inputs["actions"]
    assert action["type"] == "fixed-response" and action["fixedResponse"]["statusCode"] == "404"


def test_an_internal_alb_has_no_metrics_rule() -> None:
    assert program_run("asg-apigateway").of_type("aws:lb/listenerRule:ListenerRule") == []


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_s3_goes_through_a_gateway_endpoint_on_the_app_route_tables_only(name: str) -> None:
    run = program_run(name)
    endpoint = run.one("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    region = run_program_region(name)
    assert endpoint.inputs["serviceName"] == f"com.amazonaws.{region}.s3"
    app_tables = {t.outputs["id"] for t in run.of_type("aws:ec2/routeTable:RouteTable") if "-app-rt-" in t.name}
    assert set(endpoint.inputs["routeTableIds"]) == app_tables and app_tables


def run_program_region(name: str) -> str:
    import yaml

    stack = {"dev": "dev", "prod": "prod"}[name]
    return str(yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["aws:region"])


ZONE = "Z0123456789ABCDEFGHIJ"


def test_a_hosted_zone_gets_the_alias_record_and_app_url_is_the_domain() -> None:
    run = run_program(ROOT, "prod", config_overrides={"hostedZoneId": ZONE})
    record = run.one("aws:route53/record:Record")
    alb = run.one("aws:lb/loadBalancer:LoadBalancer")
    domain = config_of("prod")["certificateDomain"]
    assert (record.inputs["zoneId"], record.inputs["name"], record.inputs["type"]) == (ZONE, domain, "A")
    assert record.inputs["aliases"] == [{"name": alb.outputs["dnsName"], "zoneId": alb.outputs["zoneId"],
                                         "evaluateTargetHealth": True}]
    assert run.outputs["appUrl"] == f"https://{domain}"
    assert program_run("prod").of_type("aws:route53/record:Record") == []


def test_apigateway_with_a_hosted_zone_points_the_issuer_host_at_the_api() -> None:
    run = run_program(ROOT, "dev-eks", config_overrides={"hostedZoneId": ZONE})
    record = run.one("aws:route53/record:Record")
    domain = config_of("dev-eks")["apiDomainName"]
    api_domain = run.one("aws:apigatewayv2/domainName:DomainName")
    assert record.inputs["name"] == domain
    assert api_domain.urn in record.dependencies or api_domain.urn in {
        u for us in record.property_dependencies.values() for u in us}
    assert config_of("dev-eks")["jwtIssuer"] == f"https://{domain}"


def settings_error(stack: str = "prod", **changes: Any) -> str:
    import yaml

    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    raw = {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith("stateless-stack:")}
    raw.update(changes)
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack=stack, region=doc["aws:region"])
    return str(caught.value)


def test_settings_refuse_what_cannot_be_released() -> None:
    assert "imageDigest must be sha256:<64 hex>" in settings_error(imageDigest="latest")
    assert "exec format error" in settings_error(
        instanceType="m7g.large", amiParameter="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64")
    assert "RunInstances" in settings_error(instanceType="m7g.large")
    assert "RunInstances" in settings_error(
        instanceType="t4g.small", amiParameter="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    assert "eksNodeInstanceTypes" in settings_error("dev-eks", eksNodeInstanceTypes=["t4g.medium"])
    assert "hostedZoneId needs certificateDomain" in settings_error("dev", hostedZoneId=ZONE)
    assert "hostedZoneId must be" in settings_error(hostedZoneId="not-a-zone")

