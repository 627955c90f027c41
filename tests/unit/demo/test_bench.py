"""Pure parts of the benchmarks: the app against its floor, latency windows around a fault."""

from bench.app.__main__ import ratios, summarize
from bench.failover.__main__ import window_p99
from demo.client import Sample, TrafficReport


def run(rps, p99, cpu=100.0, p50=1.0):
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "cpu_us_per_request": cpu,
        "requests": 10,
        "non_2xx": 0,
        "socket_errors": 0,
    }


def test_ratios_put_the_app_against_the_floor():
    found = ratios(run(700, 30, cpu=300), run(1000, 10, cpu=150))
    assert found == {"app_over_floor_rps": 0.7, "app_over_floor_p99": 3.0, "floor_over_app_cpu_per_request": 0.5}


def test_rounds_are_summarized_by_their_median_and_errors_by_their_sum():
    rounds = [run(100, 50, cpu=10), run(300, 10, cpu=30), run(200, 20, cpu=20)]
    rounds[1]["non_2xx"] = 2
    found = summarize(rounds)
    assert (found["rps"], found["p99_ms"], found["cpu_us_per_request"]) == (200, 20, 20)
    assert (found["requests"], found["non_2xx"], found["rounds"]) == (30, 2, rounds)


def test_window_p99_only_counts_requests_started_in_the_window():
    samples = [Sample(at=t / 10, method="GET /cart", status=200, latency=0.001, instance="r") for t in range(100)]
    samples.append(Sample(at=5.5, method="GET /cart", status=200, latency=0.250, instance="r"))
    samples.append(Sample(at=9.5, method="GET /cart", status=200, latency=0.900, instance="r"))
    report = TrafficReport(samples, [], 10.0, 1)
    assert window_p99(report, start=5.0, length=2.0) == 250.0
    assert window_p99(report, start=0.0, length=2.0) == 1.0
