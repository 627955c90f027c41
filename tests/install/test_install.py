"""The gate as a user installs it: `pip install .` of this checkout into a fresh virtualenv gives the
`stateless-guard` command, which judges a scratch project outside the checkout that has its own
virtualenv with another pulumi-aws than this repository's, in that project's interpreter.

Wheels are cached under build/install-test/pip-cache, so only the first run downloads them. The
virtualenvs are built once per test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "install-test" / "pip-cache"
# An older 7.x than the repository's own (requirements.txt asks for the newest 7.x): the gate must run
# the program with the SDK the project pinned, not with anything of its own.
PROJECT_AWS = "7.0.0"
# Python the virtualenvs are made from: the base interpreter, not this test's virtualenv.
BASE_PYTHON = Path(getattr(sys, "_base_executable", sys.executable))


def run(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1200, check=False
    )


def clean_env(**extra: str) -> dict[str, str]:
    """A user's shell: no virtualenv active, nothing of this checkout on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_CACHE_DIR"] = str(CACHE)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def virtualenv(path: Path, *packages: str, pip: bool = True) -> Path:
    made = run(BASE_PYTHON, "-m", "venv", *([] if pip else ["--without-pip"]), path, env=clean_env())
    assert made.returncode == 0, made.stderr
    if packages:
        installed = run(path / "bin" / "python", "-m", "pip", "install", "-q", *packages, env=clean_env())
        assert installed.returncode == 0, installed.stderr[-2000:]
    return path


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with `pip install <checkout>`: the gate and only what it needs."""
    return virtualenv(tmp_path_factory.mktemp("gate") / "venv", str(ROOT))


@pytest.fixture(scope="session")
def project_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return virtualenv(tmp_path_factory.mktemp("project-venv") / "venv", f"pulumi-aws=={PROJECT_AWS}")


COMPLIANT = """
    import importlib.metadata
    import sys

    import pulumi_aws as aws

    print(f"ran with {sys.executable} and pulumi-aws {importlib.metadata.version('pulumi-aws')}")
    aws.cloudwatch.LogGroup("app", retention_in_days=30)
    aws.ec2.SecurityGroup(
        "web",
        description="web",
        ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]}],
    )
"""

VIOLATING = """
    import pulumi_aws as aws

    bucket = aws.s3.BucketV2("site")
    aws.s3.BucketAclV2("site", bucket=bucket.id, acl="public-read")
"""


def scratch(directory: Path, body: str, virtualenv_option: Path | str | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    options = f"  options:\n    virtualenv: {virtualenv_option}\n" if virtualenv_option is not None else ""
    (directory / "Pulumi.yaml").write_text(f"name: scratch\nruntime:\n  name: python\n{options}")
    (directory / "__main__.py").write_text(textwrap.dedent(body))
    (directory / "requirements.txt").write_text(f"pulumi-aws=={PROJECT_AWS}\n")
    return directory


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """A working directory that is neither the checkout nor the project."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    yield cwd


def test_the_install_brings_the_command_and_nothing_of_the_program(installed: Path) -> None:
    python = installed / "bin" / "python"
    assert (installed / "bin" / "stateless-guard").is_file()
    for module in ("pulumi_aws", "pulumi_kubernetes", "fastapi", "policies", "pytest"):
        probe = run(python, "-c", f"import {module}", cwd=installed, env=clean_env())
        assert probe.returncode != 0, f"{module} is importable in the gate's own virtualenv"
    probe = run(
        python, "-c", "import stateless_guard.gate, pulumi_policy, yaml, jsonschema", cwd=installed, env=clean_env()
    )
    assert probe.returncode == 0, probe.stderr


def test_the_installed_command_judges_a_project_in_its_own_interpreter(
    installed: Path, project_venv: Path, tmp_path: Path, elsewhere: Path
) -> None:
    project = scratch(tmp_path / "ok", COMPLIANT, project_venv)
    out = run(
        installed / "bin" / "stateless-guard", "--stack", "dev", "--program", project, cwd=elsewhere, env=clean_env()
    )
    assert out.returncode == 0, out.stderr
    assert f"ran with {project_venv / 'bin' / 'python'} and pulumi-aws {PROJECT_AWS}" in out.stderr
    assert "PASS" in out.stdout
    doc = run(installed / "bin" / "stateless-guard", "--stack", "dev", "--format", "json", cwd=project, env=clean_env())
    assert doc.returncode == 0, doc.stderr
    assert json.loads(doc.stdout)["summary"]["resources"] == 2
    # The gate reports what it ran the program with: the project's interpreter and its pulumi-aws.
    debug = run(installed / "bin" / "stateless-guard", "--stack", "dev", "--debug", cwd=project, env=clean_env())
    assert debug.returncode == 0, debug.stderr
    assert f"program ran with {project_venv / 'bin' / 'python'} (Python " in debug.stderr
    assert f"pulumi-aws {PROJECT_AWS}" in debug.stderr.splitlines()[-1]


def test_a_violation_is_exit_1(installed: Path, project_venv: Path, tmp_path: Path, elsewhere: Path) -> None:
    project = scratch(tmp_path / "bad", VIOLATING, project_venv)
    out = run(
        installed / "bin" / "stateless-guard", "--stack", "dev", "--program", project, cwd=elsewhere, env=clean_env()
    )
    assert out.returncode == 1, out.stderr
    assert "s3-no-public-access" in out.stdout


def test_the_active_virtualenv_is_the_interpreter_when_the_project_names_none(
    installed: Path, project_venv: Path, tmp_path: Path
) -> None:
    project = scratch(tmp_path / "active", COMPLIANT, None)
    env = clean_env(
        PATH=f"{project_venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", VIRTUAL_ENV=str(project_venv)
    )
    out = run(installed / "bin" / "stateless-guard", "--stack", "dev", cwd=project, env=env)
    assert out.returncode == 0, out.stderr
    assert f"pulumi-aws {PROJECT_AWS}" in out.stderr


def test_a_missing_sdk_is_exit_2_with_what_to_install(installed: Path, tmp_path: Path, elsewhere: Path) -> None:
    bare = virtualenv(tmp_path / "bare", pip=False)
    project = scratch(tmp_path / "nosdk", COMPLIANT, bare)
    out = run(
        installed / "bin" / "stateless-guard", "--stack", "dev", "--program", project, cwd=elsewhere, env=clean_env()
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"stateless-guard: error: the program's interpreter {bare / 'bin' / 'python'} (Pulumi.yaml virtualenv "
        f"{bare}) has no Pulumi SDK (ModuleNotFoundError: No module named 'pulumi'); install the program's "
        f"packages into it: {bare / 'bin' / 'python'} -m pip install -r requirements.txt"
    ]


def test_a_missing_interpreter_is_exit_2(installed: Path, tmp_path: Path, elsewhere: Path) -> None:
    project = scratch(tmp_path / "novenv", COMPLIANT, ".venv")
    out = run(
        installed / "bin" / "stateless-guard", "--stack", "dev", "--program", project, cwd=elsewhere, env=clean_env()
    )
    assert out.returncode == 2
    assert "the 'virtualenv' option in Pulumi.yaml is set to '.venv'" in out.stderr
    assert "Traceback" not in out.stderr
    nothing = run(
        installed / "bin" / "stateless-guard",
        "--stack",
        "dev",
        "--program",
        tmp_path / "novenv",
        cwd=elsewhere,
        env=clean_env(PATH=str(tmp_path / "empty")),
    )
    assert nothing.returncode == 2


def test_exit_codes_are_the_gates_own_as_a_module_too(installed: Path, elsewhere: Path) -> None:
    python = installed / "bin" / "python"
    bad_args = run(python, "-m", "stateless_guard.gate", "--bogus", cwd=elsewhere, env=clean_env())
    assert bad_args.returncode == 2
    no_project = run(python, "-m", "stateless_guard.gate", "--stack", "dev", cwd=elsewhere, env=clean_env())
    assert no_project.returncode == 2
    assert no_project.stderr.startswith("stateless-guard: error:") and "no Pulumi.yaml" in no_project.stderr


def test_every_package_of_the_policies_directory_is_installed() -> None:
    """pyproject.toml lists the packages of the `policies` -> `stateless_guard` mapping one by one."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(("stateless_guard", *p.parent.relative_to(ROOT / "policies").parts))
        for p in (ROOT / "policies").rglob("__init__.py")
        if "venv" not in p.relative_to(ROOT / "policies").parts
    }
    assert listed == found
