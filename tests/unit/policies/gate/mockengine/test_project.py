"""Project and stack files read as the CLI reads them: YAML 1.2 core scalars (gopkg.in/yaml.v3), and
`secure:` values, at any depth, decrypted to placeholders of a usable shape."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from policies.gate.mockengine import PLACEHOLDER_SECRET_PREFIX, ProjectError, load_project, load_stack_config
from policies.gate.mockengine.project import _YAML_LOADER, placeholder_secret


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("off", "off"),
        ("on", "on"),
        ("yes", "yes"),
        ("No", "No"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("~", None),
        ("null", None),
        ("", None),
        ("0x1F", 31),
        ("0o17", 15),
        ("017", 15),
        ("1_000", 1000),
        ("-3", -3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("2024-01-01", "2024-01-01"),
        ("12abc", "12abc"),
        ('"5"', "5"),
    ],
)
def test_plain_scalars_resolve_as_go_yaml_v3_resolves_them(text: str, value: object) -> None:
    assert yaml.load(f"k: {text}\n", Loader=_YAML_LOADER) == {"k": value}  # noqa: S506 - a safe loader


def test_a_string_key_declared_with_default_off_keeps_the_string(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: demo\nruntime: python\nconfig:\n  reasoning:\n    type: string\n    default: off\n"
        "  verbose:\n    type: boolean\n    default: yes\n"
    )
    (tmp_path / "__main__.py").write_text("")
    project = load_project(tmp_path)
    assert project.declarations["demo:reasoning"].default == "off"
    # yes is a string to the CLI too, so a boolean declared with it is refused, as the CLI refuses it
    # (pulumi/pulumi sdk/go/common/workspace/project.go: "The default value specified for
    # configuration key ... is not of the expected type").
    with pytest.raises(ProjectError, match="demo:verbose is declared as boolean but is 'yes'"):
        load_stack_config(project, "dev")


def test_secure_values_nested_in_objects_and_lists_decrypt_and_mark_the_key_secret(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  demo:db:\n    user: app\n    password:\n      secure: AAAA\n"
        "    replicas:\n      - password:\n          secure: BBBB\n"
        "  demo:plain:\n    user: app\n"
        "  demo:privateKey:\n    secure: CCCC\n"
    )
    config = load_stack_config(load_project(tmp_path), "dev")
    assert config.values["demo:db"] == {
        "user": "app",
        "password": PLACEHOLDER_SECRET_PREFIX + "password",
        "replicas": [{"password": PLACEHOLDER_SECRET_PREFIX + "password"}],
    }
    assert config.secret_keys == {"demo:db", "demo:privateKey"}
    assert "AAAA" not in str(config.values) and "BBBB" not in str(config.values)
    key = config.values["demo:privateKey"]
    assert key.startswith("-----BEGIN RSA PRIVATE KEY-----\n") and key.endswith("-----END RSA PRIVATE KEY-----\n")


def test_placeholders_have_the_shape_their_name_suggests() -> None:
    assert placeholder_secret("dbPassword") == "mock-secret-dbPassword"
    pem = placeholder_secret("sshPrivateKey").splitlines()
    assert pem[0] == "-----BEGIN RSA PRIVATE KEY-----" and pem[-1] == "-----END RSA PRIVATE KEY-----"
    assert base64.b64decode(pem[1]).decode() == "mock-secret-sshPrivateKey"
    assert placeholder_secret("tlsCert").startswith("-----BEGIN CERTIFICATE-----\n")
