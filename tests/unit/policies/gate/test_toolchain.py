"""The program's interpreter, found as the Pulumi CLI finds it (pulumi/pulumi sdk/python/toolchain:
toolchain.go ResolveToolchain and ActivateVirtualEnv, pip.go, poetry.go, uv.go; the sources are cited
in policies/gate/toolchains/)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from policies.gate.toolchain import (
    PythonOptions,
    ToolchainError,
    find_interpreter,
    for_project,
    read_options,
    resolve,
)

ROOT = Path(__file__).resolve().parents[4]


def executable(path: Path, body: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def venv(path: Path) -> Path:
    executable(path / "bin" / "python")
    return path


def options(root: Path, **kw: str) -> PythonOptions:
    return PythonOptions(root, kw.pop("program_dir", None) or root, **kw)  # type: ignore[arg-type]


def test_pip_virtualenv_is_resolved_against_the_project_root_and_activated(tmp_path: Path) -> None:
    venv(tmp_path / ".venv")
    main = tmp_path / "infra"
    main.mkdir()
    env = {"PATH": "/usr/bin", "PYTHONHOME": "/elsewhere", "VIRTUAL_ENV": "/other"}
    found = find_interpreter(PythonOptions(tmp_path, main, ".venv", "pip"), env)
    assert found.executable == tmp_path / ".venv" / "bin" / "python"
    assert found.virtualenv == tmp_path / ".venv"
    # ActivateVirtualEnv: bin first on PATH, VIRTUAL_ENV set, PYTHONHOME removed.
    assert found.env["PATH"] == f"{tmp_path / '.venv' / 'bin'}{os.pathsep}/usr/bin"
    assert found.env["VIRTUAL_ENV"] == str(tmp_path / ".venv")
    assert "PYTHONHOME" not in found.env


def test_pip_absolute_virtualenv(tmp_path: Path) -> None:
    venv(tmp_path / "elsewhere")
    found = find_interpreter(options(tmp_path / "project", virtualenv=str(tmp_path / "elsewhere")), {"PATH": ""})
    assert found.executable == tmp_path / "elsewhere" / "bin" / "python"


@pytest.mark.parametrize(("make", "state"), [(False, "does not exist"), (True, "is not a virtual environment")])
def test_a_missing_virtualenv_says_how_to_create_it(tmp_path: Path, make: bool, state: str) -> None:
    if make:
        (tmp_path / "venv").mkdir()
    with pytest.raises(ToolchainError) as err:
        find_interpreter(options(tmp_path, virtualenv="venv"), {"PATH": ""})
    assert f"is set to 'venv', but {tmp_path / 'venv'} {state}" in str(err.value)
    assert f"python3 -m venv {tmp_path / 'venv'}" in str(err.value)
    assert "pip install -r requirements.txt" in str(err.value)


def test_without_a_virtualenv_python3_first_on_path_as_given(tmp_path: Path) -> None:
    active = venv(tmp_path / "active")
    executable(active / "bin" / "python3")
    executable(tmp_path / "system" / "python3")
    env = {"PATH": f"{active / 'bin'}{os.pathsep}{tmp_path / 'system'}", "VIRTUAL_ENV": str(active)}
    found = find_interpreter(options(tmp_path), env)
    # An activated virtualenv is first on PATH, so it is the one the CLI runs.
    assert found.executable == active / "bin" / "python3"
    assert found.virtualenv is None
    assert found.env == env  # the caller's environment, untouched (pip.go Command without a virtualenv)


def test_python_is_the_fallback_and_pulumi_python_cmd_wins(tmp_path: Path) -> None:
    executable(tmp_path / "bin" / "python")
    executable(tmp_path / "bin" / "py311")
    path = str(tmp_path / "bin")
    assert find_interpreter(options(tmp_path), {"PATH": path}).executable == tmp_path / "bin" / "python"
    given = find_interpreter(options(tmp_path), {"PATH": path, "PULUMI_PYTHON_CMD": "py311"})
    assert given.executable == tmp_path / "bin" / "py311"


def test_no_python_on_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="none of python3, python is on PATH"):
        find_interpreter(options(tmp_path), {"PATH": str(tmp_path)})


def test_auto_looks_for_lock_files_from_the_program_directory_up(tmp_path: Path) -> None:
    main = tmp_path / "src"
    main.mkdir()
    assert resolve(PythonOptions(tmp_path, main)) == "pip"
    (tmp_path / "poetry.lock").write_text("")
    assert resolve(PythonOptions(tmp_path, main)) == "poetry"
    (tmp_path / "uv.lock").write_text("")
    assert resolve(PythonOptions(tmp_path, main)) == "uv"
    # An explicit toolchain wins over lock files.
    assert resolve(PythonOptions(tmp_path, main, "", "pip")) == "pip"


def test_uv_virtualenv_beside_uv_lock_or_pyproject_or_as_named(tmp_path: Path) -> None:
    executable(tmp_path / "tools" / "uv")
    env = {"PATH": str(tmp_path / "tools")}
    main = tmp_path / "app" / "src"
    main.mkdir(parents=True)
    (tmp_path / "app" / "pyproject.toml").write_text("[project]\nname='x'\n")
    venv(tmp_path / "app" / ".venv")
    assert find_interpreter(PythonOptions(tmp_path, main, "", "uv"), env).executable == (
        tmp_path / "app" / ".venv" / "bin" / "python"
    )
    (tmp_path / "uv.lock").write_text("")
    venv(tmp_path / ".venv")
    assert find_interpreter(PythonOptions(tmp_path, main, "", "uv"), env).virtualenv == tmp_path / ".venv"
    venv(tmp_path / "custom")
    with_env = {**env, "UV_PROJECT_ENVIRONMENT": "custom"}
    assert find_interpreter(PythonOptions(tmp_path, main, "", "uv"), with_env).virtualenv == tmp_path / "custom"
    venv(tmp_path / "named")
    assert find_interpreter(PythonOptions(tmp_path, main, "named", "uv"), env).virtualenv == tmp_path / "named"


def test_uv_needs_uv_on_path_and_an_existing_virtualenv(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="no `uv` is on PATH"):
        find_interpreter(options(tmp_path, toolchain="uv"), {"PATH": str(tmp_path)})
    executable(tmp_path / "tools" / "uv")
    with pytest.raises(ToolchainError, match="run `uv sync`"):
        find_interpreter(options(tmp_path, toolchain="uv"), {"PATH": str(tmp_path / "tools")})


def test_poetry_asks_poetry_for_its_virtualenv(tmp_path: Path) -> None:
    env_dir = venv(tmp_path / "cache" / "proj-py3.11")
    executable(tmp_path / "tools" / "poetry", f'#!/bin/sh\n[ "$1 $2 $3" = "env info --path" ] && echo {env_dir}\n')
    found = find_interpreter(options(tmp_path, toolchain="poetry"), {"PATH": str(tmp_path / "tools")})
    assert found.executable == env_dir / "bin" / "python"
    assert found.env["VIRTUAL_ENV"] == str(env_dir)


def test_poetry_without_poetry_or_its_virtualenv(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="no `poetry` is on PATH"):
        find_interpreter(options(tmp_path, toolchain="poetry"), {"PATH": str(tmp_path)})
    executable(tmp_path / "tools" / "poetry", "#!/bin/sh\nexit 1\n")
    with pytest.raises(ToolchainError, match="run `poetry install`"):
        find_interpreter(options(tmp_path, toolchain="poetry"), {"PATH": str(tmp_path / "tools")})


@pytest.mark.parametrize(
    ("runtime", "message"),
    [
        ({"name": "python", "options": {"toolchain": "conda"}}, "unsupported toolchain option: conda"),
        ({"name": "python", "options": {"toolchain": 3}}, "toolchain must be a string"),
        ({"name": "python", "options": {"virtualenv": ["venv"]}}, "virtualenv must be a string"),
        ({"name": "python", "options": "venv"}, "options must be a mapping"),
    ],
)
def test_options_are_refused_as_the_cli_refuses_them(tmp_path: Path, runtime: object, message: str) -> None:
    with pytest.raises(ToolchainError, match=message):
        read_options(tmp_path, tmp_path, runtime, "Pulumi.yaml")


def test_runtime_without_options(tmp_path: Path) -> None:
    assert read_options(tmp_path, tmp_path, "python", "Pulumi.yaml") == PythonOptions(tmp_path, tmp_path)


def test_this_repository_runs_with_the_virtualenv_its_project_file_names() -> None:
    found = for_project(ROOT)
    assert found.executable == ROOT / ".venv" / "bin" / "python"
    assert found.how == "Pulumi.yaml virtualenv .venv"


def test_for_project_without_a_project_file(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="no Pulumi.yaml"):
        for_project(tmp_path)


# ----------------------------------------------------------------------------- uv and poetry, exactly

import subprocess  # noqa: E402

from policies.gate.toolchains.common import Interpreter, activate  # noqa: E402


def test_uv_finds_exactly_and_takes_absolute_paths_as_they_are(tmp_path: Path) -> None:
    executable(tmp_path / "tools" / "uv")
    env = {"PATH": str(tmp_path / "tools"), "PYTHONHOME": "x"}
    absolute = venv(tmp_path / "elsewhere" / "env")
    found = find_interpreter(options(tmp_path / "proj", virtualenv=str(absolute), toolchain="uv"), env)
    assert found == Interpreter(
        absolute / "bin" / "python",
        "uv",
        f"uv's virtualenv {absolute}",
        absolute,
        {},
        f"uv sync (in {tmp_path / 'proj'})",
    )
    assert found.env == activate(env, absolute) and "PYTHONHOME" not in found.env
    given = {**env, "UV_PROJECT_ENVIRONMENT": str(absolute)}
    assert find_interpreter(options(tmp_path / "proj", toolchain="uv"), given).virtualenv == absolute


def test_uv_refusals_exactly(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError) as err:
        find_interpreter(options(tmp_path, toolchain="uv"), {"PATH": str(tmp_path)})
    assert str(err.value) == (
        "the program uses uv (Pulumi.yaml toolchain, or a uv.lock) but no `uv` is on PATH: install uv, "
        "or set the toolchain option in Pulumi.yaml to `pip`"
    )


def test_poetry_is_asked_in_the_program_directory_with_the_given_environment(tmp_path: Path) -> None:
    program = tmp_path / "prog"
    env_dir = venv(program / "from-env")
    executable(tmp_path / "tools" / "poetry", '#!/bin/sh\necho "$(pwd)/$VENV_NAME"\n')
    env = {"PATH": str(tmp_path / "tools"), "VENV_NAME": "from-env"}
    found = find_interpreter(options(tmp_path, program_dir=str(program), toolchain="poetry"), env)
    assert found == Interpreter(
        env_dir / "bin" / "python",
        "poetry",
        f"poetry's virtualenv {env_dir}",
        env_dir,
        {},
        f"poetry install (in {program})",
    )
    assert found.env == activate(env, env_dir)


def test_poetry_refusals_exactly(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    env = {"PATH": str(tools)}
    with pytest.raises(ToolchainError) as err:
        find_interpreter(options(tmp_path, toolchain="poetry"), env)
    assert str(err.value) == (
        "the program uses poetry (Pulumi.yaml toolchain, or a poetry.lock) but no `poetry` is on PATH: "
        "install poetry, or set the toolchain option in Pulumi.yaml to `pip`"
    )
    no_env = f"poetry has no virtualenv for {tmp_path}: run `poetry install` there"
    for body in ("#!/bin/sh\nexit 0\n", f"#!/bin/sh\necho {tmp_path}\nexit 1\n"):
        executable(tools / "poetry", body)
        with pytest.raises(ToolchainError) as err:
            find_interpreter(options(tmp_path, toolchain="poetry"), env)
        assert str(err.value) == no_env
    executable(tools / "poetry", f"#!/bin/sh\necho {tmp_path / 'plain'}\n")
    with pytest.raises(ToolchainError) as err:
        find_interpreter(options(tmp_path, toolchain="poetry"), env)
    assert str(err.value) == f"'{tmp_path / 'plain'}' is not a virtualenv: run `poetry install` in {tmp_path}"
    broken = executable(tools / "poetry", "#!/nonexistent/interpreter\n")
    with pytest.raises(ToolchainError) as err:
        find_interpreter(options(tmp_path, toolchain="poetry"), env)
    assert str(err.value) == f"`poetry env info --path` failed: [Errno 2] No such file or directory: '{broken}'"


def test_poetry_is_given_a_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from policies.gate.toolchains import poetry

    executable(tmp_path / "tools" / "poetry")

    def hangs(args: list[str], **kwargs: object) -> object:
        raise subprocess.TimeoutExpired(args, kwargs["timeout"])  # type: ignore[arg-type]

    monkeypatch.setattr(poetry.subprocess, "run", hangs)
    with pytest.raises(ToolchainError) as err:
        find_interpreter(options(tmp_path, toolchain="poetry"), {"PATH": str(tmp_path / "tools")})
    assert str(err.value) == (
        f"`poetry env info --path` failed: Command '['{tmp_path / 'tools' / 'poetry'}', 'env', 'info', '--path']' "
        "timed out after 60 seconds"
    )


def test_activation_whatever_the_case_of_the_variables(tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    given = {"Path": "/usr/bin", "virtual_env": "/old", "PythonHome": "/x", "HOME": "/root"}
    assert activate(given, env_dir) == {
        "Path": f"{env_dir / 'bin'}{os.pathsep}/usr/bin",
        "VIRTUAL_ENV": str(env_dir),
        "HOME": "/root",
    }
    assert activate({}, env_dir) == {"PATH": str(env_dir / "bin"), "VIRTUAL_ENV": str(env_dir)}


def test_a_project_file_may_be_named_pulumi_yml(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yml").write_text("name: p\nruntime:\n  name: python\n  options:\n    virtualenv: env\n")
    env_dir = venv(tmp_path / "env")
    assert for_project(tmp_path).virtualenv == env_dir


def test_a_project_file_that_cannot_be_used_is_named(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.yaml"
    path.write_text("name: [\n")
    with pytest.raises(ToolchainError) as err:
        for_project(tmp_path)
    assert str(err.value).startswith(f"{path}: cannot be read: ")
    path.write_text("- a list\n")
    with pytest.raises(ToolchainError) as err:
        for_project(tmp_path)
    assert str(err.value) == f"{path}: not a project file"


def test_the_program_directory_is_the_one_main_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable(tmp_path / "tools" / "uv")
    monkeypatch.setenv("PATH", str(tmp_path / "tools"))
    monkeypatch.delenv("UV_PROJECT_ENVIRONMENT", raising=False)
    (tmp_path / "Pulumi.yaml").write_text(
        "name: p\nmain: src\nruntime:\n  name: python\n  options:\n    toolchain: uv\n"
    )
    env_dir = venv(tmp_path / "src" / ".venv")
    assert for_project(tmp_path).virtualenv == env_dir


def test_a_refused_runtime_option_names_the_project_file(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.yaml"
    path.write_text("name: p\nruntime:\n  name: python\n  options:\n    toolchain: conda\n")
    with pytest.raises(ToolchainError) as err:
        for_project(tmp_path)
    assert str(err.value).startswith(f"{path}: ")
