"""Plan summaries from the gate's JSON report."""

import copy
import json
from pathlib import Path

import pytest

from demo.plan import ReportError, render_summary, summarize, summary_of

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "programs"

REPORT = {
    "stack": "prod",
    "project": "stateless-stack",
    "resources": [
        {"urn": "urn:a", "type": "pulumi:pulumi:Stack", "name": "stateless-stack-prod"},
        {"urn": "urn:b", "type": "pulumi:providers:aws", "name": "default"},
        {"urn": "urn:c", "type": "aws:ec2/subnet:Subnet", "name": "net-a"},
        {"urn": "urn:d", "type": "aws:ec2/subnet:Subnet", "name": "net-b"},
        {"urn": "urn:e", "type": "aws:s3/bucket:Bucket", "name": "receipts"},
        {"urn": "urn:f", "type": "aws:ec2/subnet:Subnet", "name": "net-c"},
        {"urn": "urn:g", "type": "stateless:network:Network", "name": "net"},
    ],
    "violations": [
        {
            "policy": "flow-logs-recommended",
            "enforcement": "advisory",
            "urn": "urn:c",
            "type": "aws:ec2/subnet:Subnet",
            "name": "net-a",
            "message": "consider flow logs",
        }
    ],
    "summary": {"resources": 7, "mandatory": 0, "advisory": 1},
}


def test_counts_by_type_most_numerous_first_without_stack_and_providers():
    plan = summarize(REPORT)
    assert plan.by_type == (
        ("aws:ec2/subnet:Subnet", 3),
        ("aws:s3/bucket:Bucket", 1),
        ("stateless:network:Network", 1),
    )
    assert plan.resources == 5
    assert plan.passed and plan.advisory == 1 and plan.mandatory == 0


def test_a_mandatory_violation_fails_the_verdict():
    report = copy.deepcopy(REPORT)
    report["summary"]["mandatory"] = 2
    plan = summarize(report)
    assert not plan.passed
    assert "verdict FAIL (2 mandatory, 1 advisory)" in render_summary(plan)


def test_rendered_summary_shows_types_outputs_and_violations():
    text = render_summary(summarize(REPORT, outputs={"lbDnsName": "alb-123.elb.amazonaws.com", "ports": [80, 443]}))
    first = text.splitlines()[0]
    assert first == "stack prod: 5 resources of 3 types, 2 outputs; verdict PASS (0 mandatory, 1 advisory)"
    assert "ec2.Subnet x3" in text and "s3.Bucket x1" in text and "Network x1" in text
    assert "lbDnsName = alb-123.elb.amazonaws.com" in text
    assert "ports = [80, 443]" in text
    assert "[advisory] flow-logs-recommended on net-a: consider flow logs" in text


def test_outputs_in_the_report_are_used_when_none_are_given():
    report = dict(REPORT, outputs={"url": "https://example.test"})
    assert summarize(report).outputs == {"url": "https://example.test"}
    assert summarize(report, outputs={}).outputs == {}


def test_long_values_are_shortened_and_violations_are_capped():
    report = copy.deepcopy(REPORT)
    report["violations"] = [dict(REPORT["violations"][0], name=f"r{i}") for i in range(8)]
    text = render_summary(summarize(report, outputs={"doc": "x" * 200}), max_violations=3)
    assert "doc = " + "x" * 59 + "…" in text
    assert text.count("[advisory]") == 3 and "… and 5 more" in text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("summary"), "gate report: missing field 'summary'"),
        (lambda r: r.__setitem__("resources", {}), "gate report: field 'resources' must be list, got dict"),
        (lambda r: r["resources"].append("urn:x"), r"gate report resources\[7\]: must be an object"),
        (lambda r: r["summary"].__setitem__("mandatory", True), "field 'mandatory' must be int, got bool"),
        (lambda r: r["violations"][0].pop("policy"), r"violations\[0\]: missing field 'policy'"),
    ],
)
def test_malformed_reports_are_refused_with_the_field_named(mutate, message):
    report = copy.deepcopy(REPORT)
    mutate(report)
    with pytest.raises(ReportError, match=message):
        summarize(report)


def test_the_in_process_verdict_summarises_as_its_json_report_does():
    """The demo summarises the gate's result itself (no JSON round trip) and takes the stack outputs
    from the run the gate judged: both must say what the report says."""
    from policies.gate import run_gate
    from policies.gate.report import as_json

    result = run_gate("dev", FIXTURES / "public_bucket")
    assert result.run is not None and result.violations
    report = json.loads(as_json(result.project, result.stack, result.resources, result.violations))
    assert summary_of(result) == summarize(report, outputs=result.run.outputs)


def test_a_version_2_report_is_read_by_stack():
    other = {**copy.deepcopy(REPORT), "stack": "dev", "violations": [], "summary": {**REPORT["summary"], "advisory": 0}}
    report = {"schemaVersion": 2, "stacks": [copy.deepcopy(REPORT), other]}
    assert summarize(report, stack_name="prod") == summarize(REPORT)
    assert summarize(report, stack_name="dev").advisory == 0
    with pytest.raises(ReportError, match="expected one stack among 2 stack"):
        summarize(report)
    assert summarize({"schemaVersion": 2, "stacks": [copy.deepcopy(REPORT)]}) == summarize(REPORT)
    with pytest.raises(ReportError, match="schemaVersion 3 is not 2"):
        summarize({"schemaVersion": 3, "stacks": []})
