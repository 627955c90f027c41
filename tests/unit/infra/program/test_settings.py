"""Settings: every bad value fails before any resource, with one message naming the key and stack file."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import settings
from infra.lib import eks_versions
from infra.settings import ConfigError, parse_settings
from policies.gate.mockengine import ProgramError, run_program

ROOT = Path(__file__).resolve().parents[4]


def stack_values(stack: str) -> tuple[dict[str, Any], str]:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    raw = {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith("stateless-stack:")}
    return raw, doc["aws:region"]


def parse(stack: str = "prod", region: str | None = None, **changes: Any) -> settings.Settings:
    raw, stack_region = stack_values(stack)
    raw.update(changes)
    raw = {k: v for k, v in raw.items() if v is not None}
    return parse_settings(raw, stack=stack, region=region or stack_region)


def error(stack: str = "prod", region: str | None = None, **changes: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse(stack, region, **changes)
    return str(info.value)


# ----------------------------------------------------------------------------- the stacks as written


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "dev-eks"])
def test_every_stack_file_is_valid(stack: str) -> None:
    s = parse(stack)
    assert s.stack == stack and s.environment == stack
    assert s.stack_file == f"stacks/Pulumi.{stack}.yaml"
    assert s.network.az_count == len(s.network.public_subnets) == len(s.network.app_subnets)


def test_settings_are_frozen() -> None:
    s = parse("dev")
    with pytest.raises(AttributeError):
        s.compute.min_size = 5  # type: ignore[misc]


def test_engine_strings_are_parsed_like_native_values() -> None:
    raw, region = stack_values("prod")
    as_strings = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}
    assert parse_settings(as_strings, stack="prod", region=region) == parse_settings(raw, stack="prod", region=region)


def test_defaults_fill_unset_keys() -> None:
    s = parse_settings({"environment": "qa"}, stack="qa", region="eu-west-1")
    assert s.compute.mode == "asg"
    assert s.database.multi_az is True and s.database.deletion_protection is True
    assert s.edge.certificate_arn is None
    assert s.network.vpc_cidr == "10.0.0.0/16"


# ----------------------------------------------------------------------------- each kind of error


def test_wrong_type() -> None:
    assert error(asgMinSize="two") == (
        "stacks/Pulumi.prod.yaml: stateless-stack:asgMinSize must be an integer (got 'two')"
    )
    assert error(dbMultiAz="yes") == (
        "stacks/Pulumi.prod.yaml: stateless-stack:dbMultiAz must be a boolean, true or false (got 'yes')"
    )
    assert "must be a list of strings" in error(appSubnetCidrs="10.0.0.0/24")


def test_unknown_enum_value() -> None:
    assert error(computeMode="lambda") == (
        "stacks/Pulumi.prod.yaml: stateless-stack:computeMode must be one of asg, eks (got 'lambda')"
    )


def test_every_declared_mode_is_built() -> None:
    assert frozenset(settings.COMPUTE_MODES) == settings.IMPLEMENTED_COMPUTE_MODES
    s = parse("dev", computeMode="eks", eksNodeMinSize=2, eksNodeMaxSize=3, eksDeployFromVpc=True,
              eksDeployerPrincipalArn="role/deploy-dev")
    assert s.compute.mode == "eks" and s.eks is not None and s.eks.node_desired_size == 2
    assert parse("dev").eks is None


def test_pulumi_yaml_block_is_rendered_from_the_schema() -> None:
    text = (ROOT / "Pulumi.yaml").read_text()
    assert text[text.index("config:\n"):] == settings.pulumi_yaml_declarations()


def test_committed_pulumi_yaml_and_readme_table_equal_the_rendering() -> None:
    """`python -m infra.settings --write` was run after the last change to infra/config.py."""
    for path, text in settings.rendered_files(ROOT).items():
        assert path.read_text() == text, f"{path.name}: run python -m infra.settings --write"
    table = settings.readme_key_table()
    assert "| `queueVisibilityTimeoutSeconds` | integer | `180` |" in table
    assert "| `computeMode` | string | `asg` | Where the app runs: an EC2 autoscaling group (asg) or EKS (eks). " \
           "One of asg, eks. |" in table


def test_the_render_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: x\nconfig:\n  stale: true\n")
    (tmp_path / "infra" / "README.md").write_text(
        f"intro\n{settings.TABLE_START}| old |\n{settings.TABLE_END}after\n")
    rendered = settings.rendered_files(tmp_path)
    assert rendered[tmp_path / "Pulumi.yaml"] == "name: x\n" + settings.pulumi_yaml_declarations()
    readme = rendered[tmp_path / "infra" / "README.md"]
    assert readme.startswith("intro\n") and readme.endswith(f"{settings.TABLE_END}after\n") and "| old |" not in readme


def test_malformed_cidr() -> None:
    message = error(vpcCidr="10.0.0.0/33")
    assert message.startswith("stacks/Pulumi.prod.yaml: stateless-stack:vpcCidr is unusable: ")
    assert "10.0.0.1/16" in error(vpcCidr="10.0.0.1/16")


def test_overlapping_subnets() -> None:
    message = error(
        "dev",
        publicSubnetCidrs=["10.10.0.0/24", "10.10.1.0/24"],
        appSubnetCidrs=["10.10.0.128/25", "10.10.16.0/20"],
        dataSubnetCidrs=["10.10.32.0/24", "10.10.33.0/24"],
    )
    assert message == (
        "stacks/Pulumi.dev.yaml: stateless-stack:appSubnetCidrs is invalid: "
        "10.10.0.128/25 overlaps 10.10.0.0/24 (publicSubnetCidrs)"
    )


def test_subnet_outside_the_vpc_and_wrong_count() -> None:
    assert "outside the VPC" in error(
        "dev",
        publicSubnetCidrs=["10.10.0.0/24", "10.99.1.0/24"],
        appSubnetCidrs=["10.10.16.0/20", "10.10.32.0/20"],
        dataSubnetCidrs=["10.10.2.0/24", "10.10.3.0/24"],
    )
    assert error("dev", publicSubnetCidrs=["10.10.0.0/24"]) == (
        "stacks/Pulumi.dev.yaml: stateless-stack:publicSubnetCidrs must list one CIDR per AZ when any subnet "
        "CIDRs are given (availabilityZoneCount is 2, got 1)"
    )


def test_min_greater_than_max() -> None:
    assert error(asgMinSize=4, asgDesiredCapacity=4, asgMaxSize=2) == (
        "stacks/Pulumi.prod.yaml: stateless-stack:asgMinSize must be ≤ asgMaxSize (got 4 > 2)"
    )
    assert error(asgDesiredCapacity=20) == (
        "stacks/Pulumi.prod.yaml: stateless-stack:asgDesiredCapacity must be between asgMinSize and asgMaxSize "
        "(got 20, allowed 3..12)"
    )
    assert "dbAllocatedStorageGb must be ≤ dbMaxAllocatedStorageGb" in error(dbAllocatedStorageGb=2000)


@pytest.mark.parametrize("key", ["dbMultiAz", "cacheMultiAz", "natGatewayPerAz"])
def test_a_stack_that_requires_multi_az_refuses_a_single_az_setting(key: str) -> None:
    assert error(**{key: False}) == (
        f"stacks/Pulumi.prod.yaml: stateless-stack:{key} must be true because requireMultiAz is true"
    )


def test_a_stack_that_requires_multi_az_needs_two_instances() -> None:
    assert error(asgMinSize=1, asgDesiredCapacity=1) == (
        "stacks/Pulumi.prod.yaml: stateless-stack:asgMinSize must be ≥ 2 because requireMultiAz is true (got 1)"
    )


def test_the_same_values_pass_where_multi_az_is_not_required() -> None:
    s = parse("staging", dbMultiAz=False, asgMinSize=1, asgDesiredCapacity=1)
    assert s.database.multi_az is False and s.compute.min_size == 1


def test_missing_required_key() -> None:
    assert error(environment=None).startswith("stacks/Pulumi.prod.yaml: stateless-stack:environment is required")


def test_missing_region() -> None:
    raw, _ = stack_values("dev")
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, stack="dev", region=None)
    assert str(info.value) == (
        "stacks/Pulumi.dev.yaml: aws:region is required (pulumi config set aws:region <region>)"
    )


def test_unknown_key_gets_a_suggestion() -> None:
    assert error(asgMinSise=2) == (
        "stacks/Pulumi.prod.yaml: stateless-stack:asgMinSise is not a setting this program knows; "
        "did you mean stateless-stack:asgMinSize?"
    )


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"availabilityZoneCount": 1}, "availabilityZoneCount must be ≥ 2 (got 1)"),
        ({"logRetentionDays": 10}, "logRetentionDays must be one of 1, 3, 5"),
        ({"certificateArn": "not-an-arn"}, "certificateArn must be an ACM certificate ARN"),
        ({"environment": "Production"}, "environment must be a lowercase label"),
        ({"environment": "production-eu"}, "environment must be a lowercase label of at most 10 characters"),
        ({"cacheNumNodes": 1}, "cacheAutomaticFailover needs cacheNumNodes ≥ 2"),
        ({"dbBackupRetentionDays": 0}, "dbBackupRetentionDays must be ≥ 1 (got 0)"),
        ({"instanceType": "large"}, "instanceType must be an EC2 instance type"),
        ({"alarmTopicArn": "oncall"}, "alarmTopicArn must be an SNS topic ARN or empty (got 'oncall')"),
    ],
)
def test_range_and_format_errors(changes: dict[str, Any], fragment: str) -> None:
    assert fragment in error(**changes)


def test_certificate_from_another_region_is_refused() -> None:
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    assert "must be in the stack's region eu-west-1" in error(region="eu-west-1", certificateDomain="",
                                                              certificateArn=arn)


# ----------------------------------------------------------------------------- through the real program


def test_the_program_stops_on_bad_config_with_the_settings_message() -> None:
    with pytest.raises(ProgramError) as info:
        run_program(
            ROOT,
            "prod",
            config_overrides={"stateless-stack:asgMinSize": 4, "stateless-stack:asgMaxSize": 2},
        )
    assert isinstance(info.value.__cause__, ConfigError)
    assert str(info.value) == "stacks/Pulumi.prod.yaml: stateless-stack:asgMinSize must be ≤ asgMaxSize (got 4 > 2)"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"stateless-stack:computeMode": "k8s"},
            "stacks/Pulumi.dev.yaml: stateless-stack:computeMode must be one of asg, eks (got 'k8s')",
        ),
        (
            {"stateless-stack:asgMaxSize": "many"},
            "stacks/Pulumi.dev.yaml: stateless-stack:asgMaxSize must be an integer (got 'many')",
        ),
        (
            {"stateless-stack:vpcCidr": "10.0.0.0"},
            "stacks/Pulumi.dev.yaml: stateless-stack:vpcCidr is unusable: '10.0.0.0' is not a CIDR block like "
            "10.0.0.0/16",
        ),
        (
            {"stateless-stack:requireMultiAz": True},
            "stacks/Pulumi.dev.yaml: stateless-stack:dbMultiAz must be true because requireMultiAz is true",
        ),
        (
            {"stateless-stack:dbMultiAzz": True},
            "stacks/Pulumi.dev.yaml: stateless-stack:dbMultiAzz is not a setting this program knows; "
            "did you mean stateless-stack:dbMultiAz?",
        ),
    ],
)
def test_program_level_config_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ProgramError) as info:
        run_program(ROOT, "dev", config_overrides=overrides)
    assert isinstance(info.value.__cause__, ConfigError)
    assert str(info.value) == message


def test_missing_required_key_through_the_program(tmp_path: Path) -> None:
    config_file = tmp_path / "Pulumi.dev.yaml"
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    del doc["config"]["stateless-stack:environment"]
    config_file.write_text(yaml.safe_dump(doc))
    with pytest.raises(ProgramError) as info:
        run_program(ROOT, "dev", config_file=config_file)
    assert isinstance(info.value.__cause__, ConfigError)
    assert str(info.value).startswith("stacks/Pulumi.dev.yaml: stateless-stack:environment is required")


# ----------------------------------------------------------------------------- Pulumi.yaml mirrors the schema


def test_pulumi_yaml_declares_every_key_with_the_schema_type_description_and_default() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == settings.PROJECT
    assert project["main"] == "infra/"
    assert project["stackConfigDir"] == settings.STACK_CONFIG_DIR
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    declared = project["config"]
    assert set(declared) == {f"{settings.PROJECT}:{k.name}" for k in settings.SCHEMA}
    for key in settings.SCHEMA:
        spec = declared[f"{settings.PROJECT}:{key.name}"]
        assert spec["type"] == key.type, key.name
        assert spec["description"] == key.description, key.name
        if key.required:
            assert "default" not in spec, key.name
        else:
            assert spec["default"] == key.default, key.name
        if key.type == "array":
            assert spec["items"] == {"type": "string"}


def test_declared_defaults_pass_their_own_validation() -> None:
    for key in settings.SCHEMA:
        if not key.required and key.type != "array":
            settings._check_value(key, key.default, lambda k, p: ConfigError("Pulumi.yaml", k, p))


def test_every_stack_file_only_uses_declared_keys() -> None:
    declared = {k.name for k in settings.SCHEMA}
    for stack in ("dev", "staging", "prod", "dev-eks"):
        raw, _ = stack_values(stack)
        assert set(raw) <= declared, stack


def test_infra_readme_documents_every_key() -> None:
    readme = (ROOT / "infra" / "README.md").read_text()
    missing = [k.name for k in settings.SCHEMA if f"| `{k.name}` |" not in readme]
    assert missing == []


def test_bad_config_stops_the_program_before_any_resource_is_registered() -> None:
    import runpy

    import pulumi
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    registered: list[str] = []

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            registered.append(args.name)
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
            return {"names": ["us-east-1a", "us-east-1b"]}

    raw, region = stack_values("prod")
    values = {f"stateless-stack:{k}": str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}
    values.update({"aws:region": region, "stateless-stack:dbMultiAz": "false"})
    runtime_config.set_all_config(values, [])
    pulumi.runtime.set_mocks(Mocks(), project="stateless-stack", stack="prod", preview=False)
    try:
        with pytest.raises(ConfigError, match="dbMultiAz must be true because requireMultiAz is true"):
            _sync_await(run_pulumi_func(lambda: runpy.run_path(str(ROOT / "infra"), run_name="__main__")))
    finally:
        runtime_config.set_all_config({}, [])
    assert registered == []


def _eks_settings(version: str, today: date) -> settings.Settings:
    raw, region = stack_values("dev-eks")
    raw["eksKubernetesVersion"] = version
    return parse_settings(raw, stack="dev-eks", region=region, today=today)


def test_the_default_kubernetes_version_is_in_standard_support_on_the_tables_date() -> None:
    assert eks_versions.in_standard_support(eks_versions.DEFAULT_VERSION, eks_versions.TABLE_DATE)
    assert _eks_settings(eks_versions.DEFAULT_VERSION, eks_versions.TABLE_DATE).warnings == ()
    assert parse("dev-eks").eks is not None and parse("dev-eks").eks.upgrade_policy == "STANDARD"  # type: ignore[union-attr]


def test_a_version_past_standard_support_warns_and_still_deploys() -> None:
    s = _eks_settings("1.34", date(2026, 12, 7))
    assert s.eks is not None and s.eks.kubernetes_version == "1.34"
    assert s.warnings == (
        "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksKubernetesVersion 1.34 is past the end of EKS standard "
        "support (2026-12-02): the cluster is billed for extended support, or with eksUpgradePolicy STANDARD is "
        f"upgraded by EKS; use 1.35 ({eks_versions.CALENDAR_SOURCE})",
    )
    # The day before, 1.34 was still in standard support: the warning follows the dated table.
    assert _eks_settings("1.34", date(2026, 12, 1)).warnings == ()
    # A version the table does not know is a warning too, not a silent pass.
    [unknown] = _eks_settings("1.36", date(2026, 12, 7)).warnings
    assert "1.36 is not in the EKS support calendar dated 2026-12-07" in unknown


def test_a_version_past_extended_support_is_refused_on_its_date() -> None:
    raw, region = stack_values("dev-eks")
    raw["eksKubernetesVersion"] = "1.32"
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, stack="dev-eks", region=region, today=date(2027, 3, 23))
    assert str(info.value).startswith("stacks/Pulumi.dev-eks.yaml: stateless-stack:eksKubernetesVersion 1.32 reached "
                                      "the end of EKS extended support on 2027-03-23")
    assert _eks_settings("1.32", date(2027, 3, 22)).warnings  # the day before: a warning, not a refusal
