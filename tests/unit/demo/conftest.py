"""The demo's gate runs fixture programs that name no virtualenv: as in the gate's own tests, the test
interpreter's virtualenv is the activated one (its `python3` first on PATH)."""

from tests.unit.policies.gate.conftest import _activated_virtualenv  # noqa: F401
