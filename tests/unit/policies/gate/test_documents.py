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


# ----------------------------------------------------------------------------- in process
# The readers called directly: every message exact, every field of a resource, every value encoding.

import base64  # noqa: E402
import io  # noqa: E402

from policies.gate.documents import (  # noqa: E402
    BYTE_STRING_SIG,
    OUTPUT_VALUE_SIG,
    PREVIEW_SHAPE,
    RESOURCE_REFERENCE_SIG,
    STATE_SHAPE,
    DocumentError,
    Step,
    _source,
    _urn_parts,
    _value,
    parse_preview,
    parse_state,
    parse_steps,
    read_json,
)
from policies.gate.records import Resource  # noqa: E402


def _refusal(parse, doc, stack="dev"):
    with pytest.raises(DocumentError) as err:
        parse(doc, stack, "doc.json")
    return str(err.value)


@pytest.mark.parametrize(("kind", "text", "fragment"), BROKEN[1:])
def test_each_broken_document_is_refused_in_process(kind, text, fragment):
    message = _refusal(parse_state if kind == "state" else parse_preview, json.loads(text))
    assert message.startswith("doc.json: ") and fragment in message


def test_reading_a_document_names_it(tmp_path, monkeypatch):
    path = tmp_path / "doc.json"
    path.write_text('{"a": "é"}', encoding="utf-8")
    assert read_json(str(path)) == (str(path), {"a": "é"})
    monkeypatch.setattr("sys.stdin", io.StringIO('{"b": 1}'))
    assert read_json("-") == ("standard input", {"b": 1})
    monkeypatch.setattr("sys.stdin", io.StringIO("nope"))
    with pytest.raises(DocumentError) as err:
        read_json("-")
    assert str(err.value) == "standard input: not JSON (Expecting value: line 1 column 1 (char 0))"
    with pytest.raises(DocumentError) as err:
        read_json(str(tmp_path / "none.json"))
    assert str(err.value) == f"{tmp_path / 'none.json'}: cannot be read: No such file or directory"
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"a": "é"}'.encode("latin-1"))
    with pytest.raises(DocumentError) as err:
        read_json(str(latin))
    assert str(err.value) == f"{latin}: not UTF-8 text"


def _secret(plaintext):
    return {SIG_KEY: SECRET_SIG, "plaintext": plaintext}


@pytest.mark.parametrize(
    ("value", "preview", "expected"),
    [
        (_secret('{"k": ["v"]}'), False, {"k": ["v"]}),
        (_secret(json.dumps(_secret('"inner"'))), False, "inner"),
        (_secret(json.dumps("[secret]")), True, UNKNOWN),
        (_secret(json.dumps("[secret]")), False, "[secret]"),
        (_secret("{not json"), False, UNKNOWN),
        (_secret(3), False, UNKNOWN),
        ({SIG_KEY: SECRET_SIG, "ciphertext": "AAAA"}, False, UNKNOWN),
        (
            {SIG_KEY: RESOURCE_REFERENCE_SIG, "urn": "urn:pulumi:dev::p::t::n", "id": "i"},
            False,
            "urn:pulumi:dev::p::t::n",
        ),
        ({SIG_KEY: RESOURCE_REFERENCE_SIG}, False, None),
        ({SIG_KEY: OUTPUT_VALUE_SIG, "value": {"x": "[secret]"}}, True, {"x": UNKNOWN}),
        ({SIG_KEY: OUTPUT_VALUE_SIG, "value": None}, False, None),
        ({SIG_KEY: OUTPUT_VALUE_SIG}, False, UNKNOWN),
        ({SIG_KEY: BYTE_STRING_SIG, "value": base64.b64encode(b"caf\xc3\xa9").decode()}, False, "café"),
        ({SIG_KEY: BYTE_STRING_SIG, "value": base64.b64encode(b"\xff").decode()}, False, "\ufffd"),
        ({SIG_KEY: BYTE_STRING_SIG, "value": "a"}, False, UNKNOWN),
        ({SIG_KEY: BYTE_STRING_SIG}, False, ""),
        ({SIG_KEY: "other", "a": "[secret]"}, True, {SIG_KEY: "other", "a": UNKNOWN}),
        ([{"a": ["[secret]", 1]}, "[secret]"], True, [{"a": [UNKNOWN, 1]}, UNKNOWN]),
        ([{"a": ["[secret]", 1]}], False, [{"a": ["[secret]", 1]}]),
        ("[secret]x", True, "[secret]x"),
    ],
)
def test_each_value_encoding(value, preview, expected):
    assert _value(value, preview) == expected


@pytest.mark.parametrize(
    ("urn", "expected"),
    [
        ("urn:pulumi:dev::shop::aws:s3/bucketV2:BucketV2::site", ("dev", "shop", "site")),
        ("urn:pulumi:dev::shop::pulumi:pulumi:Stack$aws:s3/bucketV2:BucketV2::a::b", ("dev", "shop", "b")),
        ("urn:pulumi:dev::shop::t", None),
        ("urn:other:dev::shop::t::n", None),
        ("x urn:pulumi:dev::shop::t::n", None),
    ],
)
def test_the_parts_of_a_urn(urn, expected):
    assert _urn_parts(urn) == expected


@pytest.mark.parametrize(
    ("raw", "root", "expected"),
    [
        ("project:///infra/__main__.py#12,3", Path("/repo"), ("/repo/infra/__main__.py", 12)),
        ("project:///my%20dir/main.py#7", Path("/repo"), ("/repo/my dir/main.py", 7)),
        ("project:///main.py#1", Path("/repo"), ("/repo/main.py", 1)),
        ("project:///main.py#12,3,4", Path("/repo"), ("/repo/main.py", 12)),
        ("project:///Xdir/main.py#2", Path("/repo"), ("/repo/Xdir/main.py", 2)),
        ("project:///main.py#0", Path("/repo"), None),
        ("project:///main.py#x,3", Path("/repo"), None),
        ("project:///main.py", Path("/repo"), None),
        ("project:///main.py#3", None, None),
        ("file:///main.py#3", Path("/repo"), None),
        (12, Path("/repo"), None),
    ],
)
def test_a_source_position(raw, root, expected):
    assert _source(raw, root) == expected


FULL = {
    "urn": "urn:pulumi:dev::shop::aws:s3/bucketV2:BucketV2::site",
    "type": "aws:s3/bucketV2:BucketV2",
    "inputs": {"a": 1},
    "outputs": {"a": 1, "arn": "x"},
    "parent": "urn:pulumi:dev::shop::pulumi:pulumi:Stack::shop-dev",
    "dependencies": ["urn:d1", "urn:d2"],
    "propertyDependencies": {"a": ["urn:d1"], "b": None},
    "provider": "urn:pulumi:dev::shop::pulumi:providers:aws::default::id",
    "protect": True,
    "ignoreChanges": ["tags"],
    "retainOnDelete": True,
    "additionalSecretOutputs": ["arn"],
    "deletedWith": "urn:d2",
    "aliases": ["urn:old"],
    "sourcePosition": "project:///__main__.py#4",
}


def test_every_field_of_a_resource_is_read():
    (r,) = parse_state(_state(FULL), "dev", "doc.json", Path("/repo")).resources
    assert r == Resource(
        urn=FULL["urn"],
        type=FULL["type"],
        name="site",
        inputs={"a": 1},
        parent=FULL["parent"],
        dependencies=("urn:d1", "urn:d2"),
        property_dependencies={"a": ("urn:d1",), "b": ()},
        provider=FULL["provider"],
        custom=True,
        protect=True,
        secret_paths=(),
        options={
            "ignoreChanges": ["tags"],
            "deleteBeforeReplace": False,
            "retainOnDelete": True,
            "additionalSecretOutputs": ["arn"],
            "deletedWith": "urn:d2",
            "aliases": ["urn:old"],
        },
        outputs={"a": 1, "arn": "x"},
        remote=False,
        source=("/repo/__main__.py", 4),
    )


def test_a_bare_resource_gets_empty_defaults():
    (r,) = parse_state(_state({"urn": FULL["urn"], "type": FULL["type"], "inputs": None}), "dev", "d").resources
    assert (r.inputs, r.outputs, r.parent, r.dependencies, r.property_dependencies, r.provider) == (
        {},
        {},
        None,
        (),
        {},
        None,
    )
    assert (r.protect, r.source) == (False, None)
    assert r.options == {
        "ignoreChanges": [],
        "deleteBeforeReplace": False,
        "retainOnDelete": False,
        "additionalSecretOutputs": [],
        "deletedWith": None,
        "aliases": [],
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x", "doc.json: deployment.resources[1]: a resource must be an object with 'urn' and 'type'"),
        ({"urn": FULL["urn"]}, "doc.json: deployment.resources[1]: a resource needs string 'urn' and 'type'"),
        ({"type": FULL["type"]}, "doc.json: deployment.resources[1]: a resource needs string 'urn' and 'type'"),
        (
            {"urn": FULL["urn"], "type": ""},
            "doc.json: deployment.resources[1]: a resource needs string 'urn' and 'type'",
        ),
        ({"urn": 3, "type": "t"}, "doc.json: deployment.resources[1]: a resource needs string 'urn' and 'type'"),
        (
            {"urn": "urn:pulumi:dev::shop::t", "type": "t"},
            "doc.json: deployment.resources[1]: 'urn:pulumi:dev::shop::t' is not a Pulumi URN "
            "(urn:pulumi:<stack>::<project>::<type>::<name>)",
        ),
        ({**FULL, "inputs": []}, "doc.json: deployment.resources[1].inputs: expected an object"),
        ({**FULL, "outputs": "x"}, "doc.json: deployment.resources[1].outputs: expected an object"),
        ({**FULL, "dependencies": {}}, "doc.json: deployment.resources[1].dependencies: expected a list"),
        (
            {**FULL, "propertyDependencies": []},
            "doc.json: deployment.resources[1].propertyDependencies: expected an object",
        ),
    ],
)
def test_each_broken_resource_is_named(raw, message):
    assert _refusal(parse_state, _state(raw)) == message


def test_null_fields_are_empty_not_errors():
    raw = {**FULL, "outputs": None, "dependencies": None, "propertyDependencies": None}
    (r,) = parse_state(_state(raw), "dev", "d").resources
    assert (r.outputs, r.dependencies, r.property_dependencies) == ({}, (), {})


def test_a_state_keeps_what_the_stack_holds_and_sets_providers_apart():
    provider = {"urn": "urn:pulumi:dev::shop::pulumi:providers:aws::default", "type": "pulumi:providers:aws"}
    gone = {**FULL, "urn": FULL["urn"] + "-gone", "delete": True}
    read = {**FULL, "urn": FULL["urn"] + "-read", "external": True}
    doc = parse_state(_state(provider, FULL, gone, read), "dev", "d")
    assert (doc.project, doc.stack) == ("shop", "dev")
    assert [r.name for r in doc.resources] == ["site"]
    assert [r.type for r in doc.providers] == ["pulumi:providers:aws"]
    kept = {**FULL, "delete": False, "external": False}
    assert [r.name for r in parse_state(_state(kept), "dev", "d").resources] == ["site"]


def test_an_empty_state_takes_the_fallback_project():
    empty = {"version": 4, "deployment": {"resources": None}}
    doc = parse_state(empty, "dev", "d", fallback_project="fallback")
    assert (doc.project, doc.resources, doc.providers) == ("fallback", [], [])
    assert parse_state({"version": 3, "deployment": {}}, "dev", "d").project == ""


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], f"doc.json: expected {STATE_SHAPE}"),
        ({"changeSummary": {}}, "doc.json: this is `pulumi preview --json` output; judge it with --preview"),
        ({"deployment": {}}, f"doc.json: expected {STATE_SHAPE} with version 3 or 4; got no 'version'"),
        ({"version": 3}, f"doc.json: expected {STATE_SHAPE} with version 3 or 4; got version 3"),
        ({"version": "3", "deployment": {}}, f"doc.json: expected {STATE_SHAPE} with version 3 or 4; got version '3'"),
        ({"version": 3, "deployment": {"resources": "x"}}, "doc.json: deployment.resources must be a list"),
        (
            _state(stack="prod"),
            "doc.json: the document is for stack 'prod' (urn:pulumi:prod::shop::pulumi:pulumi:Stack::shop-prod), "
            "not 'dev'",
        ),
        (
            _state({**FULL, "urn": "urn:pulumi:dev::b::t::n"}, {**FULL, "urn": "urn:pulumi:dev::a::t::n"}),
            "doc.json: resources of several projects (a, b, shop) in one document",
        ),
    ],
)
def test_each_broken_state_is_named(doc, message):
    assert _refusal(parse_state, doc) == message


def _pstep(op, name, state=True, **extra):
    urn = f"urn:pulumi:dev::shop::{VOLUME}::{name}"
    step = {"op": op, "urn": urn, **extra}
    if state:
        step["newState"] = {"urn": urn, "type": VOLUME, "inputs": {"size": "[secret]"}}
    return step


def test_a_preview_keeps_the_last_new_state_of_each_resource():
    steps = [
        _pstep("create-replacement", "a"),
        _pstep("replace", "a", state=False),
        _pstep("delete-replaced", "a"),
        _pstep("create", "b"),
        _pstep("delete", "b", state=False),
        _pstep("read", "c"),
        _pstep("same", "d"),
        _pstep("update", "e", state=False),
        _pstep("discard", "f"),
        _pstep("import", "g"),
    ]
    doc = parse_preview({"steps": steps, "changeSummary": {"same": 1}}, "dev", "d")
    assert [r.name for r in doc.resources] == ["a", "d", "g"]
    assert doc.resources[0].inputs == {"size": UNKNOWN}


def test_a_delete_after_a_state_of_another_resource_keeps_it():
    steps = [_pstep("create", "a"), _pstep("delete", "b", state=False), _pstep("delete-replaced", "a", state=False)]
    assert [r.name for r in parse_preview({"steps": steps}, "dev", "d").resources] == ["a"]


@pytest.mark.parametrize(
    "doc",
    [
        {"steps": []},
        {"steps": None, "config": {}},
        {"changeSummary": {}},
        {"duration": 1},
        {"diagnostics": []},
        {"steps": [], "changeSummary": "x"},
        {"steps": [], "changeSummary": {"same": "12"}},
        {"steps": [_pstep("same", "a")], "changeSummary": {"same": 1}},
        {"steps": [], "diagnostics": ["x", {"severity": "warning", "message": "w"}, {"message": "m"}]},
    ],
)
def test_previews_with_nothing_to_judge_are_read(doc):
    read = parse_preview(doc, "dev", "d", fallback_project="fallback")
    assert [r.name for r in read.resources] == (["a"] if doc.get("steps") else [])
    assert read.project == ("shop" if doc.get("steps") else "fallback")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("x", f"doc.json: expected {PREVIEW_SHAPE}"),
        ({"deployment": {}}, "doc.json: this is `pulumi stack export` output; judge it with --state"),
        ({}, f"doc.json: expected {PREVIEW_SHAPE}"),
        ({"steps": {}}, "doc.json: 'steps' must be a list"),
        (
            {"steps": [], "diagnostics": [{"severity": "error", "message": "a\n  b " + "x" * 400}]},
            "doc.json: the preview failed, so its steps are incomplete: a b " + "x" * 296,
        ),
        (
            {"steps": [], "diagnostics": [{"severity": "error"}]},
            "doc.json: the preview failed, so its steps are incomplete: ",
        ),
        (
            {"steps": [_pstep("same", "a")], "changeSummary": {"same": 3}},
            "doc.json: 2 unchanged resource(s) are counted but not listed; run "
            "`pulumi preview --json --show-sames` so that the whole stack is judged",
        ),
        ({"steps": [_pstep("create", "a"), "x"]}, "doc.json: steps[1]: a step needs string 'op' and 'urn'"),
        ({"steps": [{"op": 1, "urn": "u"}]}, "doc.json: steps[0]: a step needs string 'op' and 'urn'"),
        ({"steps": [{"op": "create", "urn": 1}]}, "doc.json: steps[0]: a step needs string 'op' and 'urn'"),
        ({"steps": [{"op": "create"}]}, "doc.json: steps[0]: a step needs string 'op' and 'urn'"),
        ({"steps": [{"op": "explode", "urn": "u"}]}, "doc.json: steps[0]: unknown step op 'explode'"),
        (
            {"steps": [{"op": "create", "urn": "u", "newState": "x"}]},
            "doc.json: steps[0].newState: a resource must be an object with 'urn' and 'type'",
        ),
    ],
)
def test_each_broken_preview_is_named(doc, message):
    assert _refusal(parse_preview, doc) == message


def test_steps_carry_both_states_and_the_reasons():
    urn = f"urn:pulumi:dev::shop::{VOLUME}::a"
    old = {"urn": urn, "type": VOLUME, "inputs": {"size": 8}}
    new = {"urn": urn, "type": VOLUME, "inputs": {"size": "[secret]"}, "sourcePosition": "project:///main.py#3"}
    doc = {
        "steps": [
            {
                "op": "replace",
                "urn": urn,
                "oldState": old,
                "newState": new,
                "replaceReasons": ["size"],
                "diffReasons": ["size", "tags"],
                "detailedDiff": {"size": {"kind": "update-replace", "inputDiff": True}},
            },
            {
                "op": "delete",
                "urn": "urn:pulumi:dev::shop::pulumi:pulumi:Stack$aws:s3/bucketV2:BucketV2::b",
                "oldState": None,
            },
            {"op": "delete", "urn": urn.replace("::a", "::c"), "oldState": {**old, "urn": urn.replace("::a", "::c")}},
        ]
    }
    first, second, third = parse_steps(doc, "dev", "d", Path("/repo"))
    assert first == Step(
        "replace",
        urn,
        VOLUME,
        "a",
        parse_state(_state(old), "dev", "d").resources[0],
        first.new,
        ("size",),
        ("size", "tags"),
        {"size": {"kind": "update-replace", "inputDiff": True}},
    )
    assert first.new is not None and first.new.inputs == {"size": UNKNOWN}
    assert first.new.source == ("/repo/main.py", 3)
    assert first.old is not None and first.old.inputs == {"size": 8}
    assert (second.type, second.name, second.old, second.new) == ("aws:s3/bucketV2:BucketV2", "b", None, None)
    assert (second.replace_reasons, second.diff_reasons, second.detailed_diff) == ((), (), {})
    assert (third.type, third.name, third.old is not None, third.new) == (VOLUME, "c", True, None)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            {"op": "delete", "urn": "urn:pulumi:dev::shop::t"},
            "doc.json: steps[0]: 'urn:pulumi:dev::shop::t' is not a Pulumi URN",
        ),
        ({"replaceReasons": "size"}, "doc.json: steps[0].replaceReasons: expected a list of property names"),
        ({"diffReasons": [1]}, "doc.json: steps[0].diffReasons: expected a list of property names"),
        ({"detailedDiff": "x"}, "doc.json: steps[0].detailedDiff: expected an object of {'kind', 'inputDiff'} objects"),
        (
            {"detailedDiff": {"a": 1}},
            "doc.json: steps[0].detailedDiff: expected an object of {'kind', 'inputDiff'} objects",
        ),
        ({"oldState": "x"}, "doc.json: steps[0].oldState: a resource must be an object with 'urn' and 'type'"),
    ],
)
def test_each_broken_step_is_named(step, message):
    base = {"op": "delete", "urn": f"urn:pulumi:dev::shop::{VOLUME}::a"}
    assert _refusal(parse_steps, {"steps": [{**base, **step}]}) == message


def test_steps_are_refused_with_the_previews_own_checks():
    assert _refusal(parse_steps, {"steps": {}}) == "doc.json: 'steps' must be a list"


def test_a_state_keeps_the_preview_secret_marker_as_a_value():
    raw = {**FULL, "inputs": {"a": "[secret]"}, "outputs": {"a": "[secret]"}}
    (r,) = parse_state(_state(raw), "dev", "d").resources
    assert (r.inputs, r.outputs) == ({"a": "[secret]"}, {"a": "[secret]"})


def test_a_preview_state_reads_outputs_and_source_as_the_preview_writes_them():
    urn = f"urn:pulumi:dev::shop::{VOLUME}::a"
    new = {"urn": urn, "type": VOLUME, "outputs": {"x": "[secret]"}, "sourcePosition": "project:///m.py#4"}
    doc = parse_preview({"steps": [{"op": "create", "urn": urn, "newState": new}]}, "dev", "d", Path("/repo"))
    (r,) = doc.resources
    assert (r.outputs, r.source) == ({"x": UNKNOWN}, ("/repo/m.py", 4))
    assert parse_preview({"steps": []}, "dev", "d").project == ""


def test_two_projects_in_one_document_are_refused():
    doc = _state({**FULL, "urn": "urn:pulumi:dev::other::t::n"})
    assert _refusal(parse_state, doc) == "doc.json: resources of several projects (other, shop) in one document"


def test_a_preview_of_another_stack_is_named():
    urn = "urn:pulumi:prod::shop::t::n"
    doc = {"steps": [{"op": "create", "urn": urn, "newState": {"urn": urn, "type": "t"}}]}
    assert _refusal(parse_preview, doc) == f"doc.json: the document is for stack 'prod' ({urn}), not 'dev'"
