"""Shared by the gate's command-line tests: run `python -m policies.gate` in a fresh process, and check
every SARIF document it writes against the official SARIF 2.1.0 schema."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[3]
PROGRAMS = ROOT / "tests" / "fixtures" / "programs"
# The OASIS schema (errata01), kept beside the checkout: ../shared/schemas from the repository root.
SARIF_SCHEMA_FILE = ROOT.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json"


def gate(*args: str, cwd: Path = ROOT, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policies.gate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        input=stdin,
    )


@functools.cache
def _sarif_validator() -> Any:
    schema = json.loads(SARIF_SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def valid_sarif(text: str) -> dict[str, Any]:
    """The SARIF document in `text`, validated against the official schema; plus what GitHub code
    scanning needs on top of it (numeric security-severity, a location and a fingerprint per result)."""
    doc = json.loads(text)
    errors = sorted(_sarif_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    for run in doc["runs"]:
        assert "%SRCROOT%" in run["originalUriBaseIds"]
        for rule in run["tool"]["driver"]["rules"]:
            assert 0.0 < float(rule["properties"]["security-severity"]) <= 10.0
        for result in run["results"]:
            assert result["partialFingerprints"]["primaryLocationLineHash"]
            physical = result["locations"][0]["physicalLocation"]
            assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
            assert not physical["artifactLocation"]["uri"].startswith("/")
    return doc
