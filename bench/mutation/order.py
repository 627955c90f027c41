"""pytest plugin for mutmut's test runs (bench.mutation passes `-p bench.mutation.order`): runs the tests
that cover a mutant with the mutated module's own test file first, the rest fastest first, by the
durations mutmut recorded in its coverage pass (mutants/mutmut-stats.json).

A module's own test file is tests/.../test_<module>.py; a package's `__init__` is tested in
test_<package>.py, its `__main__` (the command line) in test_cli.py; a module without a file of its own
(report/text.py) in its package's (test_report.py). The first of these the covering tests hold counts.

mutmut stops a mutant's run at the first failing test (-x) and hands pytest the covering tests in no
particular order, so a mutant a unit test kills in milliseconds could wait behind every slow test
that also runs the function. The order changes nothing else: the same tests run, and a surviving
mutant still runs them all. Without the stats file (the coverage pass itself) the order is pytest's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATS = Path("mutmut-stats.json")  # in mutants/, where mutmut runs pytest


def own_test_files(mutant: str) -> tuple[str, ...]:
    """The file names that may hold a mutant's own tests, the likeliest first:
    `policies.gate.config.x_reconcile__mutmut_3` -> (`test_config.py`, `test_gate.py`); none for no mutant."""
    dotted = mutant.split(".x", 1)[0] if ".x" in mutant else ""
    if not dotted:
        return ()
    package, _, module = dotted.rpartition(".")
    enclosing = f"test_{package.rpartition('.')[2]}.py" if package else ""
    own = {"__init__": (), "__main__": ("test_cli.py",)}.get(module, (f"test_{module}.py",))
    return tuple(name for name in (*own, enclosing) if name)


def own_test_file(mutant: str, present: set[str]) -> str:
    """The first of the mutant's own test files among those the covering tests are in; `""` for none."""
    return next((name for name in own_test_files(mutant) if name in present), "")


def sort_key(nodeid: str, durations: dict[str, float], own: str) -> tuple[int, float]:
    file_name = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return (0 if own and file_name == own else 1, durations.get(nodeid, float("inf")))


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    if not STATS.is_file():
        return
    durations = json.loads(STATS.read_text(encoding="utf-8")).get("duration_by_test", {})
    present = {item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1] for item in items}
    own = own_test_file(os.environ.get("MUTANT_UNDER_TEST", ""), present)
    items.sort(key=lambda item: sort_key(item.nodeid, durations, own))
