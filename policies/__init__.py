"""stateless-guard: the CrossGuard policy pack (pack.py, rules/) and the offline gate (gate/).

`__version__` is the one version of both: PulumiPolicy.yaml's `version` and the installed package's
version must equal it (tests/unit/policies/test_version.py)."""

__version__ = "0.1.0"
