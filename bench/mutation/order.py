"""pytest plugin for mutmut's test runs (bench.mutation passes `-p bench.mutation.order`): runs the tests
that cover a mutant with the mutated module's own test file first (tests/.../test_<module>.py), the
rest fastest first, by the durations mutmut recorded in its coverage pass (mutants/mutmut-stats.json).

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


def own_test_file(mutant: str) -> str:
    """`policies.gate.config.x_reconcile__mutmut_3` -> `test_config.py`; `""` for no mutant."""
    dotted = mutant.split(".x", 1)[0] if ".x" in mutant else ""
    return f"test_{dotted.rsplit('.', 1)[-1]}.py" if dotted else ""


def sort_key(nodeid: str, durations: dict[str, float], own: str) -> tuple[int, float]:
    file_name = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return (0 if own and file_name == own else 1, durations.get(nodeid, float("inf")))


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    if not STATS.is_file():
        return
    durations = json.loads(STATS.read_text(encoding="utf-8")).get("duration_by_test", {})
    own = own_test_file(os.environ.get("MUTANT_UNDER_TEST", ""))
    items.sort(key=lambda item: sort_key(item.nodeid, durations, own))
