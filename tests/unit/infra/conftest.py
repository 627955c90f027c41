"""Whole-program runs under the mock engine, once per stack per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.gate.mockengine import ProgramRun, run_program

ROOT = Path(__file__).resolve().parents[3]
STACKS = ("dev", "staging", "prod")

_runs: dict[str, ProgramRun] = {}


def program_run(stack: str) -> ProgramRun:
    if stack not in _runs:
        _runs[stack] = run_program(ROOT, stack)
    return _runs[stack]


@pytest.fixture(scope="session", params=STACKS)
def run(request: pytest.FixtureRequest) -> ProgramRun:
    return program_run(request.param)


@pytest.fixture(scope="session")
def dev() -> ProgramRun:
    return program_run("dev")


@pytest.fixture(scope="session")
def staging() -> ProgramRun:
    return program_run("staging")


@pytest.fixture(scope="session")
def prod() -> ProgramRun:
    return program_run("prod")
