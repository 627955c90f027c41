"""Several stacks in one run: each stack's program runs in isolation, the reports are per stack, and
the exit status is the worst one."""

from __future__ import annotations

import jsonschema

from tests.unit.policies.gate.helpers import PROGRAMS, ROOT, STACK_JSON_SCHEMA, gate, valid_report, valid_sarif

ISOLATION = str(PROGRAMS / "stack_isolation")


def _alone(stack: str, program: str = ISOLATION) -> dict:
    out = gate("--stack", stack, "--program", program, "--format", "json")
    assert out.returncode in (0, 1), out.stderr
    return _normal(valid_report(out.stdout)["stacks"][0])


def _normal(doc: dict) -> dict:
    # Registrations complete in the order their inputs resolve, which asyncio does not fix.
    return {
        **doc,
        "resources": sorted(doc["resources"], key=lambda r: r["urn"]),
        "violations": sorted(doc["violations"], key=lambda v: (v["urn"], v["policy"], v["message"])),
    }


def test_each_stack_runs_as_if_alone():
    out = gate("--stack", "a", "--stack", "b", "--program", ISOLATION, "--format", "json")
    assert out.returncode == 1, out.stderr  # b opens its public access block
    docs = valid_report(out.stdout)["stacks"]
    assert [d["stack"] for d in docs] == ["a", "b"]
    for doc in docs:
        jsonschema.validate(doc, STACK_JSON_SCHEMA)
        # The helper module is imported afresh: each stack handed out its own two names only.
        assert "seen-2" in {r["name"] for r in doc["resources"]}
        assert _normal(doc) == _alone(doc["stack"])
    assert docs[0]["violations"] == []
    assert {(v["policy"], v["name"]) for v in docs[1]["violations"]} == {("s3-public-access-block", "b-data-pab")}


def test_the_order_of_stacks_changes_nothing_but_the_order():
    forward = valid_report(gate("--stack", "a", "--stack", "b", "--program", ISOLATION, "--format", "json").stdout)[
        "stacks"
    ]
    backward = valid_report(gate("--stack", "b", "--stack", "a", "--program", ISOLATION, "--format", "json").stdout)[
        "stacks"
    ]
    assert [_normal(d) for d in forward] == [_normal(d) for d in backward[::-1]]


def test_one_stack_is_a_list_of_one_with_its_keys_also_at_the_top_level():
    out = gate("--stack", "a", "--program", ISOLATION, "--format", "json")
    doc = valid_report(out.stdout)
    assert [s["stack"] for s in doc["stacks"]] == ["a"] and doc["stack"] == "a"


def test_text_has_a_section_per_stack_and_the_overall_verdict():
    out = gate("--all-stacks", "--program", ISOLATION)
    assert out.returncode == 1
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "=== stack_isolation/a ==="
    assert "=== stack_isolation/b ===" in lines
    assert (
        "PASS stateless-guard stack_isolation/a: 5 resources judged, 0 component(s) not judged, 0 mandatory, "
        "0 advisory violation(s)"
    ) in lines
    assert lines[-1] == "FAIL (b) stateless-guard: 2 stacks"


def test_all_repository_stacks_in_one_run_match_each_alone():
    out = gate("--all-stacks", "--format", "json")
    assert out.returncode == 0, out.stderr
    docs = valid_report(out.stdout)["stacks"]
    stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    assert [d["stack"] for d in docs] == stacks
    for doc in docs:
        assert _normal(doc) == _alone(doc["stack"], str(ROOT)), doc["stack"]


def test_sarif_has_one_run_per_stack():
    out = gate("--stack", "a", "--stack", "b", "--program", ISOLATION, "--format", "sarif")
    doc = valid_sarif(out.stdout)
    assert [run["automationDetails"]["id"] for run in doc["runs"]] == [
        "stateless-guard/stack_isolation/a/",
        "stateless-guard/stack_isolation/b/",
    ]
    assert [len(run["results"]) for run in doc["runs"]] == [0, 1]


def test_the_worst_exit_status_wins(tmp_path):
    # A stack that cannot be judged makes the run exit 2, whatever the others say.
    out = gate("--stack", "a", "--stack", "missing", "--program", ISOLATION)
    assert out.returncode == 2 and "unknown stack 'missing'" in out.stderr
    out = gate("--stack", "a", "--stack", "a", "--program", ISOLATION)
    assert out.returncode == 2 and "a stack is given twice" in out.stderr
    out = gate("--all-stacks", "--stack", "a", "--program", ISOLATION)
    assert out.returncode == 2 and "not both" in out.stderr
    out = gate("--all-stacks", "--program", str(PROGRAMS / "compliant_k8s"))
    assert out.returncode == 2 and "has no Pulumi.<stack>.yaml files" in out.stderr
