"""Where every benchmark leaves its figures: one JSON document per benchmark under bench/results/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_results(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"written to {path}")
