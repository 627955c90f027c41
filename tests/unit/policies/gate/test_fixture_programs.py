"""The gate over the fixture programs of tests/fixtures/programs that carry an `expected.json`, each
reproducing one pattern real programs use; the expectation was written before the program first ran.

expected.json: {"exit": 0|1|2, "mandatory": [[policy, resource name], ...], "incomplete": bool,
"stack": "dev" (optional), "error": "text the one error line contains" (optional, for exit 2)}.
Every program that `pulumi preview` runs gets a verdict (0 or 1); each expected mandatory finding is
reported and no other; a pass that could not see everything says so; the racy pattern (a resource
object passed as an input) gives the same result ten times in a row.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.unit.policies.gate.helpers import PROGRAMS, gate

FIXTURES = sorted(p.parent for p in PROGRAMS.glob("*/expected.json"))
RACY = "resource_as_input"
# The notes that make a pass incomplete (policies/gate/__init__.py run_notes).
INCOMPLETE_NOTE = re.compile(r"apply callbacks? did not run|unanswered|stack reference .*: outputs unknown")


def _expected(program: Path) -> dict[str, Any]:
    return json.loads((program / "expected.json").read_text(encoding="utf-8"))


def _run(program: Path, expected: dict[str, Any]) -> tuple[int, dict[str, Any] | None, str]:
    done = gate("--stack", expected.get("stack", "dev"), "--program", str(program), "--format", "json")
    if done.returncode == 2:
        return 2, None, done.stderr
    doc = json.loads(done.stdout)
    # Schema 2 nests the stacks; the single-stack keys stay at the top level as well.
    return done.returncode, doc["stacks"][0] if "stacks" in doc else doc, done.stderr


def _mandatory(stack: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v["policy"], v["name"]) for v in stack["violations"] if v["enforcement"] == "mandatory"}


def _incomplete(stack: dict[str, Any]) -> bool:
    return any(INCOMPLETE_NOTE.search(note) for note in stack["notes"])


def test_the_fixture_set_covers_the_engine_patterns() -> None:
    names = {p.name for p in FIXTURES}
    assert {
        "acm_dns_validation",
        "apply_computed_output",
        "stack_reference",
        "awsx_vpc",
        "unanswered_invoke",
        RACY,
        "nested_secure_config",
        "default_off",
        "duplicate_urn",
        "instance_public_ip",
        "resource_in_apply",
        "node_groups",
    } <= names


@pytest.mark.parametrize("program", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture_program_gets_its_expected_verdict(program: Path) -> None:
    expected = _expected(program)
    code, stack, stderr = _run(program, expected)
    assert code == expected["exit"], stderr
    if code == 2:
        lines = stderr.strip().splitlines()
        assert lines and lines[-1].startswith("policies.gate: error: "), stderr
        assert "Traceback" not in stderr
        assert expected.get("error", "") in lines[-1]
        return
    assert stack is not None
    assert _mandatory(stack) == {tuple(pair) for pair in expected["mandatory"]}
    assert _incomplete(stack) is expected["incomplete"], stack["notes"]
    if code == 0:
        assert stack["verdict"] == ("PASS (incomplete)" if expected["incomplete"] else "PASS")
    else:
        assert stack["verdict"] == "FAIL"


def test_a_resource_passed_as_an_input_gives_the_same_result_ten_times() -> None:
    program = PROGRAMS / RACY
    expected = _expected(program)
    results = []
    for _ in range(10):
        code, stack, stderr = _run(program, expected)
        results.append(
            (
                code,
                stack["verdict"] if stack else stderr.strip().splitlines()[-1:],
                sorted(_mandatory(stack or {"violations": []})),
            )
        )
    assert results == [results[0]] * 10
    assert results[0][0] == expected["exit"]
