"""`pulumi install` (and `pulumi preview`/`up` on a fresh clone) install what the program imports.

With `main: infra/` the CLI's Python host installs `requirements.txt` of the program directory, the
directory `main` names (pulumi/pulumi pkg/engine/project.go getPwdMain 45-72; pkg/cmd/pulumi/install/
install.go 178-185; sdk/python/toolchain/pip.go InstallDependencies 543-551), into the virtualenv
Pulumi.yaml names, resolved against the project root (pip.go newPip 55-59 and
resolveVirtualEnvironmentPath 583-591; sdk/python/cmd/pulumi-language-python/main.go parseOptions
241-247). pip follows `-r` lines relative to the file that holds them.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path: Path, seen: frozenset[Path] = frozenset()) -> set[str]:
    """Distribution names a requirements file installs, following `-r` the way pip does."""
    assert path.is_file(), f"{path} does not exist"
    assert path not in seen, f"{path} includes itself"
    names: set[str] = set()
    # A lock (uv's output) continues a pin on the next lines with `\` and its `--hash=` options.
    for raw in path.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        line = re.sub(r"\s--hash=\S+", "", raw.split(" #", 1)[0]).strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            names |= requirement_names((path.parent / line.split(None, 1)[1]).resolve(), seen | {path})
            continue
        assert not line.startswith("-"), f"{path}: option {line!r} is not expected in a program's requirements"
        match = _NAME.match(line)
        assert match, f"{path}: cannot read {line!r}"
        names.add(normalize(match.group(1)))
    return names


def program_imports(directory: Path) -> set[str]:
    """Top-level modules the program imports from outside itself and the standard library."""
    found: set[str] = set()
    for source in directory.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("__future__", directory.name)}


def project() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))


def program_directory() -> Path:
    main = ROOT / project()["main"]
    assert main.is_dir(), "main names a directory, so the program directory is that directory"
    return main


def test_the_program_directory_has_the_requirements_file_the_cli_installs() -> None:
    assert (program_directory() / "requirements.txt").is_file()


def test_every_module_the_program_imports_is_installed_by_its_requirements() -> None:
    installed = requirement_names(program_directory() / "requirements.txt")
    providers = metadata.packages_distributions()
    imports = program_imports(program_directory())
    assert "pulumi" in imports and "pulumi_aws" in imports
    missing = {m: providers.get(m) for m in imports if not {normalize(d) for d in providers.get(m, [])} & installed}
    assert missing == {}


def test_every_pulumi_sdk_in_the_requirements_is_imported_by_the_program() -> None:
    installed = requirement_names(program_directory() / "requirements.txt")
    imported = {normalize(m) for m in program_imports(program_directory())}
    assert {n for n in installed if n == "pulumi" or n.startswith("pulumi-")} <= imported


def test_the_checker_follows_includes_and_notices_a_missing_package(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "requirements.txt").write_text("pulumi>=3\n")
    (tmp_path / "infra" / "requirements.txt").write_text("-r ../requirements.txt\n")
    (tmp_path / "infra" / "__main__.py").write_text("import pulumi\nimport pulumi_aws\nfrom infra import x\n")
    assert requirement_names(tmp_path / "infra" / "requirements.txt") == {"pulumi"}
    assert program_imports(tmp_path / "infra") == {"pulumi", "pulumi_aws"}


def test_the_virtualenv_the_cli_uses_is_the_one_make_install_builds() -> None:
    options = project()["runtime"]["options"]
    assert options["toolchain"] == "pip"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    venv = re.search(r"^VENV\s*:=\s*(\S+)", makefile, re.MULTILINE)
    assert venv and (ROOT / options["virtualenv"]).resolve() == (ROOT / venv.group(1)).resolve()
    # The development set includes the program's packages, so one .venv serves both: its lock pins every
    # distribution of the program's lock, at the same version (else `make deps-program` and
    # `make deps-python` would take turns replacing each other's versions in that .venv).
    assert requirement_names(ROOT / "requirements-dev.lock") >= requirement_names(
        program_directory() / "requirements.txt"
    )
    dev, program = pins(ROOT / "requirements-dev.lock"), pins(ROOT / "requirements.lock")
    assert {n: v for n, v in program.items() if dev.get(n) != v} == {}


def pins(lock: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", lock.read_text(encoding="utf-8"), re.MULTILINE)
    return {normalize(name): version for name, version in found}
