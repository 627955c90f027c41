"""Benchmarks of the offline gate (run with `python -m bench.gate`)."""
