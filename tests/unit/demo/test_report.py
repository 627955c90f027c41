"""The demo's results table and the traffic figures it is built from."""

import pytest

from demo.client import Sample, ScenarioError, TrafficReport, cart_items, percentile
from demo.plan import summarize
from demo.report import ScenarioResult, render_table, verdicts_cell


def test_table_aligns_both_columns_in_a_box():
    text = render_table([("requests sent", "412"), ("failed", "0")], title="scenario")
    assert text.splitlines() == [
        "+---------------+-----+",
        "| scenario            |",
        "+---------------+-----+",
        "| requests sent | 412 |",
        "| failed        | 0   |",
        "+---------------+-----+",
    ]


def test_a_long_title_widens_the_table():
    lines = render_table([("a", "b")], title="a rather long title").splitlines()
    assert len({len(line) for line in lines}) == 1
    assert "a rather long title" in lines[1]


def test_multiline_cells_are_refused():
    with pytest.raises(ValueError, match="one line"):
        render_table([("order", "1\n2")])


def test_scenario_result_rows():
    result = ScenarioResult(
        requests=300,
        failed=1,
        replicas_seen=("replica-1", "replica-2", "replica-3"),
        killed="replica-2",
        lost_sessions=0,
        order_id="42",
        order_status="ready",
        receipt_key="receipts/42.json",
        p99_ms=12.345,
    )
    rows = dict(result.rows())
    assert rows["requests sent"] == "300"
    assert rows["failed after the client's retries"] == "1"
    assert rows["failed at the load balancer (first attempt)"] == "0"
    assert rows["replicas seen"] == "3 (replica-1, replica-2, replica-3)"
    assert rows["p99 latency"] == "12.3 ms"
    assert rows["receipt key"] == "receipts/42.json"


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([], 0.5) == 0.0
    with pytest.raises(ValueError):
        percentile(values, 0)


def test_traffic_report_counts_5xx_and_transport_errors_as_failures():
    samples = [
        Sample(0.0, "GET /cart", 200, 0.010, "replica-1"),
        Sample(0.1, "GET /cart", 503, 0.020, "replica-2"),
        Sample(0.2, "PUT /cart/items/a", 0, 0.030, None, "ConnectError"),
        Sample(0.3, "GET /cart", 401, 0.005, "replica-3"),
    ]
    report = TrafficReport(samples, mismatches=["lost"], duration=2.0, users=1)
    assert report.failed == 2
    assert report.instances == ["replica-1", "replica-2", "replica-3"]
    figures = report.figures()
    assert figures["requests"] == 4 and figures["rps"] == 2.0 and figures["lost_sessions"] == 1
    assert figures["max_ms"] == 30.0
    assert report.failures() == ["t=0.10s GET /cart -> 503", "t=0.20s PUT /cart/items/a -> ConnectError"]


def test_cart_items_reads_the_documented_shape_and_refuses_others():
    assert cart_items({"items": [{"sku": "a", "quantity": 2}]}) == {"a": 2}
    with pytest.raises(ScenarioError, match="items list"):
        cart_items({"cart": []})
    with pytest.raises(ScenarioError, match="sku and quantity"):
        cart_items({"items": [{"sku": "a"}]})


def test_verdicts_cell_names_every_stack_and_fails_on_a_mandatory_violation():
    def plan(stack, mandatory, advisory):
        report = {
            "stack": stack,
            "project": "p",
            "resources": [],
            "violations": [],
            "summary": {"resources": 0, "mandatory": mandatory, "advisory": advisory},
        }
        return summarize(report)

    cell = verdicts_cell([plan("dev", 0, 4), plan("prod", 1, 0)])
    assert cell == "dev PASS 0/4, prod FAIL 1/0 (mandatory/advisory)"
