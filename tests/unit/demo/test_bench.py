"""Pure parts of the benchmarks: ratios between runs, latency windows around a fault."""

from bench.app.__main__ import ratios
from bench.failover.__main__ import window_p99
from demo.client import Sample, TrafficReport


def run(rps, p99):
    return {"rps": rps, "p99_ms": p99}


def test_ratios_compare_cart_with_healthz_and_three_replicas_with_one():
    runs = {
        "1": {"healthz": run(1000, 10), "cart": run(500, 20)},
        "3": {"healthz": run(1500, 8), "cart": run(900, 12)},
    }
    found = ratios(runs)
    assert found["cart_over_healthz_rps_1r"] == 0.5
    assert found["cart_over_healthz_p99_1r"] == 2.0
    assert found["cart_over_healthz_rps_3r"] == 0.6
    assert found["healthz_rps_3r_over_1r"] == 1.5
    assert found["cart_rps_3r_over_1r"] == 1.8
    assert found["cart_p99_3r_over_1r"] == 0.6


def test_replica_ratios_need_both_runs():
    found = ratios({"3": {"healthz": run(1500, 8), "cart": run(900, 12)}})
    assert set(found) == {"cart_over_healthz_rps_3r", "cart_over_healthz_p99_3r"}


def test_window_p99_only_counts_requests_started_in_the_window():
    samples = [Sample(at=t / 10, method="GET /cart", status=200, latency=0.001, instance="r") for t in range(100)]
    samples.append(Sample(at=5.5, method="GET /cart", status=200, latency=0.250, instance="r"))
    samples.append(Sample(at=9.5, method="GET /cart", status=200, latency=0.900, instance="r"))
    report = TrafficReport(samples, [], 10.0, 1)
    assert window_p99(report, start=5.0, length=2.0) == 250.0
    assert window_p99(report, start=0.0, length=2.0) == 1.0
