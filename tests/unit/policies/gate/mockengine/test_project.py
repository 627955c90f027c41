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
        # Not an octal number: yaml.v3 falls back to its float pattern (resolve.go), never an error.
        ("08", 8.0),
        ("-019", -19.0),
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


# ----------------------------------------------------------------------------- the project file

from policies.gate.mockengine.project import ConfigDeclaration, StackConfig  # noqa: E402


def _project(tmp_path: Path, text: str, main: str = "__main__.py") -> Path:
    (tmp_path / "Pulumi.yaml").write_text(text, encoding="utf-8")
    if main:
        target = tmp_path / main
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("", encoding="utf-8")
    return tmp_path


def test_a_project_is_read_with_its_declarations_and_values(tmp_path: Path) -> None:
    _project(
        tmp_path,
        "name: demo\nruntime:\n  name: python\n  options: {}\nstackConfigDir: stacks\nconfig:\n"
        "  size:\n    type: integer\n    default: 2\n"
        "  note:\n    description: words\n"
        "  token:\n    secret: true\n"
        "  list:\n    items: {type: string}\n"
        "  aws:region: us-west-2\n"
        "  tier:\n    value: gold\n"
        "  shape:\n    other: 1\n",
    )
    project = load_project(tmp_path)
    assert project.name == "demo"
    assert project.directory == tmp_path.resolve()
    assert project.main_dir == project.directory and project.entry == project.directory
    assert project.stack_config_dir == project.directory / "stacks"
    assert project.stack_file("dev") == project.directory / "stacks" / "Pulumi.dev.yaml"
    assert project.declarations == {
        "demo:size": ConfigDeclaration("demo:size", "integer", None, 2, True, False),
        "demo:note": ConfigDeclaration("demo:note", None, "words", None, False, False),
        "demo:token": ConfigDeclaration("demo:token", None, None, None, False, True),
        "demo:list": ConfigDeclaration("demo:list", None, None, None, False, False),
    }
    assert project.project_values == {"aws:region": "us-west-2", "demo:tier": "gold", "demo:shape": {"other": 1}}


def test_main_may_be_a_file_or_a_directory(tmp_path: Path) -> None:
    _project(tmp_path, "name: demo\nruntime: python\nmain: src/app.py\n", main="src/app.py")
    project = load_project(tmp_path)
    assert project.entry == project.directory / "src" / "app.py"
    assert project.main_dir == project.directory / "src"
    (tmp_path / "Pulumi.yaml").unlink()
    _project(tmp_path, "name: demo\nruntime: python\nmain: src\n", main="src/__main__.py")
    project = load_project(tmp_path)
    assert project.entry == project.main_dir == project.directory / "src"
    (tmp_path / "Pulumi.yaml").unlink()
    (tmp_path / "Pulumi.yml").write_text("name: other\nruntime: python\nmain: src\n", encoding="utf-8")
    assert load_project(tmp_path).name == "other"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n", "the project file needs a 'name'"),
        ("runtime: python\n", "the project file needs a 'name'"),
        ("name: 3\nruntime: python\n", "the project file needs a 'name'"),
        ("name: ''\nruntime: python\n", "the project file needs a 'name'"),
        ("name: demo\nruntime: nodejs\n", "runtime is 'nodejs'; only Python programs can be run offline"),
        ("name: demo\nruntime:\n  name: go\n", "runtime is 'go'; only Python programs can be run offline"),
        ("name: demo\n", "runtime is None; only Python programs can be run offline"),
        (
            "name: demo\nruntime: python\nmain: lib\n",
            "main 'lib' is neither a .py file nor a directory with __main__.py",
        ),
        ("name: demo\nruntime: python\nconfig: [a]\n", "'config' must be a mapping of keys"),
        ("name: demo\nruntime: python\nconfig: {a: 1\n", "not valid YAML (line 4): "),
    ],
)
def test_each_broken_project_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    _project(tmp_path, text)
    with pytest.raises(ProjectError) as err:
        load_project(tmp_path)
    assert str(err.value).startswith(f"{tmp_path.resolve() / 'Pulumi.yaml'}: {message}")


def test_a_project_without_main_or_entry_file_is_named(tmp_path: Path) -> None:
    _project(tmp_path, "name: demo\nruntime: python\n", main="")
    with pytest.raises(ProjectError) as err:
        load_project(tmp_path)
    assert str(err.value) == (
        f"{tmp_path.resolve() / 'Pulumi.yaml'}: main '.' is neither a .py file nor a directory with __main__.py"
    )
    with pytest.raises(ProjectError) as err:
        load_project(tmp_path / "none")
    assert str(err.value) == f"{(tmp_path / 'none').resolve()}: no Pulumi.yaml (is this a Pulumi project directory?)"


def test_a_yaml_error_names_its_line_and_an_unreadable_file_its_cause(tmp_path: Path) -> None:
    from policies.gate.mockengine.project import _read_yaml

    with pytest.raises(ProjectError) as err:
        _read_yaml(tmp_path)
    assert str(err.value) == f"{tmp_path}: cannot be read: Is a directory"
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: b\n c: d\n", encoding="utf-8")
    with pytest.raises(ProjectError) as err:
        _read_yaml(bad)
    assert str(err.value) == f"{bad}: not valid YAML (line 2): mapping values are not allowed in this context"


@pytest.mark.parametrize(
    ("text", "value"),
    [("-0x1F", -31), ("+0b101", 5), ("0B11", 3), ("0O7", 7), ("0", 0), ("-017", -15), ("0X_1f", 31), ("10", 10)],
)
def test_integers_in_every_base(text: str, value: int) -> None:
    assert yaml.load(f"k: {text}\n", Loader=_YAML_LOADER) == {"k": value}  # noqa: S506 - a safe loader


def _stack(tmp_path: Path, stack_text: str | None, project_text: str = "name: demo\nruntime: python\n") -> StackConfig:
    _project(tmp_path, project_text)
    if stack_text is not None:
        (tmp_path / "Pulumi.dev.yaml").write_text(stack_text, encoding="utf-8")
    return load_stack_config(load_project(tmp_path), "dev")


def test_stack_values_override_project_values_over_declared_defaults(tmp_path: Path) -> None:
    config = _stack(
        tmp_path,
        "config:\n  demo:size: 5\n  aws:region: eu-west-1\n  plain: x\n",
        "name: demo\nruntime: python\nconfig:\n  size:\n    type: integer\n    default: 2\n"
        "  count:\n    type: integer\n    default: 1\n  aws:region: us-east-1\n  tier: gold\n",
    )
    assert config.values == {
        "demo:size": 5,
        "demo:count": 1,
        "aws:region": "eu-west-1",
        "demo:tier": "gold",
        "demo:plain": "x",
    }
    assert config.secret_keys == frozenset()
    assert config.path == tmp_path / "Pulumi.dev.yaml"


def test_without_a_stack_file_the_defaults_apply(tmp_path: Path) -> None:
    config = _stack(tmp_path, None, "name: demo\nruntime: python\nconfig:\n  size:\n    default: 2\n")
    assert config == StackConfig({"demo:size": 2}, frozenset(), None)
    assert _stack(tmp_path, "", "name: demo\nruntime: python\n") == StackConfig(
        {}, frozenset(), tmp_path / "Pulumi.dev.yaml"
    )
    assert _stack(tmp_path, "config:\n", "name: demo\nruntime: python\n").values == {}


def test_an_explicit_config_file_must_exist(tmp_path: Path) -> None:
    _project(tmp_path, "name: demo\nruntime: python\n")
    other = tmp_path / "other.yaml"
    with pytest.raises(ProjectError) as err:
        load_stack_config(load_project(tmp_path), "dev", other)
    assert str(err.value) == f"{other}: config file not found"
    other.write_text("config:\n  demo:a: 1\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  demo:a: 2\n", encoding="utf-8")
    config = load_stack_config(load_project(tmp_path), "dev", str(other))
    assert (config.values, config.path) == ({"demo:a": 1}, other)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n", "a stack file is a mapping with a 'config' key"),
        ("config: [a]\n", "'config' must be a mapping of keys"),
    ],
)
def test_each_broken_stack_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProjectError) as err:
        _stack(tmp_path, text)
    assert str(err.value) == f"{tmp_path / 'Pulumi.dev.yaml'}: {message}"


DECLARED = (
    "name: demo\nruntime: python\nconfig:\n"
    "  s:\n    type: string\n  i:\n    type: integer\n  b:\n    type: boolean\n"
    "  a:\n    type: array\n  o:\n    type: object\n  x:\n    type: other\n  n:\n    description: no type\n"
    "  k:\n    type: integer\n    secret: true\n"
)


def test_declared_types_are_checked(tmp_path: Path) -> None:
    good = (
        "config:\n  demo:s: x\n  demo:i: 3\n  demo:b: true\n  demo:a: [1]\n  demo:o: {a: 1}\n  demo:x: 1\n  demo:n: 1\n"
    )
    config = _stack(tmp_path, good + "  demo:k:\n    secure: AAAA\n", DECLARED)
    assert config.values["demo:i"] == 3 and config.values["demo:k"] == "mock-secret-k"
    assert config.secret_keys == {"demo:k"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("demo:s: 3", "demo:s is declared as string but is 3"),
        ("demo:i: true", "demo:i is declared as integer but is True"),
        ("demo:i: '3'", "demo:i is declared as integer but is '3'"),
        ("demo:b: 1", "demo:b is declared as boolean but is 1"),
        ("demo:a: x", "demo:a is declared as array but is 'x'"),
        ("demo:o: [1]", "demo:o is declared as object but is [1]"),
    ],
)
def test_a_value_of_the_wrong_type_is_named_with_its_file(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ProjectError) as err:
        _stack(tmp_path, f"config:\n  {line}\n", DECLARED)
    assert str(err.value) == f"{tmp_path / 'Pulumi.dev.yaml'}: {message}"


def test_a_default_of_the_wrong_type_is_named_in_the_project_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as err:
        _stack(tmp_path, None, "name: demo\nruntime: python\nconfig:\n  i:\n    type: integer\n    default: x\n")
    assert str(err.value) == "Pulumi.yaml: demo:i is declared as integer but is 'x'"


def test_a_secure_value_is_a_secret_and_not_type_checked(tmp_path: Path) -> None:
    config = _stack(
        tmp_path, "config:\n  demo:i:\n    secure: AAAA\n  demo:list:\n    - a\n    - secure: B\n", DECLARED
    )
    assert config.values["demo:i"] == "mock-secret-i"
    assert config.values["demo:list"] == ["a", "mock-secret-list"]
    assert config.secret_keys == {"demo:i", "demo:list", "demo:k"}
    plain = _stack(tmp_path, "config:\n  demo:list:\n    - a\n    - secure: 3\n  demo:m:\n    secure: x\n    y: 1\n")
    assert plain.values == {"demo:list": ["a", {"secure": 3}], "demo:m": {"secure": "x", "y": 1}}
    assert plain.secret_keys == frozenset()


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("privateKey", "RSA PRIVATE KEY"),
        ("private_key", "RSA PRIVATE KEY"),
        ("sshKey", "RSA PRIVATE KEY"),
        ("ssh-key", "RSA PRIVATE KEY"),
        ("tls.pem", "RSA PRIVATE KEY"),
        ("serverpem", "RSA PRIVATE KEY"),
        ("caCert", "CERTIFICATE"),
        ("CERTIFICATE", "CERTIFICATE"),
        ("password", None),
        ("pemberton", None),
    ],
)
def test_which_names_get_a_pem_placeholder(name: str, label: str | None) -> None:
    value = placeholder_secret(name)
    if label is None:
        assert value == "mock-secret-" + name
    else:
        body = base64.b64encode(("mock-secret-" + name).encode()).decode()
        assert value == f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"
