"""--state (`pulumi stack export`) and --preview (`pulumi preview --json`): any language's stack,
judged by the same rules with the same formats and exit statuses as a program run.

The documents are built from what the fixture programs register, in the shapes the CLI writes
(tests/unit/policies/gate/helpers.py cites pulumi/pulumi's apitype and display types)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from policies.gate.mockengine import run_program
from tests.unit.policies.gate.helpers import (
    GATE_JSON_SCHEMA,
    PROGRAMS,
    ROOT,
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN,
    encrypted,
    gate,
    preview_document,
    stack_urn,
    state_document,
    valid_sarif,
)

# Together these programs break a rule of every family: instance state, stickiness, Kubernetes,
# user data, Lambda, secrets, data stores, S3, network, components.
PROGRAM_FAMILIES = [
    "instance_state",
    "sticky_sessions",
    "k8s_state",
    "userdata_disk",
    "compose_userdata",
    "ecs_efs",
    "lightsail",
    "function_and_network",
    "plaintext_db_password",
    "public_bucket",
    "unseen_components",
    "yaml_manifest",
    "compliant_web",
    "day_two",
]
# The preview's JSON writes every secret as "[secret]": a finding that needs a secret's value cannot
# be made from it (the analyzer itself sees the value; `pulumi stack export --show-secrets` keeps it).
NEEDS_A_SECRET = {("plaintext_db_password", "rds-managed-master-password")}
# Only the mock engine knows a registration was remote; in a document the rule matches its
# configured component types (the acme component of the fixture is not one of them).
ONLY_UNDER_THE_MOCK = {("unseen_components", "no-unjudged-components", "warehouse")}


def _findings(doc: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {(v["policy"], v["urn"], v["enforcement"], v["message"]) for v in doc["violations"]}


def _judge(kind: str, document: dict[str, Any], tmp_path: Path, *args: str, stack: str = "dev") -> tuple[int, Any]:
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(document))
    out = gate(f"--{kind}", str(path), "--stack", stack, "--format", "json", *args)
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)


@pytest.mark.parametrize("program", PROGRAM_FAMILIES)
def test_documents_of_a_program_get_the_programs_findings(program, tmp_path):
    directory = PROGRAMS / program
    run = run_program(directory, "dev")
    out = gate("--stack", "dev", "--program", str(directory), "--format", "json")
    assert out.returncode in (0, 1), out.stderr
    code, expected = out.returncode, _findings(json.loads(out.stdout))
    mock_only = {f for f in expected if (program, f[0], f[1].rsplit("::", 1)[-1]) in ONLY_UNDER_THE_MOCK}

    state_code, by_state = _judge("state", state_document(run, directory), tmp_path, "--program", str(directory))
    jsonschema.validate(by_state, GATE_JSON_SCHEMA)
    assert _findings(by_state) == expected - mock_only
    assert state_code == code
    # Providers and the stack resource are not judged, nor listed.
    assert {r["urn"] for r in by_state["resources"]} == {
        r.urn for r in run.resources if not r.type.startswith("pulumi:providers:")
    }

    preview_code, by_preview = _judge(
        "preview", preview_document(run, directory), tmp_path, "--program", str(directory)
    )
    secret_bound = {f for f in expected if (program, f[0]) in NEEDS_A_SECRET}
    assert _findings(by_preview) == expected - mock_only - secret_bound
    assert preview_code == (1 if any(f[2] == "mandatory" for f in expected - mock_only - secret_bound) else 0)


def test_the_repository_prod_stack_through_both_documents(tmp_path):
    run = run_program(ROOT, "prod")
    out = gate("--stack", "prod", "--format", "json")
    expected = _findings(json.loads(out.stdout))
    for kind, document in (("state", state_document(run, ROOT)), ("preview", preview_document(run, ROOT))):
        code, doc = _judge(kind, document, tmp_path, stack="prod")
        assert (code, _findings(doc)) == (out.returncode, expected), kind
        # policy.prod.json applies: the project is found from the current directory's Pulumi.yaml.
        assert doc["project"] == "stateless-stack"


def _state(*resources: dict[str, Any], project: str = "shop", stack: str = "dev") -> dict[str, Any]:
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-11-28T18:00:00Z", "magic": "", "version": "v3.200.0"},
            "resources": [
                {"urn": stack_urn(project, stack), "custom": False, "type": "pulumi:pulumi:Stack"},
                *resources,
            ],
        },
    }


def _r(type_: str, name: str, inputs: dict[str, Any], project: str = "shop", **extra: Any) -> dict[str, Any]:
    urn = f"urn:pulumi:dev::{project}::{type_}::{name}"
    return {"urn": urn, "custom": True, "type": type_, "inputs": inputs, "outputs": inputs, **extra}


DB = "aws:rds/instance:Instance"
SAFE_DB = {
    "storageEncrypted": True,
    "backupRetentionPeriod": 7,
    "manageMasterUserPassword": False,
    "multiAz": True,
    "deletionProtection": True,
    "skipFinalSnapshot": False,
}


def test_an_encrypted_secret_is_unknown_and_a_shown_one_is_judged(tmp_path):
    state = _state(
        _r("pulumi:providers:aws", "default_7_0_0", {"region": "us-east-1"}),
        _r(DB, "encrypted", {**SAFE_DB, "password": encrypted("hunter2hunter2")}),
        _r(DB, "shown", {**SAFE_DB, "password": {SIG_KEY: SECRET_SIG, "plaintext": json.dumps("hunter2hunter2")}}),
    )
    code, doc = _judge("state", state, tmp_path)
    assert code == 1
    assert {(v["policy"], v["name"]) for v in doc["violations"]} == {("rds-managed-master-password", "shown")}
    assert [r["name"] for r in doc["resources"]] == ["encrypted", "shown"]


def test_components_in_a_state(tmp_path):
    chart = "kubernetes:helm.sh/v4:Chart"
    chart_urn = f"urn:pulumi:dev::shop::{chart}::cache"
    sts = "kubernetes:apps/v1:StatefulSet"
    state = _state(
        {"urn": chart_urn, "custom": False, "type": chart, "inputs": {"chart": "redis"}},
        _r(
            sts,
            "cache:default/redis-master",
            {
                "spec": {
                    "volumeClaimTemplates": [{"metadata": {"name": "d"}}],
                    "template": {"spec": {"containers": [{"name": "r"}]}},
                }
            },
            parent=chart_urn,
        ),
        {"urn": "urn:pulumi:dev::shop::kubernetes:helm.sh/v4:Chart::empty", "custom": False, "type": chart},
    )
    _, doc = _judge("state", state, tmp_path)
    found = {(v["policy"], v["name"]) for v in doc["violations"]}
    # The constructed chart's children are judged like any resource; an empty one is reported.
    assert ("no-app-statefulsets", "cache:default/redis-master") in found
    assert ("no-unjudged-components", "empty") in found
    assert ("no-unjudged-components", "cache") not in found


def test_deleted_and_read_resources_are_not_judged(tmp_path):
    state = _state(
        _r("aws:ebs/volume:Volume", "old", {"size": 8}, delete=True),
        _r("aws:ebs/volume:Volume", "existing", {"size": 8}, external=True),
    )
    code, doc = _judge("state", state, tmp_path)
    assert code == 0 and doc["violations"] == [] and doc["resources"] == []


VOLUME = "aws:ebs/volume:Volume"
TG = "aws:lb/targetGroup:TargetGroup"


def _step(op: str, type_: str, name: str, inputs: dict[str, Any] | None) -> dict[str, Any]:
    urn = f"urn:pulumi:dev::shop::{type_}::{name}"
    step: dict[str, Any] = {"op": op, "urn": urn, "detailedDiff": None}
    if inputs is not None:
        step["newState"] = {"urn": urn, "custom": True, "type": type_, "inputs": inputs, "outputs": inputs}
    return step


def test_preview_unknowns_secrets_deletes_and_replacements(tmp_path):
    preview = {
        "steps": [
            _step("create", "pulumi:pulumi:Stack", "shop-dev", {}),
            _step("same", "pulumi:providers:aws", "default", {"region": "us-east-1"}),
            # Not known until apply: never a violation.
            _step("create", TG, "web", {"port": 80, "stickiness": {"enabled": UNKNOWN, "type": "lb_cookie"}}),
            _step("create", DB, "db", {**SAFE_DB, "password": "[secret]"}),
            # Deleted, or only read: not judged.
            _step("delete", VOLUME, "old", None),
            _step("read", VOLUME, "existing", {"size": 8}),
            # A replacement is judged once, as its new state.
            _step("create-replacement", TG, "api", {"port": 80, "stickiness": {"enabled": True, "type": "lb_cookie"}}),
            _step("replace", TG, "api", {"port": 80, "stickiness": {"enabled": True, "type": "lb_cookie"}}),
            _step("delete-replaced", TG, "api", None),
        ],
        "changeSummary": {"create": 3, "delete": 1, "replace": 1, "same": 1},
    }
    code, doc = _judge("preview", preview, tmp_path)
    assert code == 1
    # The deleted EBS volume is not judged as a resource, but its deletion is a change that loses data.
    assert [(v["policy"], v["name"]) for v in doc["violations"]] == [
        ("no-sticky-sessions", "api"),
        ("no-data-loss-on-change", "old"),
    ]
    assert [r["name"] for r in doc["resources"]] == ["web", "db", "api"]


def test_documents_from_standard_input_and_as_sarif(tmp_path):
    state = _state(_r(VOLUME, "data", {"size": 8}, sourcePosition="project:///infra/storage.py#12,5"))
    out = gate("--state", "-", "--stack", "dev", "--format", "sarif", stdin=json.dumps(state))
    assert out.returncode == 1, out.stderr
    result = valid_sarif(out.stdout)["runs"][0]["results"][0]
    # The engine's project-relative source position, relative to the repository root here.
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "infra/storage.py"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 12
    out = gate("--preview", "-", "--stack", "dev", stdin=json.dumps({"steps": [_step("create", VOLUME, "v", {})]}))
    assert out.returncode == 1 and "no-ebs-data-volumes" in out.stdout


BROKEN = [
    ("state", "not json", "not JSON"),
    ("state", json.dumps([]), "expected `pulumi stack export` output"),
    ("state", json.dumps({"version": 2, "deployment": {}}), "with version 3 or 4; got version 2"),
    ("state", json.dumps({"steps": []}), "this is `pulumi preview --json` output; judge it with --preview"),
    ("state", json.dumps({"version": 3, "deployment": {"resources": {}}}), "deployment.resources must be a list"),
    ("state", json.dumps(_state({"urn": "x", "type": VOLUME})), "deployment.resources[1]: 'x' is not a Pulumi URN"),
    ("state", json.dumps(_state({"urn": "urn:pulumi:dev::shop::t::n"})), "a resource needs string 'urn' and 'type'"),
    ("state", json.dumps(_state(stack="prod")), "the document is for stack 'prod'"),
    (
        "preview",
        json.dumps({"version": 3, "deployment": {}}),
        "this is `pulumi stack export` output; judge it with --state",
    ),
    ("preview", json.dumps({"resources": []}), "expected `pulumi preview --json` output"),
    (
        "preview",
        json.dumps({"steps": [], "changeSummary": {"same": 12, "update": 1}}),
        "12 unchanged resource(s) are counted but not listed; run `pulumi preview --json --show-sames`",
    ),
    (
        "preview",
        json.dumps({"steps": [], "diagnostics": [{"message": "error: aws:ec2:Vpc failed", "severity": "error"}]}),
        "the preview failed, so its steps are incomplete: error: aws:ec2:Vpc failed",
    ),
    (
        "preview",
        json.dumps({"steps": [{"op": "explode", "urn": "urn:pulumi:dev::p::t::n"}]}),
        "unknown step op 'explode'",
    ),
]


@pytest.mark.parametrize(("kind", "text", "fragment"), BROKEN)
def test_a_document_that_is_not_what_the_cli_writes_is_exit_2(kind, text, fragment, tmp_path):
    path = tmp_path / "doc.json"
    path.write_text(text)
    out = gate(f"--{kind}", str(path), "--stack", "dev")
    assert out.returncode == 2 and out.stdout == ""
    assert fragment in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--state", "x.json"],
        ["--state", "x.json", "--stack", "a", "--stack", "b"],
        ["--state", "x.json", "--preview", "y.json", "--stack", "a"],
        ["--preview", "x.json", "--all-stacks"],
    ],
)
def test_document_arguments_that_cannot_work_are_exit_2(args):
    out = gate(*args)
    assert out.returncode == 2 and "usage:" in out.stderr


def test_without_source_positions_sarif_points_at_the_project_file(tmp_path):
    state = _state(_r(VOLUME, "data", {"size": 8}, project="stateless-stack"), project="stateless-stack")
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    out = gate("--state", str(path), "--stack", "dev", "--format", "sarif")
    assert out.returncode == 1, out.stderr
    (result,) = valid_sarif(out.stdout)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "Pulumi.yaml"
