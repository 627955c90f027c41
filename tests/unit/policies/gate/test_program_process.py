"""The program runs in its own interpreter (policies/gate/program_process.py, mockengine/child.py):
results on a channel of their own, every stack with the SDK the first imported, errors with the program's file and line,
a time limit, and exit 2 for a missing interpreter or SDK."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from policies.gate import GateError, run_gates
from policies.gate.mockengine import ProgramRun, run_program
from policies.gate.mockengine.child import to_json
from policies.gate.program_process import from_json
from tests.unit.policies.gate.helpers import PROGRAMS, ROOT, gate


def project(tmp_path: Path, main: str, yaml_extra: str = "", stacks: tuple[str, ...] = ()) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(f"name: scratch\nruntime:\n  name: python\n{yaml_extra}")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(main))
    for stack in stacks:
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    return tmp_path


def test_a_program_run_survives_the_trip_between_the_processes() -> None:
    run = run_program(PROGRAMS / "compliant_web", "dev")
    back = from_json(ProgramRun, json.loads(json.dumps(to_json(run))))
    # Resource records, config and everything plain come back equal; an asset in a resource's state
    # comes back as the engine serializes it.
    assert [r.urn for r in back.resources] == [r.urn for r in run.resources]
    assert [r.inputs for r in back.resources] == [r.inputs for r in run.resources]
    assert back.config == run.config and back.outputs == run.outputs
    assert to_json(back) == to_json(run)
    assert back.resources and all(isinstance(r.dependencies, tuple) for r in back.resources)
    code = next(r for r in back.resources if r.type == "aws:lambda/function:Function").outputs["code"]
    assert code["4dabf18193072939515e22adb298388d"] == "0def7320c3a5731c473e5ecbe6d01bc7"
    assert isinstance(back.config.secret_keys, frozenset)


@dataclass(frozen=True)
class _Later:
    # Fields of the kinds the engine adds to ProgramRun (docs: GATE-DESIGN.md "New data").
    unrun_callbacks: int = 0
    unanswered_invokes: list[dict[str, Any]] = field(default_factory=list)
    unknown_inputs: dict[str, list[str]] = field(default_factory=dict)
    where: tuple[str, int] | None = None
    paths: frozenset[str] = frozenset()


def test_fields_the_engine_adds_travel_without_code_for_them() -> None:
    value = _Later(3, [{"token": "aws:x/y:z", "count": 2}], {"urn:a": ["tags.x"]}, ("a.py", 3), frozenset({"b"}))
    assert from_json(_Later, json.loads(json.dumps(to_json(value)))) == value


def test_the_programs_prints_do_not_reach_the_report(tmp_path: Path) -> None:
    main = """
        import pulumi_aws as aws
        print('{"not": "a report"')
        aws.sqs.Queue("jobs")
    """
    out = gate("--stack", "dev", "--program", str(project(tmp_path, main)), "--format", "json")
    assert out.returncode in (0, 1), out.stderr
    assert json.loads(out.stdout)["summary"]["resources"] == 1
    assert '{"not": "a report"' in out.stderr


def test_a_failing_program_is_reported_at_its_own_file_and_line() -> None:
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "raises_in_module"))
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1] == (
        "policies.gate: error: tests/fixtures/programs/raises_in_module/sizing.py:3: "
        "the program failed: azs must be at least 1"
    )
    assert "Traceback" not in out.stderr
    debug = gate("--stack", "dev", "--program", str(PROGRAMS / "raises_in_module"), "--debug")
    assert debug.returncode == 2
    assert 'sizing.py", line 3, in subnet_count' in debug.stderr


def test_a_program_that_hangs_is_stopped_where_it_waits() -> None:
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "hangs"), "--timeout", "2")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        "policies.gate: error: the program did not finish within 2 s (--timeout) for stack 'dev'; "
        "it was waiting at tests/fixtures/programs/hangs/readiness.py:7 (in wait_until_ready)"
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0", "must be more than 0 seconds: '0'"),
        ("-1", "must be more than 0 seconds: '-1'"),
        ("soon", "not a number of seconds: 'soon'"),
    ],
)
def test_timeout_must_be_a_positive_number(value: str, why: str) -> None:
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "compliant_web"), "--timeout", value)
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1].endswith(f"error: argument --timeout: {why}")


def test_a_timeout_under_a_second_is_a_time_limit() -> None:
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "hangs"), "--timeout", "0.5")
    assert out.returncode == 2
    assert "error: the program did not finish within 0.5 s (--timeout) for stack 'dev'" in out.stderr


def test_stacks_after_the_second_run_with_what_the_first_imported_in_the_projects_interpreter(
    tmp_path: Path,
) -> None:
    main = """
        import importlib.util, os, sys
        import pulumi
        import pulumi_aws as aws
        aws.sqs.Queue("jobs")
        # Set on the SDK module by the first run in a process: a stack that inherits that process's
        # imports sees it, one that imported the modules itself does not.
        if not hasattr(pulumi, "_imported_in"):
            pulumi._imported_in = os.getpid()
        pulumi.export("sdk_imported_in", pulumi._imported_in)
        pulumi.export("pid", os.getpid())
        pulumi.export("executable", sys.executable)
        # Nothing of the gate is importable by the program: not its package, not its dependencies' path.
        pulumi.export("gate_visible", [m for m in ("policies", "stateless_guard") if importlib.util.find_spec(m)])
    """
    directory = project(tmp_path, main, "  options:\n    virtualenv: venv\n", ("a", "b", "c"))
    # The test's own virtualenv under another name: the project's interpreter is not the one on PATH.
    (tmp_path / "venv").symlink_to(Path(sys.executable).parent.parent.resolve(), target_is_directory=True)
    results = run_gates(["a", "b", "c"], directory)
    runs = [r.run for r in results]
    assert all(run is not None for run in runs)
    assert runs[0].outputs["sdk_imported_in"] == runs[0].outputs["pid"]  # type: ignore[union-attr]
    # The second stack may have started ahead, importing for itself; the third starts from the first.
    assert runs[2].outputs["sdk_imported_in"] == runs[0].outputs["pid"]  # type: ignore[union-attr]
    assert runs[0].outputs["executable"] == str(tmp_path / "venv" / "bin" / "python")  # type: ignore[union-attr]
    assert runs[0].outputs["gate_visible"] == []  # type: ignore[union-attr]
    used = results[0].interpreter
    assert used is not None and used.executable == str(tmp_path / "venv" / "bin" / "python")
    assert used.packages["pulumi-aws"] and used.packages["pulumi"]
    assert used.found_by == "Pulumi.yaml virtualenv venv"


def test_a_missing_virtualenv_is_exit_2_with_how_to_create_it(tmp_path: Path) -> None:
    directory = project(tmp_path, "import pulumi\n", "  options:\n    virtualenv: venv\n")
    out = gate("--stack", "dev", "--program", str(directory))
    assert out.returncode == 2
    assert "the 'virtualenv' option in Pulumi.yaml is set to 'venv'" in out.stderr
    assert "does not exist" in out.stderr and out.stderr.count("\n") == 1


def test_an_interpreter_without_the_sdk_is_exit_2_with_what_to_install(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    directory = project(tmp_path, "import pulumi\n", "  options:\n    virtualenv: venv\n")
    out = gate("--stack", "dev", "--program", str(directory))
    assert out.returncode == 2
    assert "has no Pulumi SDK (ModuleNotFoundError: No module named 'pulumi')" in out.stderr
    assert f"{tmp_path / 'venv' / 'bin' / 'python'} -m pip install -r requirements.txt" in out.stderr
    assert out.stderr.count("\n") == 1


def test_an_interpreter_that_dies_is_exit_2(tmp_path: Path) -> None:
    directory = project(tmp_path, "import os\nos._exit(7)\n")
    with pytest.raises(GateError, match="stopped with status 7 before stack 'dev' was done"):
        run_gates(["dev"], directory)


def test_the_gate_runs_from_any_directory_on_any_project(tmp_path: Path) -> None:
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "compliant_web"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert ROOT.name  # the checkout is on PYTHONPATH only, never the program's cwd


def test_a_program_file_is_under_the_project_and_outside_installed_code(tmp_path: Path) -> None:
    from policies.gate.program_process import ENGINE_DIR, _is_program_file

    project = tmp_path / "proj"
    assert _is_program_file(str(project / "main.py"), project, None)
    assert _is_program_file(str(project / "pkg" / "net.py"), project, None)
    assert not _is_program_file(str(tmp_path / "other" / "main.py"), project, None)
    assert not _is_program_file("<frozen importlib._bootstrap>", project, None)
    assert not _is_program_file("main.py", project, None)
    assert not _is_program_file(str(project / ".venv" / "lib" / "python3.11" / "site-packages" / "x.py"), project, None)
    assert not _is_program_file(str(project / "vendor" / "dist-packages" / "y.py"), project, None)
    # The virtualenv the program runs in is not the program, wherever it is and whatever its layout.
    assert _is_program_file(str(project / "env" / "lib" / "x.py"), project, None)
    assert not _is_program_file(str(project / "env" / "lib" / "x.py"), project, project / "env")
    assert _is_program_file(str(project / "main.py"), project, project / "env")
    # The engine's own files, even inside the project directory given.
    assert not _is_program_file(str(ENGINE_DIR / "run.py"), ENGINE_DIR.parent.parent, None)
    assert _is_program_file(str(ENGINE_DIR.parent / "evaluate.py"), ENGINE_DIR.parent.parent, None)


def test_the_waiting_place_is_the_programs_innermost_frame_else_the_main_threads(tmp_path: Path) -> None:
    from policies.gate.program_process import _waiting_place

    project = tmp_path / "proj"
    site = project / ".venv" / "lib" / "python3.11" / "site-packages" / "pulumi" / "output.py"
    dump = (
        "Thread 0x00007f0000000001 (most recent call first):\n"
        f'  File "{site}", line 10 in wait\n'
        f'  File "{project / "worker.py"}", line 4 in poll\n'
        "\n"
        "Current thread 0x00007f0000000002 (most recent call first):\n"
        '  File "/usr/lib/python3.11/asyncio/base_events.py", line 600 in run_forever\n'
        f'  File "{project / "__main__.py"}", line 9 in <module>\n'
    )
    assert _waiting_place(dump, project).endswith("proj/worker.py:4 (in poll)")
    elsewhere = tmp_path / "elsewhere"
    assert _waiting_place(dump, elsewhere) == (
        "/usr/lib/python3.11/asyncio/base_events.py:600 (in run_forever): no frame of the program was running, "
        "so it was waiting for an Output that never resolves or a call that never returns"
    )
    assert _waiting_place("", project) == "an unknown place (the interpreter wrote no stack dump)"
    # The program's virtualenv, wherever it is, is not the program.
    env_frame = (
        "Current thread 0x00007f0000000002 (most recent call first):\n"
        f'  File "{project / "env" / "lib" / "hook.py"}", line 2 in wait\n'
        f'  File "{project / "__main__.py"}", line 9 in <module>\n'
    )
    assert _waiting_place(env_frame, project, project / "env").endswith("proj/__main__.py:9 (in <module>)")
    assert _waiting_place(env_frame, project).endswith("proj/env/lib/hook.py:2 (in wait)")


def test_each_kind_of_error_from_the_child_is_its_own_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from policies.gate.program_process import process_error
    from policies.gate.toolchains.common import Interpreter

    monkeypatch.chdir(tmp_path)
    interpreter = Interpreter(Path("/venv/bin/python"), "pip", "Pulumi.yaml virtualenv venv",
                              install_hint="/venv/bin/python -m pip install -r requirements.txt")

    def line(**error: Any) -> tuple[str, str]:
        exc = process_error(interpreter, error)
        return str(exc), exc.detail

    assert line(kind="sdk", message="ModuleNotFoundError: No module named 'pulumi'") == (
        "the program's interpreter /venv/bin/python (Pulumi.yaml virtualenv venv) has no Pulumi SDK "
        "(ModuleNotFoundError: No module named 'pulumi'); install the program's packages into it: "
        "/venv/bin/python -m pip install -r requirements.txt", "")
    assert line(kind="python", message="Python 3.8.10") == (
        "the program's interpreter /venv/bin/python (Pulumi.yaml virtualenv venv) is Python 3.8.10; "
        "the gate runs programs on Python 3.10 or newer", "")
    assert line(kind="program", message="bad size", where=[str(tmp_path / "main.py"), 4], traceback="TB") == (
        "main.py:4: the program failed: bad size", "TB")
    assert line(kind="program", message="bad size", where=None) == ("the program failed: bad size", "")
    engine = ("the mock engine failed: KeyError: 'x'", "TB")
    assert line(kind="engine", message="KeyError: 'x'", traceback="TB") == engine
    assert line(kind="engine") == ("the mock engine failed: ", "")
    assert line(kind="project", message="Pulumi.dev.yaml: not valid YAML") == ("Pulumi.dev.yaml: not valid YAML", "")
    assert line(kind="project") == ("", "")


def test_paths_are_shown_relative_under_the_working_directory_else_as_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policies.gate.program_process import _display

    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert _display(str(tmp_path / "work" / "src" / "main.py")) == "src/main.py"
    assert _display(str(tmp_path / "other" / "main.py")) == str(tmp_path / "other" / "main.py")
    assert _display(str(tmp_path / "work" / "..data" / "x.py")) == "..data/x.py"
    assert _display(str(tmp_path)) == str(tmp_path)
