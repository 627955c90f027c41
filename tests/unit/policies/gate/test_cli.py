"""The offline gate's command line on fixture programs and on this repository's stacks.

The command's side runs in this process (`main`, helpers.gate), the program in a child process of its
own interpreter as always, so no Pulumi runtime state is shared between programs; the entry point
itself, `python -m policies.gate`, is run as a fresh process at the end.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.unit.policies.gate.helpers import GATE_JSON_SCHEMA, PROGRAMS, ROOT, gate, gate_process, valid_sarif


def gate_json(program: str, *args: str) -> tuple[int, dict]:
    out = gate("--stack", "dev", "--program", str(PROGRAMS / program), "--format", "json", *args)
    assert out.returncode in (0, 1), out.stderr
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, GATE_JSON_SCHEMA)
    return out.returncode, doc


def found(doc: dict) -> set[tuple[str, str, str]]:
    return {(v["policy"], v["name"], v["enforcement"]) for v in doc["violations"]}


@pytest.mark.parametrize("program", ["compliant_web", "compliant_k8s"])
def test_compliant_programs_pass_with_no_violation_at_all(program):
    code, doc = gate_json(program)
    assert code == 0
    assert doc["violations"] == []
    assert doc["summary"]["mandatory"] == doc["summary"]["advisory"] == 0
    assert doc["summary"]["resources"] == len(doc["resources"]) > 0
    assert all(r["type"] != "pulumi:pulumi:Stack" for r in doc["resources"])


def test_compliant_web_resources_are_all_listed():
    _, doc = gate_json("compliant_web")
    types = {r["type"] for r in doc["resources"]}
    assert {
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:autoscaling/group:Group",
        "aws:rds/instance:Instance",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:alb/listener:Listener",
    } <= types
    assert doc["project"] == "compliant-web" and doc["stack"] == "dev"


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        (
            "instance_state",
            {
                ("no-instance-data-volumes", "app-server", "mandatory"),
                ("no-instance-data-volumes", "workers", "mandatory"),
                ("no-standalone-instances", "app-server", "mandatory"),
                ("no-ebs-data-volumes", "data", "mandatory"),
            },
        ),
        ("sticky_sessions", {("no-sticky-sessions", "web", "mandatory")}),
        (
            "k8s_state",
            {
                ("no-k8s-host-storage", "web", "mandatory"),
                ("no-app-statefulsets", "sessions", "mandatory"),
                ("no-k8s-persistent-volumes", "sessions", "mandatory"),
            },
        ),
        (
            "userdata_disk",
            {
                ("no-disk-setup-in-user-data", "app", "mandatory"),
                ("no-local-datastore-in-user-data", "app", "mandatory"),
            },
        ),
        (
            "public_bucket",
            {
                ("s3-public-access-block", "site", "mandatory"),
                ("s3-no-public-access", "site", "mandatory"),
                ("s3-encryption", "site", "advisory"),
                ("s3-versioning", "site", "advisory"),
            },
        ),
        (
            "compose_userdata",
            {
                ("no-local-datastore-in-user-data", "shop", "mandatory"),
                ("no-local-datastore-in-user-data", "batch", "mandatory"),
            },
        ),
        ("ecs_efs", {("no-ecs-efs-volumes", "web", "mandatory")}),
        (
            "yaml_manifest",
            {
                ("no-app-statefulsets", "rabbitmq", "mandatory"),
                ("no-k8s-persistent-volumes", "rabbitmq", "mandatory"),
            },
        ),
        (
            "lightsail",
            {
                ("no-standalone-instances", "app", "mandatory"),
                ("no-local-datastore-in-user-data", "app", "mandatory"),
                ("no-ebs-data-volumes", "data", "mandatory"),
                ("no-ebs-data-volumes", "data-attachment", "mandatory"),
            },
        ),
        (
            "day_two",
            {
                ("asg-launch-before-terminate", "web", "mandatory"),
                ("sqs-event-source-max-concurrency", "worker", "mandatory"),
                ("sqs-event-source-max-concurrency", "mailer", "mandatory"),
                ("sqs-visibility-timeout", "orders", "mandatory"),
                ("api-custom-domain-only", "shop", "mandatory"),
                ("api-no-internal-routes", "shop-readyz", "mandatory"),
                ("service-role-source-condition", "flow-logs", "mandatory"),
                ("eks-public-endpoint", "k8s", "mandatory"),
                ("eks-secrets-encryption", "k8s", "mandatory"),
                ("eks-access-entries", "k8s", "mandatory"),
                ("eks-deletion-protection", "k8s", "mandatory"),
                ("eks-version-supported", "k8s", "mandatory"),
                ("alb-header-hygiene", "public", "mandatory"),
                ("ecr-immutable-tags", "app", "mandatory"),
                ("service-log-groups-managed", "k8s", "mandatory"),
                ("kms-key-rotation", "data", "mandatory"),
                ("log-group-retention", "app", "mandatory"),
            },
        ),
        (
            "plaintext_db_password",
            {
                ("rds-managed-master-password", "db", "mandatory"),
                ("rds-not-public", "db", "mandatory"),
                ("rds-backups-enabled", "db", "mandatory"),
                ("rds-storage-encrypted", "db", "mandatory"),
                ("rds-multi-az", "db", "advisory"),
            },
        ),
    ],
)
def test_violating_programs_fail(program, expected):
    code, doc = gate_json(program)
    assert code == 1
    assert expected <= found(doc)
    assert doc["summary"]["mandatory"] == sum(v["enforcement"] == "mandatory" for v in doc["violations"])
    urns = {r["urn"] for r in doc["resources"]}
    assert all(v["urn"] in urns for v in doc["violations"])


@pytest.mark.parametrize(
    ("program", "fragment"),
    [
        ("raises", "the program failed: stateless-stack:minSize must not exceed maxSize (got 5 > 2)"),
        ("no_project", "no Pulumi.yaml"),
        ("bad_stack_config", "Pulumi.dev.yaml: not valid YAML (line 3)"),
    ],
)
def test_broken_programs_exit_2_with_one_clear_line(program, fragment):
    out = gate("--stack", "dev", "--program", str(PROGRAMS / program), "--format", "json")
    assert out.returncode == 2
    assert out.stdout == ""
    assert fragment in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0


def test_debug_shows_the_traceback():
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "raises"), "--debug")
    assert out.returncode == 2
    assert "Traceback" in out.stderr and "ValueError" in out.stderr


def test_unknown_stack_when_the_project_has_stack_files():
    out = gate("--stack", "qa", "--program", str(PROGRAMS / "compliant_web"))
    assert out.returncode == 2
    assert "unknown stack 'qa'" in out.stderr and "(stacks: dev)" in out.stderr


def test_program_without_any_stack_file_runs_on_declared_defaults():
    out = gate("--stack", "anything", "--program", str(PROGRAMS / "compliant_k8s"), "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["stack"] == "anything"


@pytest.mark.parametrize(
    "args",
    [[], ["--stack", "dev", "--format", "xml"], ["--stack", "dev", "--bogus"]],
)
def test_bad_arguments_exit_2(args):
    out = gate(*args)
    assert out.returncode == 2
    assert "usage:" in out.stderr


def test_missing_config_file_and_bad_stack_name_exit_2():
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "compliant_web"), "--config-file", "/nonexistent.yaml")
    assert out.returncode == 2 and "config file not found" in out.stderr
    out = gate("--stack", "dev/../x", "--program", str(PROGRAMS / "compliant_web"))
    assert out.returncode == 2 and "invalid stack name" in out.stderr


def test_explicit_config_file_replaces_the_stack_file(tmp_path):
    cfg = tmp_path / "other.yaml"
    cfg.write_text("config:\n  compliant-web:dbInstanceClass: db.r6g.large\n")
    out = gate("--stack", "qa", "--program", str(PROGRAMS / "compliant_web"), "--config-file", str(cfg))
    assert out.returncode == 0, out.stderr


def test_policy_config_overrides_enforcement(tmp_path):
    config = tmp_path / "policy.json"
    config.write_text(
        json.dumps(
            {
                "no-instance-data-volumes": "advisory",
                "no-ebs-data-volumes": {"enforcementLevel": "advisory"},
                "no-standalone-instances": "disabled",
            }
        )
    )
    code, doc = gate_json("instance_state", "--policy-config", str(config))
    assert code == 0
    assert {v["enforcement"] for v in doc["violations"]} == {"advisory"}
    assert "no-standalone-instances" not in {v["policy"] for v in doc["violations"]}

    config.write_text(json.dumps({"all": "mandatory"}))
    code, doc = gate_json("public_bucket", "--policy-config", str(config))
    assert code == 1
    assert ("s3-versioning", "site", "mandatory") in found(doc)

    config.write_text(json.dumps({"no-standalone-instances": {"allowedTags": {"Name": ["app-server"]}}}))
    code, doc = gate_json("instance_state", "--policy-config", str(config))
    assert code == 1  # the data volumes still fail
    assert "no-standalone-instances" in {v["policy"] for v in doc["violations"]}


def test_bad_policy_config_exits_2(tmp_path):
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"rds-backups-enabled": {"minRetentionDays": "a week"}}))
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "compliant_web"), "--policy-config", str(config))
    assert out.returncode == 2
    assert "rds-backups-enabled.minRetentionDays: 'a week' is not of type 'integer'" in out.stderr


def test_sarif_report():
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "public_bucket"), "--format", "sarif")
    assert out.returncode == 1
    doc = valid_sarif(out.stdout)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert "s3-public-access-block" in ids and len(ids) == len(set(ids))
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    levels = {(r["ruleId"], r["level"]) for r in run["results"]}
    assert ("s3-public-access-block", "error") in levels and ("s3-versioning", "warning") in levels
    for result in run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        logical = result["locations"][0]["logicalLocations"][0]
        assert logical["fullyQualifiedName"].startswith("urn:pulumi:dev::public_bucket::")


def test_text_report_groups_by_resource_and_ends_with_the_summary():
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "plaintext_db_password"))
    assert out.returncode == 1
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "aws:rds/instance:Instance  db"
    assert lines[1].strip().startswith("urn:pulumi:dev::plaintext_db_password::")
    assert "  [mandatory] rds-not-public: RDS instance is publicly accessible" in lines
    assert (
        lines[-1] == "FAIL stateless-guard plaintext_db_password/dev: 1 resources judged, 0 component(s) not judged, "
        "4 mandatory, 3 advisory violation(s)"
    )


UNSEEN = {
    ("no-unjudged-components", "cache", "kubernetes:helm.sh/v4:Chart"),
    ("no-unjudged-components", "queue", "kubernetes:yaml/v2:ConfigFile"),
    ("no-unjudged-components", "search", "kubernetes:helm.sh/v3:Release"),
    ("no-unjudged-components", "warehouse", "acme:index:Warehouse"),
}


def test_components_the_gate_cannot_see_into_are_reported_not_passed():
    # A Redis from a Helm v4 chart used to PASS with 0 mandatory, 0 advisory and exit 0.
    code, doc = gate_json("unseen_components")
    assert code == 0
    assert {(v["policy"], v["name"], v["type"]) for v in doc["violations"]} == UNSEEN
    assert {v["enforcement"] for v in doc["violations"]} == {"advisory"}
    by_name = {v["name"]: v for v in doc["violations"]}
    assert by_name["cache"]["urn"] == (
        "urn:pulumi:dev::unseen_components::kubernetes:helm.sh/v4:Chart::cache"
    )
    assert "its children are created by its provider inside the Pulumi engine" in by_name["cache"]["message"]
    # The local component's child is there and judged; the component itself is not reported.
    assert "jobs" not in by_name and "jobs-events" in {r["name"] for r in doc["resources"]}

    out = gate("--stack", "dev", "--program", str(PROGRAMS / "unseen_components"))
    assert out.stdout.strip().splitlines()[-1] == (
        "PASS stateless-guard unseen_components/dev: 2 resources judged, 4 component(s) not judged, "
        "0 mandatory, 4 advisory violation(s)"
    )


def test_unjudged_components_can_be_made_mandatory_or_disabled(tmp_path):
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"no-unjudged-components": "mandatory"}))
    code, doc = gate_json("unseen_components", "--policy-config", str(config))
    assert code == 1 and doc["summary"]["mandatory"] == 4
    config.write_text(json.dumps({"no-unjudged-components": "disabled"}))
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "unseen_components"), "--policy-config", str(config))
    assert out.returncode == 0
    # Disabling the rule hides the findings, never the count; the report names the policy config.
    assert out.stdout.strip().splitlines() == [
        f"policy config: {config}",
        "PASS stateless-guard unseen_components/dev: 2 resources judged, 4 component(s) not judged, "
        "0 mandatory, 0 advisory violation(s)",
    ]


def test_output_file(tmp_path):
    target = tmp_path / "report.json"
    out = gate(
        "--stack", "dev", "--program", str(PROGRAMS / "sticky_sessions"), "--format", "json", "--output", str(target)
    )
    assert out.returncode == 1
    assert out.stdout == ""
    assert json.loads(target.read_text())["summary"]["mandatory"] == 2
    assert "report in" in out.stderr


REPOSITORY_STACKS = sorted(
    {"dev", "staging", "prod"}
    | {p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")}
)


@pytest.mark.parametrize("stack", REPOSITORY_STACKS)
def test_repository_stacks_have_no_mandatory_violation(stack):
    out = gate("--stack", stack, "--format", "json")
    assert out.returncode == 0, out.stderr + out.stdout[-2000:]
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, GATE_JSON_SCHEMA)
    assert doc["project"] == "stateless-stack"
    assert doc["summary"]["mandatory"] == 0
    assert doc["summary"]["resources"] > 20


def test_missing_required_config_is_one_line(tmp_path):
    program = tmp_path / "needs-config"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: needs-config\nruntime: python\n")
    (program / "__main__.py").write_text('import pulumi\n\npulumi.Config().require("minSize")\n')
    out = gate("--stack", "dev", "--program", str(program))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1
    assert "Missing required configuration variable 'needs-config:minSize'" in out.stderr


def test_a_v1_yaml_manifest_is_decoded_as_the_provider_decodes_it(tmp_path):
    program = tmp_path / "manifests"
    shutil.copytree(PROGRAMS / "yaml_manifest", program)
    manifest = program / "manifests" / "rabbitmq.yaml"
    # Documents without kind or apiVersion are skipped, as the provider skips them.
    manifest.write_text("---\n# nothing\n---\nfoo: bar\n---\n" + manifest.read_text())
    out = gate("--stack", "dev", "--program", str(program), "--format", "json")
    assert out.returncode == 1, out.stderr
    assert {r["type"] for r in json.loads(out.stdout)["resources"]} == {
        "kubernetes:yaml:ConfigFile",
        "kubernetes:apps/v1:StatefulSet",
    }
    # A manifest that does not parse fails the invoke, and the program with it.
    manifest.write_text("kind: [unclosed\n")
    out = gate("--stack", "dev", "--program", str(program))
    assert out.returncode == 2
    assert "kubernetes:yaml:decode: the manifest is not valid YAML" in out.stderr


def test_day_two_findings_stop_at_the_overrides():
    # The second cluster and the mail consumer keep the secure defaults (10 s x 6 = the queue's 60 s).
    _, doc = gate_json("day_two")
    assert {v["name"] for v in doc["violations"]} & {"k8s-protected", "mail", "mailer-role", "worker-role"} == set()
    assert [v["policy"] for v in doc["violations"] if v["name"] == "mailer"] == ["sqs-event-source-max-concurrency"]


def test_stack_reference_outputs_come_from_the_given_file(tmp_path: Path) -> None:
    program = PROGRAMS / "stack_reference"
    outputs = tmp_path / "network.json"
    outputs.write_text(json.dumps({"vpcId": "vpc-0abc", "privateSubnetIds": ["subnet-1"], "region": "us-west-2"}))
    done = gate("--stack", "dev", "--program", str(program), "--format", "json",
                "--stack-reference", f"acme/network/prod={outputs}")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    stack = doc["stacks"][0] if "stacks" in doc else doc
    assert stack["verdict"] == "PASS" and not any("stack reference" in n for n in stack["notes"])
    assert any(r["name"] == "eni-0" for r in stack["resources"])

    bare = gate("--stack", "dev", "--program", str(program))
    assert bare.returncode == 0
    assert "PASS (incomplete)" in bare.stdout
    assert "stack reference acme/network/prod: outputs unknown" in bare.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("acme/network/prod", "expected NAME=FILE"),
        ("acme/network/prod={missing}", "cannot read"),
        ("acme/network/prod={list}", "must be an object of outputs"),
        ("acme/network/prod={broken}", "is not JSON"),
    ],
)
def test_a_bad_stack_reference_is_one_clear_error(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "broken.json").write_text("{")
    files = {k: tmp_path / f"{k}.json" for k in ("missing", "list", "broken")}
    done = gate("--stack", "dev", "--program", str(PROGRAMS / "stack_reference"),
                "--stack-reference", value.format(**files))
    assert done.returncode == 2
    assert done.stderr.startswith("policies.gate: error: --stack-reference") and message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.process
def test_the_entry_point_reports_and_ends_with_mains_status():
    # `python -m policies.gate` is command(): main(), its output flushed, then the process ends with
    # main's status (0 pass, 1 mandatory findings, 2 broken), argparse's usage errors included.
    passed = gate_process("--stack", "dev", "--program", str(PROGRAMS / "compliant_web"), "--format", "json")
    assert passed.returncode == 0, passed.stderr
    assert json.loads(passed.stdout)["stacks"][0]["verdict"] == "PASS"
    failed = gate_process("--stack", "dev", "--program", str(PROGRAMS / "sticky_sessions"))
    assert failed.returncode == 1 and "no-sticky-sessions" in failed.stdout
    usage = gate_process("--stack", "dev", "--format", "xml")
    assert usage.returncode == 2 and "usage:" in usage.stderr and usage.stdout == ""


class _Ended(Exception):
    pass


def _command(monkeypatch, outcome, streams=None) -> tuple[list[int], str]:
    """command() in this process: main() gives `outcome` (a status, or an exception it raises); the status
    the process would end with is recorded instead of ending it."""
    from policies.gate import __main__ as entry

    ended: list[int] = []

    def main() -> int:
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def exit_(code: int) -> None:
        ended.append(code)
        raise _Ended

    monkeypatch.setattr(entry, "main", main)
    monkeypatch.setattr(entry.os, "_exit", exit_)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    for name, stream in (streams or {}).items():
        monkeypatch.setattr(sys, name, stream)
    with pytest.raises(_Ended):
        entry.command()
    return ended, err.getvalue()


@pytest.mark.parametrize("status", [0, 1, 2])
def test_the_command_ends_with_mains_status(monkeypatch, status):
    assert _command(monkeypatch, status) == ([status], "")


def test_the_command_ends_with_argparses_status_and_message(monkeypatch):
    assert _command(monkeypatch, SystemExit(2)) == ([2], "")
    assert _command(monkeypatch, SystemExit(0)) == ([0], "")  # argparse's own --help
    assert _command(monkeypatch, SystemExit(3)) == ([3], "")
    assert _command(monkeypatch, SystemExit(None)) == ([0], "")  # --help
    assert _command(monkeypatch, SystemExit("bad arguments")) == ([2], "bad arguments\n")


@pytest.mark.parametrize("error", [OSError(32, "Broken pipe"), ValueError("I/O operation on closed file.")])
def test_the_command_ends_with_its_status_when_a_stream_cannot_be_flushed(monkeypatch, error):
    class Gone(io.StringIO):
        def flush(self) -> None:
            raise error

    ended, _ = _command(monkeypatch, 1, streams={"stdout": Gone()})
    assert ended == [1]


def test_version_and_the_rules_are_listed_without_running_anything():
    from policies import __version__
    from policies.pack import PACK_ENFORCEMENT, POLICIES

    version = gate("--version")
    assert (version.returncode, version.stdout) == (0, f"stateless-guard {__version__}\n")
    listed = gate("--list-rules")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert len(lines) == len(POLICIES)
    width = max(len(p.name) for p in POLICIES)
    for line, policy in zip(lines, POLICIES, strict=True):
        level = (policy.enforcement_level or PACK_ENFORCEMENT).value
        assert line == f"{policy.name.ljust(width)}  {level.ljust(9)}  {policy.description}"
