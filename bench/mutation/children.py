"""A pytest plugin for mutation runs: the processes the tests start do not inherit mutmut's
"stats" mode.

mutmut records, while it runs the tests once unmutated, which tests reach which function: the
trampolines it puts in every mutated function read `MUTANT_UNDER_TEST=stats` and record the hit,
which loads mutmut's configuration from the working directory. A gate test that runs a program
starts the program's interpreter in the program's directory, with the engine's mutated modules and
the inherited variable: there the configuration cannot be found and the child fails, though nothing
it records could reach this process anyway. mutmut keeps the mode in the process too
(mutmut/mutation/trampoline.py `set_mutant_under_test`, "a process-local copy" read when the
variable is absent), so the variable is taken out of the environment for the session: this process
still records, its children run the code as it is.

A mutant's own runs are left alone: there the children may run the mutant (the gate's command in a
subprocess imports the same modules) and must know which.
"""

from __future__ import annotations

import os
from typing import Any

_VARIABLE = "MUTANT_UNDER_TEST"
_STATS = "stats"


def pytest_sessionstart(session: Any) -> None:
    if os.environ.get(_VARIABLE) == _STATS:
        from mutmut.mutation.trampoline import set_mutant_under_test

        set_mutant_under_test(_STATS)  # the process-local copy, should the variable be all there was
        del os.environ[_VARIABLE]
        session.config._mutation_stats_taken = True


def pytest_sessionfinish(session: Any) -> None:
    if getattr(session.config, "_mutation_stats_taken", False):
        os.environ[_VARIABLE] = _STATS
