"""Runs a Pulumi Python program under the SDK's mock engine and captures every resource it registers,
without the Pulumi CLI, provider plugins or cloud credentials.

- project.py: the project file and the stack's configuration, read the way the CLI reads them;
- answers.py: plausible provider answers for registered resources and invokes;
- run.py: the run itself and the capturing monitor.

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
from .records import Resource
from .run import ProgramError, ProgramRun, run_program, settle_failed_run

__all__ = [
    "DEFAULT_REGION",
    "MOCK_ACCOUNT_ID",
    "PLACEHOLDER_SECRET_PREFIX",
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
