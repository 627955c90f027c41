"""The gate package's own names (policies/gate/__init__.py): the judging side's types are loaded when
first asked for, and a name the package does not have is an AttributeError that says so."""

from __future__ import annotations

import contextlib
import json

import pytest

import policies.gate as gate
from policies.gate import config, evaluate, records


def test_the_judging_sides_types_are_the_modules_own() -> None:
    assert gate.Violation is evaluate.Violation
    assert gate.PolicySettings is config.PolicySettings
    assert gate.Resource is records.Resource


def test_a_name_the_package_lacks_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError) as raised:
        gate.Nothing  # noqa: B018 - the lookup is the test
    assert str(raised.value) == "module 'policies.gate' has no attribute 'Nothing'"
    assert not hasattr(gate, "violation")


def test_the_project_layout_is_the_name_and_stack_config_dir_of_the_project_file(tmp_path) -> None:
    assert gate._project_layout(tmp_path) == ("", tmp_path)
    (tmp_path / "Pulumi.yml").write_text("name: shop\nruntime: python\n")
    assert gate._project_layout(tmp_path) == ("shop", tmp_path)
    (tmp_path / "Pulumi.yaml").write_text("name: web\nruntime: python\nstackConfigDir: stacks\n")
    # Pulumi.yaml is read before Pulumi.yml.
    assert gate._project_layout(tmp_path) == ("web", tmp_path / "stacks")
    (tmp_path / "Pulumi.yaml").write_text("runtime: python\nstackConfigDir: ''\n")
    assert gate._project_layout(tmp_path) == ("", tmp_path)
    (tmp_path / "Pulumi.yaml").write_text("- a list\n")
    assert gate._project_layout(tmp_path) == ("", tmp_path)


def test_a_project_file_that_is_not_yaml_is_a_gate_error_naming_it(tmp_path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: [unclosed\n")
    with pytest.raises(gate.GateError, match=r"Pulumi\.yaml: cannot be read as a project file: while parsing"):
        gate._project_layout(tmp_path)
    (tmp_path / "Pulumi.yaml").unlink()
    (tmp_path / "Pulumi.yaml").mkdir()
    (tmp_path / "Pulumi.yml").write_text("name: fallback\n")
    # A directory named Pulumi.yaml is not a project file.
    assert gate._project_layout(tmp_path) == ("fallback", tmp_path)


def test_the_stacks_of_a_project_are_its_stack_files_in_order(tmp_path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: web\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir()
    for name in ("prod", "dev", "dev.eu"):
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    (tmp_path / "stacks" / "Pulumi.staging.yaml").mkdir()  # not a file: not a stack
    (tmp_path / "stacks" / "Pulumi.qa.yml").write_text("config: {}\n")  # the CLI reads .yaml only
    (tmp_path / "Pulumi.beside.yaml").write_text("config: {}\n")  # outside stackConfigDir
    assert gate.stack_names(tmp_path) == ["dev", "dev.eu", "prod"]
    with contextlib.chdir(tmp_path):
        assert gate.stack_names() == ["dev", "dev.eu", "prod"]  # the working directory by default


def test_a_project_without_stack_files_or_project_file_is_a_gate_error(tmp_path) -> None:
    (tmp_path / "Pulumi.yml").write_text("name: web\nruntime: python\n")
    with pytest.raises(gate.GateError) as raised:
        gate.stack_names(tmp_path)
    assert str(raised.value) == f"--all-stacks: {tmp_path} has no Pulumi.<stack>.yaml files"
    empty = tmp_path / "empty"
    empty.mkdir()
    # The engine's own words for a directory without a project.
    with pytest.raises(gate.GateError) as missing:
        gate.stack_names(empty)
    assert str(missing.value) == f"{empty}: no Pulumi.yaml (is this a Pulumi project directory?)"


# --- run_document: a state or preview document judged without running anything -----------------------


def _public_bucket_state(tmp_path, project: str = "site") -> str:
    bucket = {"acl": "public-read", "bucket": "site-content"}
    doc = {
        "version": 3,
        "deployment": {
            "resources": [
                {
                    "urn": f"urn:pulumi:dev::{project}::aws:s3/bucket:Bucket::content",
                    "custom": True,
                    "type": "aws:s3/bucket:Bucket",
                    "inputs": bucket,
                    "outputs": bucket,
                }
            ]
        },
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_document_is_judged_by_the_policies_given_and_only_those(tmp_path) -> None:
    from policies.pack import POLICIES

    state = _public_bucket_state(tmp_path)
    everything = gate.run_document("state", state, "dev", tmp_path)
    assert "s3-no-public-access" in {v.policy for v in everything.violations}
    assert len({v.policy for v in everything.violations}) > 1
    only = [p for p in POLICIES if p.name == "s3-no-public-access"]
    judged = gate.run_document("state", state, "dev", tmp_path, policies=only)
    assert {v.policy for v in judged.violations} == {"s3-no-public-access"}


def test_a_document_is_judged_with_the_policy_config_of_the_project_in_the_working_directory(
    tmp_path, monkeypatch
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: site\nruntime: python\n")
    (tmp_path / "policy.dev.json").write_text(json.dumps({"s3-no-public-access": "advisory"}))
    monkeypatch.chdir(tmp_path)
    result = gate.run_document("state", _public_bucket_state(tmp_path), "dev")
    assert [v.enforcement for v in result.violations if v.policy == "s3-no-public-access"] == ["advisory"]


def test_a_malformed_document_is_an_error_naming_its_file(tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"version": 3, "deployment": {"resources": {}}}))
    with pytest.raises(gate.GateError) as raised:
        gate.run_document("state", str(path), "dev", tmp_path)
    assert str(raised.value) == f"{path}: deployment.resources must be a list"


def test_another_projects_document_is_not_judged_with_this_projects_policy_config(tmp_path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: site\nruntime: python\n")
    (tmp_path / "policy.dev.json").write_text(json.dumps({"s3-no-public-access": "advisory"}))
    result = gate.run_document("state", _public_bucket_state(tmp_path, project="other"), "dev", tmp_path)
    assert result.policy_config is None
    assert [v.enforcement for v in result.violations if v.policy == "s3-no-public-access"] == ["mandatory"]


def test_a_document_without_resources_belongs_to_the_project_it_is_judged_in(tmp_path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: site\nruntime: python\n")
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"version": 3, "deployment": {"resources": []}}))
    assert gate.run_document("state", str(path), "dev", tmp_path).project == "site"


def test_a_policy_config_that_is_missing_or_wrong_is_an_error_naming_its_file(tmp_path) -> None:
    state = _public_bucket_state(tmp_path)
    missing = tmp_path / "nowhere.json"
    with pytest.raises(gate.GateError) as raised:
        gate.run_document("state", state, "dev", tmp_path, policy_config=missing)
    assert str(raised.value) == f"{missing}: policy config file not found"
    wrong = tmp_path / "policy.json"
    wrong.write_text(json.dumps({"no-such-policy": "advisory"}))
    with pytest.raises(gate.GateError) as raised:
        gate.run_document("state", state, "dev", tmp_path, policy_config=wrong)
    assert str(raised.value).startswith(f"{wrong}: no policy named 'no-such-policy' in this pack")


def test_a_policy_that_names_no_level_takes_the_packs(tmp_path) -> None:
    from pulumi_policy import ResourceValidationPolicy

    from policies.pack import PACK_ENFORCEMENT

    def validate(args, report) -> None:
        report("a finding")

    policy = ResourceValidationPolicy("levelless", "names no level", validate=validate)
    assert policy.enforcement_level is None
    result = gate.run_document("state", _public_bucket_state(tmp_path), "dev", tmp_path, policies=[policy])
    assert result.settings["levelless"].enforcement == PACK_ENFORCEMENT
    assert [(v.policy, v.enforcement) for v in result.violations] == [("levelless", PACK_ENFORCEMENT.value)]


def test_a_stack_policys_finding_on_a_document_names_the_documents_stack(tmp_path) -> None:
    from pulumi_policy import EnforcementLevel, StackValidationPolicy

    def validate(args, report) -> None:
        report("about the whole stack")

    policy = StackValidationPolicy("whole-stack", "judges the stack", validate, EnforcementLevel.MANDATORY)
    result = gate.run_document("state", _public_bucket_state(tmp_path, project="shop"), "dev", tmp_path,
                               policies=[policy])
    assert [(v.urn, v.name) for v in result.violations] == [
        ("urn:pulumi:dev::shop::pulumi:pulumi:Stack::shop-dev", "shop-dev")
    ]
