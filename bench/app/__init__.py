"""Throughput and latency of the app through HAProxy (run with `python -m bench.app`)."""
