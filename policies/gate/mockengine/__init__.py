"""Runs a Pulumi Python program under the SDK's mock engine and captures every resource it registers,
without the Pulumi CLI, provider plugins or cloud credentials.

- project.py: the project file and the stack's configuration, read the way the CLI reads them
  (go-yaml's YAML 1.2 scalars; `secure:` values, at any depth, as placeholders);
- answers.py: plausible provider answers for registered resources and invokes;
- run.py: the run itself and the capturing monitor: as a preview for the gate (unknowns stay
  unknown; skipped callbacks, unanswered invokes and unread stack references are reported), as an
  update for the infrastructure tests;
- records.py: the resource record and the UNKNOWN marker.

The offline gate and the infrastructure tests both run programs through `run_program`.
"""

from .answers import DEFAULT_REGION, MOCK_ACCOUNT_ID, mock_invoke, mock_outputs
from .project import (
    PLACEHOLDER_SECRET_PREFIX,
    ConfigDeclaration,
    Project,
    ProjectError,
    StackConfig,
    load_project,
    load_stack_config,
)
from .records import UNKNOWN, Resource
from .run import ProgramError, ProgramRun, run_program, settle_failed_run

__all__ = [
    "DEFAULT_REGION",
    "MOCK_ACCOUNT_ID",
    "PLACEHOLDER_SECRET_PREFIX",
    "UNKNOWN",
    "ConfigDeclaration",
    "ProgramError",
    "ProgramRun",
    "Project",
    "ProjectError",
    "Resource",
    "StackConfig",
    "load_project",
    "load_stack_config",
    "mock_invoke",
    "mock_outputs",
    "run_program",
    "settle_failed_run",
]
