"""Failed requests and latency through HAProxy during a SIGKILL and a rolling restart (`python -m bench.failover`)."""
