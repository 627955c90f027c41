"""The gate package's own names (policies/gate/__init__.py): the judging side's types are loaded when
first asked for, and a name the package does not have is an AttributeError that says so."""

from __future__ import annotations

import contextlib

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
