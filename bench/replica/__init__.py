"""Replica cold start to ready and resident memory per process (`python -m bench.replica`)."""
