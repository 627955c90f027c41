"""The change guard (policies/gate/changes.py): preview steps, plan against a stack export, plan against
a git revision; findings in text, JSON and SARIF."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from policies.gate import run_document, run_gate
from policies.gate.changes import against_state, compare, from_steps
from policies.gate.documents import parse_steps
from policies.rules.data_loss import STATEFUL

from .helpers import ROOT, SARIF_SCHEMA_FILE, gate, valid_sarif

FIXTURES = ROOT / "tests" / "fixtures" / "changes"
BASE, HEAD = FIXTURES / "base", FIXTURES / "head"
POLICY = "no-data-loss-on-change"
APP_DB = (
    "aws:rds/instance:Instance app-db would be replaced: identifier 'app-db-1a2b' -> 'app-db-3c4d' forces a new "
    "database; the old one and its data are deleted after the new one is created"
)
# (operation, resource name) for every case of the fixture pair; the alias cases, the tag change and the
# stateless log group have none.
EXPECTED = {
    ("replace", "app-db"),
    ("replace", "receipts"),
    ("replace", "orders"),
    ("replace", "events"),
    ("replace", "sessions"),
    ("replace", "shared"),
    ("delete-create", "uploads"),
    ("delete", "signing"),
    ("retain", "kept"),
}


@pytest.fixture(scope="module")
def base() -> Any:
    return run_gate("dev", BASE)


@pytest.fixture(scope="module")
def head() -> Any:
    return run_gate("dev", HEAD)


def test_program_pairs_find_exactly_the_destructive_changes(base, head):
    changes = compare(base.resources, head.resources, head.project, head.stack)
    assert {(f.op, f.name) for f in changes.findings} == EXPECTED
    by_name = {f.name: f for f in changes.findings}
    assert by_name["app-db"].message == APP_DB
    assert "replicationGroupId 'sessions-0001' -> 'sessions-0002'" in by_name["sessions"].message
    assert "deleted before the new one exists" in by_name["sessions"].message
    assert "fifoQueue false -> true" in by_name["events"].message
    assert "encrypted false -> true" in by_name["shared"].message
    assert "name 'orders-0001' -> 'orders-0002'" in by_name["orders"].message
    assert "bucket 'receipts-0001' -> 'receipts-0002'" in by_name["receipts"].message
    assert "no alias names the old one" in by_name["uploads"].message
    assert "aws:s3/bucket:Bucket::user-uploads" in by_name["uploads"].message
    assert by_name["kept"].advisory and "left behind, no longer managed" in by_name["kept"].message
    assert by_name["signing"].message.startswith("aws:kms/key:Key signing would be deleted")


def test_no_change_finds_nothing(base):
    assert compare(base.resources, base.resources, base.project, base.stack).findings == []


def test_a_rename_with_an_alias_and_a_child_of_an_aliased_parent_are_kept(base, head):
    changes = compare(base.resources, head.resources, head.project, head.stack)
    names = {f.name for f in changes.findings}
    assert not names & {"exports", "data-exports", "archive-objects", "cold-archive-objects", "work", "old-logs"}


def test_without_the_alias_the_renamed_bucket_and_the_components_child_are_found(base, head):
    unaliased = [
        r if not r.options.get("aliases") else type(r)(**{**r.__dict__, "options": {**r.options, "aliases": []}})
        for r in head.resources
    ]
    found = {f.name for f in compare(base.resources, unaliased, head.project, head.stack).findings}
    assert {"exports", "archive-objects"} <= found


def test_a_stack_renamed_loses_every_stateful_resource(base):
    renamed = run_gate("qa", BASE)
    changes = compare(base.resources, renamed.resources, renamed.project, renamed.stack)
    stateful = {r.name for r in base.resources if r.type in STATEFUL}
    assert {f.name for f in changes.findings} == stateful
    assert {f.op for f in changes.findings} == {"delete-create", "retain"}


# ----------------------------------------------------------------------------- --against-state


def export_of(result: Any) -> dict[str, Any]:
    """`pulumi stack export` (apitype.UntypedDeployment around a DeploymentV3: sdk/go/common/apitype/
    core.go:156-176, 382-392) of the resources a gate run planned, as the engine would have recorded
    them after `pulumi up`: URNs as the engine writes them (a child of the stack has no parent type),
    ResourceV3 fields (core.go:489-568) including protect, retainOnDelete and aliases."""
    stack_urn = f"urn:pulumi:{result.stack}::{result.project}::pulumi:pulumi:Stack::{result.project}-{result.stack}"
    resources: list[dict[str, Any]] = [{"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack"}]
    for r in result.resources:
        state: dict[str, Any] = {
            "urn": r.urn,
            "custom": r.custom,
            "type": r.type,
            "inputs": dict(r.inputs),
            "outputs": dict(r.outputs or r.inputs),
            "parent": r.parent or stack_urn,
        }
        if r.custom:
            state["id"] = str((r.outputs or {}).get("id") or f"{r.name}-id")
        if r.protect:
            state["protect"] = True
        if r.options.get("retainOnDelete"):
            state["retainOnDelete"] = True
        resources.append(state)
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-12-07T18:00:00Z", "magic": "0" * 64, "version": "v3.200.0"},
            "resources": resources,
        },
    }


def test_against_state_judges_the_plan_against_an_export(base, head, tmp_path):
    export = tmp_path / "dev.json"
    export.write_text(json.dumps(export_of(base)))
    judged, changes = against_state(head, str(export))
    assert {(f.op, f.name) for f in changes.findings} == EXPECTED
    mine = [v for v in judged.violations if v.policy == POLICY]
    assert {v.name: v.enforcement for v in mine}["app-db"] == "mandatory"
    assert {v.name: v.enforcement for v in mine}["kept"] == "advisory"
    assert judged.exit_code == 1


def test_against_state_of_the_same_plan_passes(base, tmp_path):
    export = tmp_path / "dev.json"
    export.write_text(json.dumps(export_of(base)))
    judged, changes = against_state(base, str(export))
    assert changes.findings == []
    assert not [v for v in judged.violations if v.policy == POLICY]


def test_against_state_on_the_command_line_in_every_format(base, tmp_path):
    export = tmp_path / "dev.json"
    export.write_text(json.dumps(export_of(base)))
    args = ("--stack", "dev", "--program", str(HEAD), "--against-state", str(export))
    text = gate(*args)
    assert text.returncode == 1, text.stderr
    assert APP_DB in text.stdout.splitlines() or any(APP_DB in line for line in text.stdout.splitlines())
    report = gate(*args, "--format", "json")
    doc = json.loads(report.stdout)
    violations = doc["violations"] if "violations" in doc else doc["stacks"][0]["violations"]
    assert APP_DB in {v["message"] for v in violations if v["policy"] == POLICY}
    out = gate(*args, "--format", "sarif").stdout
    # Validated against the official schema where the checkout has it beside it (../shared/schemas).
    sarif = valid_sarif(out) if SARIF_SCHEMA_FILE.is_file() else json.loads(out)
    # The message names its resource already: SARIF and the annotations do not prefix it again.
    assert APP_DB in [r["message"]["text"] for r in sarif["runs"][0]["results"]]
    github = gate(*args, "--format", "github").stdout
    assert f"::{APP_DB}%0Afix: " in github
    assert f"app-db: {APP_DB}" not in github


def test_an_intended_replacement_is_waived_like_any_finding(head, base, tmp_path):
    export = tmp_path / "dev.json"
    export.write_text(json.dumps(export_of(base)))
    waiver = {"resource": "app-db", "reason": "new database, data migrated by the runbook"}
    policy = tmp_path / "policy.dev.json"
    policy.write_text(json.dumps({POLICY: {"waivers": [waiver]}}))
    waived = run_gate("dev", HEAD, policy_config=policy)
    # No change is judged without --against-*: the waiver is neither matched nor stale.
    assert waived.unmatched_waivers == []
    judged, _ = against_state(waived, str(export))
    [app_db] = [v for v in judged.violations if v.policy == POLICY and v.name == "app-db"]
    assert app_db.waived is not None and app_db.waived.reason == waiver["reason"]
    assert app_db.message == APP_DB and app_db.remediation
    others = [v for v in judged.violations if v.policy == POLICY and v.enforcement == "mandatory" and v.counts]
    assert others and all(v.name != "app-db" for v in others)
    stale = {"resource": "no-such-db", "reason": "typo"}
    policy.write_text(json.dumps({POLICY: {"waivers": [stale]}}))
    judged, _ = against_state(run_gate("dev", HEAD, policy_config=policy), str(export))
    assert [(u.policy, u.waiver.resource) for u in judged.unmatched_waivers] == [(POLICY, "no-such-db")]


def test_a_bad_export_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": []}')
    done = gate("--stack", "dev", "--program", str(HEAD), "--against-state", str(bad))
    assert done.returncode == 2
    assert "this is `pulumi preview --json` output" in done.stderr
    assert "Traceback" not in done.stderr


def test_against_flags_do_not_combine_with_documents(tmp_path):
    done = gate("--stack", "dev", "--preview", "-", "--against-rev", "HEAD", stdin="{}")
    assert done.returncode == 2
    assert "--against-state/--against-rev compare a program's plan" in done.stderr


# ----------------------------------------------------------------------------- --against-rev


def _git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A repository whose first commit is the base program and whose work tree holds the head."""
    root = tmp_path_factory.mktemp("repo")
    program = root / "stack"
    shutil.copytree(BASE, program, ignore=shutil.ignore_patterns("__pycache__"))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    shutil.copy(HEAD / "__main__.py", program / "__main__.py")
    return root


def test_against_rev_compares_with_the_plan_at_the_revision(repo):
    done = gate("--stack", "dev", "--program", "stack", "--against-rev", "HEAD", "--format", "json", cwd=repo)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    violations = doc["violations"] if "violations" in doc else doc["stacks"][0]["violations"]
    mine = {(v["name"], v["message"]) for v in violations if v["policy"] == POLICY}
    assert {name for name, _ in mine} == {name for _, name in EXPECTED}
    assert ("app-db", APP_DB) in mine
    # The temporary worktree is gone again.
    listed = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout
    assert len(listed.strip().splitlines()) == 1


def _policy_findings(done: subprocess.CompletedProcess[str]) -> set[str]:
    doc = json.loads(done.stdout)
    violations = doc["violations"] if "violations" in doc else doc["stacks"][0]["violations"]
    return {v["name"] for v in violations if v["policy"] == POLICY}


def test_against_rev_of_the_same_program_finds_nothing(repo):
    _git(repo, "stash", "-q")
    try:
        same = gate("--stack", "dev", "--program", "stack", "--against-rev", "HEAD", "--format", "json", cwd=repo)
    finally:
        _git(repo, "stash", "pop", "-q")
    assert same.returncode in (0, 1), same.stderr
    assert _policy_findings(same) == set()


def test_an_unknown_revision_is_one_clear_error(repo):
    done = gate("--stack", "dev", "--program", "stack", "--against-rev", "no-such-rev", cwd=repo)
    assert done.returncode == 2
    assert "revision 'no-such-rev'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_stack_that_did_not_exist_at_the_revision_has_nothing_to_lose(repo):
    program = repo / "stack"
    (program / "Pulumi.dev.yaml").write_text("config: {}\n")
    (program / "Pulumi.qa.yaml").write_text("config: {}\n")
    _git(repo, "add", "stack/Pulumi.dev.yaml")
    _git(repo, "commit", "-q", "-m", "dev stack")
    try:
        # At HEAD the project has stack files, but none for qa: nothing was deployed from there.
        done = gate("--stack", "qa", "--program", "stack", "--against-rev", "HEAD", "--format", "json", cwd=repo)
        assert done.returncode in (0, 1), done.stderr
        assert _policy_findings(done) == set()
        dev = gate("--stack", "dev", "--program", "stack", "--against-rev", "HEAD", "--format", "json", cwd=repo)
        assert "app-db" in _policy_findings(dev)
    finally:
        (program / "Pulumi.qa.yaml").unlink()
        _git(repo, "reset", "-q", "--hard", "HEAD~1")
        shutil.copy(HEAD / "__main__.py", program / "__main__.py")


def test_against_rev_reads_a_project_named_pulumi_yml_at_the_revision(tmp_path):
    program = tmp_path / "stack"
    shutil.copytree(BASE, program, ignore=shutil.ignore_patterns("__pycache__"))
    (program / "Pulumi.yaml").rename(program / "Pulumi.yml")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "base")
    shutil.copy(HEAD / "__main__.py", program / "__main__.py")
    done = gate("--stack", "dev", "--program", "stack", "--against-rev", "HEAD", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "app-db" in _policy_findings(done)


def test_a_program_directory_without_a_project_at_the_revision_is_one_clear_error(tmp_path):
    program = tmp_path / "stack"
    shutil.copytree(BASE, program, ignore=shutil.ignore_patterns("__pycache__"))
    project = (program / "Pulumi.yaml").read_text()
    (program / "Pulumi.yaml").unlink()
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "the program before it was a project")
    (program / "Pulumi.yaml").write_text(project)
    done = gate("--stack", "dev", "--program", "stack", "--against-rev", "HEAD", cwd=tmp_path)
    assert done.returncode == 2
    assert "--against-rev HEAD: no Pulumi.yaml in the program's directory there" in done.stderr
    assert "Traceback" not in done.stderr


def _history(root: Path, base: str, head: str, project: str = "name: scratch\nruntime: python\n") -> Path:
    """A repository whose one commit holds `base` as stack/__main__.py, with `head` in the work tree."""
    program = root / "stack"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(project)
    (program / "__main__.py").write_text(textwrap.dedent(base))
    (root / ".gitignore").write_text("venv\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    (program / "__main__.py").write_text(textwrap.dedent(head))
    return program


_BUCKET_FROM_A_REFERENCE = """
    import pulumi
    import pulumi_aws as aws
    bucket = pulumi.StackReference("acme/names/dev").get_output("bucket")
    aws.s3.Bucket("receipts", bucket=bucket{suffix})
"""


def test_against_rev_gives_the_revision_the_same_stack_references(tmp_path):
    _history(tmp_path, _BUCKET_FROM_A_REFERENCE.format(suffix=""),
             _BUCKET_FROM_A_REFERENCE.format(suffix='.apply(lambda b: b + "-v2")'))
    outputs = tmp_path / "names.json"
    outputs.write_text(json.dumps({"bucket": "receipts-0001"}))
    done = gate("--stack", "dev", "--program", "stack", "--against-rev", "HEAD", "--format", "json",
                "--stack-reference", f"acme/names/dev={outputs}", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    messages = [v["message"] for v in doc["stacks"][0]["violations"] if v["policy"] == POLICY]
    assert len(messages) == 1 and "bucket 'receipts-0001' -> 'receipts-0001-v2'" in messages[0]


def test_against_rev_holds_the_revision_to_the_same_time_limit(tmp_path):
    # The revision's program waits for a flag the test sets only afterwards (at most 30 s).
    released = tmp_path / "released"
    hangs = f"""
        import pathlib, time
        deadline = time.monotonic() + 30
        while not pathlib.Path({str(released)!r}).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    """
    _history(tmp_path, hangs, "import pulumi\n")
    try:
        done = gate("--stack", "dev", "--program", "stack", "--against-rev", "HEAD", "--timeout", "2", cwd=tmp_path)
    finally:
        released.touch()
    assert done.returncode == 2
    assert done.stderr.startswith("policies.gate: error: --against-rev HEAD: ")
    assert "did not finish within 2 s (--timeout)" in done.stderr


def test_against_rev_runs_the_revision_with_the_checkouts_virtualenv(tmp_path):
    # git keeps no virtualenv: the revision's tree has none, and the checkout's is the one to use.
    project = "name: scratch\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n"
    program = _history(tmp_path, "import pulumi_aws as aws\naws.s3.Bucket('receipts', bucket='receipts-0001')\n",
                       "import pulumi_aws as aws\naws.s3.Bucket('receipts', bucket='receipts-0002')\n", project)
    (program / "venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    done = gate("--stack", "dev", "--program", "stack", "--against-rev", "HEAD", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert [v["name"] for v in doc["stacks"][0]["violations"] if v["policy"] == POLICY] == ["receipts"]


# ----------------------------------------------------------------------------- --preview steps


def _state(type_: str, name: str, inputs: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    urn = f"urn:pulumi:dev::changes::{type_}::{name}"
    return {"urn": urn, "custom": True, "type": type_, "inputs": inputs or {}, "outputs": inputs or {}, **extra}


def _stateful_inputs(type_: str) -> dict[str, Any]:
    if type_ == "kubernetes:apps/v1:StatefulSet":
        return {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]}}
    return {}


def _preview(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"steps": list(steps), "changeSummary": {}}


def _step(op: str, state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"op": op, "urn": state["urn"], "detailedDiff": None, **extra}
    if op in ("delete", "delete-replaced", "replace", "create-replacement", "update", "same"):
        step["oldState"] = state
    if op != "delete" and op != "delete-replaced":
        step["newState"] = state
    return step


@pytest.mark.parametrize("op", ["delete", "replace", "create-replacement", "delete-replaced"])
@pytest.mark.parametrize("type_", sorted(STATEFUL))
def test_every_destructive_step_on_every_stateful_type_is_found(op, type_):
    state = _state(type_, "store", _stateful_inputs(type_))
    steps = parse_steps(_preview(_step(op, state)), "dev", "preview.json")
    found = from_steps(steps).findings
    assert [(f.name, f.type) for f in found] == [("store", type_)]
    assert ("would be deleted" if op == "delete" else "would be replaced") in found[0].message


@pytest.mark.parametrize("op", ["same", "update", "read", "create"])
@pytest.mark.parametrize("type_", sorted(STATEFUL))
def test_same_update_read_and_create_steps_are_not_found(op, type_):
    state = _state(type_, "store", _stateful_inputs(type_))
    assert from_steps(parse_steps(_preview(_step(op, state)), "dev", "preview.json")).findings == []


@pytest.mark.parametrize("op", ["delete", "replace", "create-replacement", "delete-replaced"])
def test_destructive_steps_on_stateless_types_are_not_found(op):
    for type_ in (
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:lb/targetGroup:TargetGroup",
        "kubernetes:apps/v1:StatefulSet",
    ):
        state = _state(type_, "thing")
        assert from_steps(parse_steps(_preview(_step(op, state)), "dev", "preview.json")).findings == []


def test_a_replacement_names_its_reasons_and_its_order():
    old = _state("aws:rds/instance:Instance", "app-db", {"identifier": "app-db-1a2b"})
    new = {**old, "inputs": {"identifier": "app-db-3c4d"}}
    reasons = {
        "replaceReasons": ["identifier"],
        "detailedDiff": {"identifier": {"kind": "update-replace", "inputDiff": True}},
    }
    create = {"op": "create-replacement", "urn": old["urn"], "oldState": old, "newState": new, **reasons}
    replace = {"op": "replace", "urn": old["urn"], "oldState": old, "newState": new, **reasons}
    delete = {"op": "delete-replaced", "urn": old["urn"], "oldState": old, "detailedDiff": None}
    after = from_steps(parse_steps(_preview(create, replace, delete), "dev", "p")).findings
    assert [f.message for f in after] == [APP_DB]
    before = from_steps(parse_steps(_preview(delete, replace, create), "dev", "p")).findings
    assert before[0].message.endswith("deleted before the new one exists (deleteBeforeReplace)")


def test_a_retained_delete_is_advisory_and_a_protected_one_says_it_stops():
    kept = _state("aws:dynamodb/table:Table", "kept", retainOnDelete=True)
    held = _state("aws:kms/key:Key", "signing", protect=True)
    found = {
        f.name: f
        for f in from_steps(parse_steps(_preview(_step("delete", kept), _step("delete", held)), "dev", "p")).findings
    }
    assert found["kept"].advisory and "left behind, no longer managed" in found["kept"].message
    assert not found["signing"].advisory and "protected, so the update fails" in found["signing"].message


def test_the_gate_reports_preview_findings_as_violations(tmp_path):
    doc = _preview(_step("delete", _state("aws:s3/bucket:Bucket", "receipts")))
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(doc))
    result = run_document("preview", str(path), "dev", tmp_path)
    mine = [v for v in result.violations if v.policy == POLICY]
    assert [(v.name, v.enforcement) for v in mine] == [("receipts", "mandatory")]
    assert result.exit_code == 1
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({POLICY: "advisory"}))
    advisory = run_document("preview", str(path), "dev", tmp_path, policy_config=config)
    assert [v.enforcement for v in advisory.violations if v.policy == POLICY] == ["advisory"]
    assert advisory.exit_code == 0


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_our_stacks_that_ask_for_it_protect_every_stateful_resource(stack):
    result = run_gate(stack, ROOT)
    assert result.settings["stateful-resources-protected"].properties["required"] is True
    assert [v for v in result.violations if v.policy == "stateful-resources-protected"] == []
    stateful = [r for r in result.resources if r.type in STATEFUL]
    assert stateful and all(r.protect for r in stateful)


# ----------------------------------------------------------------------------- the base's build outputs

_LAYERED = """\
import pulumi
import pulumi_aws as aws

aws.lambda_.LayerVersion("layer", layer_name="deps", code=pulumi.FileArchive("build/layer"))
aws.s3.Bucket("data", bucket="{bucket}")
"""


def test_against_rev_reads_the_base_leniently_and_the_head_strictly(tmp_path):
    """The base commit references build/layer, which git does not keep (.gitignore): the base's plan is
    compared without it (a note), the head still needs it as the engine does."""
    root = tmp_path / "repo"
    program = root / "stack"
    program.mkdir(parents=True)
    (program / "Pulumi.yaml").write_text("name: layered\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text("config: {}\n")
    (root / ".gitignore").write_text("build/\n")
    (program / "__main__.py").write_text(_LAYERED.format(bucket="data-one"))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    (program / "__main__.py").write_text(_LAYERED.format(bucket="data-two"))
    (program / "build" / "layer").mkdir(parents=True)
    (program / "build" / "layer" / "deps.py").write_text("X = 1\n")

    done = gate("--stack", "dev", "--program", "stack", "--against-rev", "HEAD", "--format", "json", cwd=root)
    assert done.returncode == 1, done.stderr
    assert _policy_findings(done) == {"data"}
    lines = [line for line in done.stderr.splitlines() if "build/layer" in line]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith('note: layered/dev: at HEAD: aws:lambda/layerVersion:LayerVersion "layer": ')
    assert "property code: couldn't read archive path" in lines[0]
    assert lines[0].endswith("the base plan is compared without it")
    assert "Traceback" not in done.stderr

    # The head is judged as strictly as the engine: without its build output it is broken.
    shutil.rmtree(program / "build")
    broken = gate("--stack", "dev", "--program", "stack", "--against-rev", "HEAD", cwd=root)
    assert broken.returncode == 2
    assert "couldn't read archive path" in broken.stderr
    assert f"{program / 'build' / 'layer'}" in broken.stderr


def test_a_conditional_replace_forcing_change_is_a_note_beside_the_findings():
    from policies.gate.records import Resource

    rg = "aws:elasticache/replicationGroup:ReplicationGroup"
    urn = f"urn:pulumi:dev::changes::{rg}::sessions"

    def group(**inputs: Any) -> Resource:
        return Resource(urn, rg, "sessions", {"replicationGroupId": "sessions-0001", **inputs}, None, (), {}, None)

    changes = compare([group(transitEncryptionEnabled=False)], [group(transitEncryptionEnabled=True)], "changes", "dev")
    assert changes.findings == []
    assert changes.notes == [
        f"{rg} sessions: transitEncryptionEnabled changes: the provider replaces the resource when its condition "
        "holds (CustomizeDiff customdiff.ForceNewIf); not judged"
    ]


def test_a_renamed_resource_is_paired_only_with_the_one_new_resource_of_its_type_under_its_parent():
    from policies.gate.changes import _successor
    from policies.gate.records import Resource

    def r(name: str, parent: str) -> Resource:
        t = "aws:s3/bucket:Bucket"
        return Resource(f"urn:pulumi:dev::p::{t}::{name}", t, name, {}, parent, (), {}, None)

    before = r("old", "urn:pulumi:dev::p::c:x:C::a")
    same_parent, other_parent = r("new", "urn:pulumi:dev::p::c:x:C::a"), r("other", "urn:pulumi:dev::p::c:x:C::b")
    assert _successor(before, [same_parent, other_parent]) is same_parent
    assert _successor(before, [other_parent]) is None
    assert _successor(before, [same_parent, r("twin", "urn:pulumi:dev::p::c:x:C::a")]) is None


# ----------------------------------------------------------------------------- --against-rev, in this process

from policies.gate.changes import ChangeError, against_rev  # noqa: E402


def test_against_rev_plans_the_revisions_copy_of_the_program_and_removes_it(repo, base, head):
    seen: list[tuple[Path, str]] = []

    def plan_at(program: Path) -> Any:
        seen.append((program, (program / "__main__.py").read_text()))
        missing = dataclasses.replace(base.run, missing_assets=['a "layer": build/layer is gone'])
        return dataclasses.replace(base, program_dir=program, run=missing)

    result = dataclasses.replace(head, program_dir=repo / "stack")
    judged, changes = against_rev(result, "HEAD", plan_at)
    ((program, main),) = seen
    assert program.name == "stack" and program.parent.name == "tree"
    assert program.parent.parent.name.startswith("stateless-guard-rev-")
    # The revision's files, not the work tree's: the base program's main file.
    assert main == (BASE / "__main__.py").read_text() != (repo / "stack" / "__main__.py").read_text()
    assert not program.parent.parent.exists()
    listed = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout
    assert len(listed.strip().splitlines()) == 1
    branches = subprocess.run(["git", "branch", "--format=%(refname:short)"], cwd=repo, capture_output=True, text=True)
    assert branches.stdout.split() == ["main"]
    assert {(f.op, f.name) for f in changes.findings} == EXPECTED
    assert changes.notes[-1] == (
        'at HEAD: a "layer": build/layer is gone (not in the revision\'s files, e.g. a build output git does not '
        "keep); the base plan is compared without it"
    )
    assert {v.name for v in judged.violations if v.policy == POLICY} == {name for _, name in EXPECTED}
    assert judged.notes[-1] == changes.notes[-1]


def test_against_rev_of_a_stack_the_revision_did_not_have_finds_nothing(repo, head):
    result = dataclasses.replace(head, program_dir=repo / "stack")
    judged, changes = against_rev(result, "HEAD", lambda program: None)
    assert changes.findings == [] and changes.notes == []
    assert [v for v in judged.violations if v.policy == POLICY] == []


def test_against_rev_refuses_what_it_cannot_compare_in_one_sentence(repo, head, tmp_path):
    result = dataclasses.replace(head, program_dir=repo / "stack")

    def never(program: Path) -> Any:
        raise AssertionError("not planned")

    with pytest.raises(ChangeError) as err:
        against_rev(result, "no-such-rev", never)
    assert str(err.value) == "revision 'no-such-rev': unknown revision"
    # A tree, not a commit.
    with pytest.raises(ChangeError) as err:
        against_rev(result, "HEAD^{tree}", never)
    assert str(err.value) == (
        "revision 'HEAD^{tree}': error: HEAD^{tree}^{commit}: expected commit type, but the object dereferences "
        "to tree type"
    )

    fresh = repo / "fresh"
    fresh.mkdir()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        with pytest.raises(ChangeError) as err:
            against_rev(dataclasses.replace(head, program_dir=fresh), "HEAD", never)
        assert str(err.value) == f"fresh does not exist at HEAD ({commit[:12]})"
    finally:
        fresh.rmdir()
    listed = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout
    assert len(listed.strip().splitlines()) == 1

    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(ChangeError) as err:
        against_rev(dataclasses.replace(head, program_dir=outside), "HEAD", never)
    assert str(err.value).startswith("--against-rev needs a git checkout: fatal: not a git repository")


def test_git_that_cannot_run_is_named(monkeypatch, tmp_path):
    from policies.gate import changes

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ChangeError) as err:
        changes._git(tmp_path, "status", what="git status")
    assert str(err.value) == "git status: git could not run: [Errno 2] No such file or directory: 'git'"


def test_git_is_given_two_minutes_and_a_hang_is_named(monkeypatch, tmp_path):
    from policies.gate import changes

    calls: list[dict[str, Any]] = []

    def hangs(args: list[str], **kwargs: Any) -> Any:
        calls.append({"args": args, **kwargs})
        raise subprocess.TimeoutExpired(args, kwargs["timeout"])

    monkeypatch.setattr(changes.subprocess, "run", hangs)
    with pytest.raises(ChangeError) as err:
        changes._git(tmp_path, "fetch", what="git fetch")
    assert (
        str(err.value)
        == f"git fetch: git could not run: Command '['git', '-C', '{tmp_path}', 'fetch']' timed out after 120 seconds"
    )
    assert calls == [
        {
            "args": ["git", "-C", str(tmp_path), "fetch"],
            "capture_output": True,
            "text": True,
            "check": False,
            "timeout": 120,
        }
    ]


def test_git_output_is_stripped_and_a_failure_says_what_git_said(tmp_path):
    from policies.gate import changes

    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "first")
    assert changes._git(tmp_path, "rev-parse", "--abbrev-ref", "HEAD", what="x") == "main"
    assert changes._git_root(tmp_path / ".git" / "..") == tmp_path.resolve()
    with pytest.raises(ChangeError) as err:
        changes._git(tmp_path, "rev-parse", "--verify", "nothing", what="the base")
    assert str(err.value) == "the base: fatal: Needed a single revision"


# ----------------------------------------------------------------------------- preview steps, exactly

from policies.gate.changes import Finding  # noqa: E402
from policies.gate.documents import Step  # noqa: E402
from policies.gate.records import Resource as _Resource  # noqa: E402

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_URN = f"urn:pulumi:dev::changes::{BUCKET}::b"
KEPT = "the bucket and its objects"


def _bucket(inputs: dict[str, Any] | None = None, **options: Any) -> _Resource:
    protect = bool(options.pop("protect", False))
    return _Resource(BUCKET_URN, BUCKET, "b", inputs or {}, None, (), {}, None, protect=protect, options=options)


def _s(op: str, old: _Resource | None, new: _Resource | None, **extra: Any) -> Step:
    return Step(op, BUCKET_URN, BUCKET, "b", old, new, **extra)


def test_each_kind_of_preview_finding_exactly():
    replaced = from_steps([_s("replace", _bucket(protect=True), _bucket(), replace_reasons=("bucket",))])
    deleted = from_steps([_s("delete", _bucket(protect=True), None)])
    retained = from_steps([_s("delete", _bucket(retainOnDelete=True), None)])
    assert replaced.findings == [
        Finding(
            "replace",
            BUCKET_URN,
            BUCKET,
            "b",
            f"{BUCKET} b would be replaced: bucket changes forces a new bucket; the old one and its objects are "
            "deleted after the new one is created; it is protected, so the update fails at that step",
        )
    ]
    assert deleted.findings == [
        Finding(
            "delete",
            BUCKET_URN,
            BUCKET,
            "b",
            f"{BUCKET} b would be deleted: the preview deletes it; {KEPT} are deleted; it is protected, so the "
            "update fails at that step",
        )
    ]
    assert retained.findings == [
        Finding(
            "retain",
            BUCKET_URN,
            BUCKET,
            "b",
            f"{BUCKET} b would be left behind, no longer managed (the preview deletes it; retainOnDelete keeps "
            f"{KEPT} in the cloud, outside the stack)",
            advisory=True,
        )
    ]
    assert replaced.notes == deleted.notes == retained.notes == []


def test_a_step_without_states_is_judged_by_the_type_of_its_urn():
    (finding,) = from_steps([_s("delete", None, None)]).findings
    assert (finding.op, finding.type, finding.name) == ("delete", BUCKET, "b")
    assert finding.message.endswith(f"{KEPT} are deleted")
    # A replacement with only the new state: its reasons are named, without values.
    (finding,) = from_steps(
        [_s("create-replacement", None, _bucket({"bucket": "x"}), replace_reasons=("bucket",))]
    ).findings
    assert finding.message.startswith(f"{BUCKET} b would be replaced: bucket changes forces a new bucket; ")


def test_a_stateless_resource_does_not_stop_the_steps_after_it():
    log = "aws:cloudwatch/logGroup:LogGroup"
    log_urn = f"urn:pulumi:dev::changes::{log}::logs"
    stateless = Step("delete", log_urn, log, "logs", None, None)
    found = from_steps([stateless, _s("delete", _bucket(), None)]).findings
    assert [(f.op, f.name) for f in found] == [("delete", "b")]


def test_the_replacement_order_decides_delete_before_replace():
    old, new = _bucket(), _bucket()
    create, replace, delete = (_s(op, old, new) for op in ("create-replacement", "replace", "delete-replaced"))
    after = "are deleted after the new one is created"
    before = "are deleted before the new one exists (deleteBeforeReplace)"
    for steps, expected in (
        ([create, replace, delete], after),
        ([delete, replace, create], before),
        ([replace, delete], before),
        ([replace, create], after),
        ([replace], after),
    ):
        (finding,) = from_steps(steps).findings
        assert finding.message.endswith(expected), [s.op for s in steps]


def _reasons(*steps: Step) -> str:
    (finding,) = from_steps(list(steps)).findings
    head = f"{BUCKET} b would be replaced: "
    assert finding.message.startswith(head)
    return finding.message[len(head) :].split(" force")[0]


def test_replace_reasons_come_first_and_each_once():
    old, new = _bucket({"bucket": "a", "acl": "x"}), _bucket({"bucket": "b", "acl": "y"})
    steps = (
        _s(
            "create-replacement",
            old,
            new,
            replace_reasons=("bucket",),
            detailed_diff={"acl": {"kind": "update-replace"}},
        ),
        _s("replace", old, new, replace_reasons=("bucket", "acl")),
    )
    assert _reasons(*steps) == "bucket 'a' -> 'b' and acl 'x' -> 'y'"


def test_without_replace_reasons_the_replacing_entries_of_the_detailed_diff_are_the_reasons():
    old, new = _bucket({"bucket": "a", "tags": {"t": "1"}}), _bucket({"bucket": "b", "tags": {"t": "2"}})
    diff = {"tags": {"kind": "update"}, "bucket": {"kind": "update-replace"}, "policy": {"inputDiff": True}}
    steps = (
        _s("create-replacement", old, new, detailed_diff=diff),
        _s("replace", old, new, detailed_diff={"bucket": {"kind": "update-replace"}, "acl": {"kind": "add-replace"}}),
    )
    assert _reasons(*steps) == "bucket 'a' -> 'b' and acl changes"
    assert (
        _reasons(_s("replace", old, new, detailed_diff={"tags": {"kind": "update"}}))
        == "the provider replaces the bucket; the old one and its objects are deleted after the new one is created"
    )


def test_reasons_show_values_only_when_the_states_know_them():
    from policies.gate.mockengine.records import UNKNOWN

    old = _bucket({"bucket": "a", "region": "r1"})
    new = _bucket({"bucket": UNKNOWN, "region": "r1", "acl": "private"})
    reasons = ("bucket", "acl", "gone", "region")
    assert _reasons(_s("replace", old, new, replace_reasons=reasons)) == (
        "bucket changes and acl (unset) -> 'private' and gone changes and region 'r1' -> 'r1'"
    )
    assert _reasons(_s("replace", old, None, replace_reasons=("bucket",))) == "bucket changes"


# ----------------------------------------------------------------------------- URNs, judging

from pulumi_policy import EnforcementLevel  # noqa: E402

from policies.gate.changes import ChangeSet, judged, urn_parts, violations  # noqa: E402
from policies.gate.config import PolicySettings  # noqa: E402
from policies.gate.evaluate import Violation  # noqa: E402
from policies.rules import RULES_BY_NAME  # noqa: E402
from policies.rules.waivers import Waiver, WaiverError  # noqa: E402


def test_urn_parts_as_the_engine_reads_them():
    assert urn_parts("urn:pulumi:dev::p::aws:s3/bucket:Bucket::b") == ("dev", "p", "aws:s3/bucket:Bucket", "b")
    # The name is the rest, "::" and all.
    assert urn_parts("urn:pulumi:dev::p::c:x:C$aws:s3/bucket:Bucket::a::b") == (
        "dev",
        "p",
        "c:x:C$aws:s3/bucket:Bucket",
        "a::b",
    )
    assert urn_parts("dev::p::t::n") == ("dev", "p", "t", "n")
    with pytest.raises(ChangeError) as err:
        urn_parts("urn:pulumi:dev::p::t")
    assert str(err.value) == "'urn:pulumi:dev::p::t' is not a Pulumi URN"


def _findings() -> ChangeSet:
    return ChangeSet(
        [
            Finding("replace", BUCKET_URN, BUCKET, "b", "b is replaced"),
            Finding(
                "retain", "urn:pulumi:dev::changes::aws:s3/bucket:Bucket::k", BUCKET, "k", "k stays", advisory=True
            ),
        ],
        ["a note"],
    )


def test_change_findings_are_violations_at_the_rules_level():
    remediation = RULES_BY_NAME[POLICY].remediation
    assert remediation
    expected = [
        Violation(POLICY, "mandatory", BUCKET_URN, BUCKET, "b", "b is replaced", remediation),
        Violation(
            POLICY, "advisory", "urn:pulumi:dev::changes::aws:s3/bucket:Bucket::k", BUCKET, "k", "k stays", remediation
        ),
    ]
    # Not configured: mandatory, as the rule ships.
    assert violations(_findings(), {}) == expected
    for level, first in (
        (EnforcementLevel.REMEDIATE, "mandatory"),
        (EnforcementLevel.MANDATORY, "mandatory"),
        (EnforcementLevel.ADVISORY, "advisory"),
    ):
        got = violations(_findings(), {POLICY: PolicySettings(level, {})})
        assert [v.enforcement for v in got] == [first, "advisory"]
        assert [dataclasses.replace(v, enforcement="x") for v in got] == [
            dataclasses.replace(v, enforcement="x") for v in expected
        ]
    assert violations(_findings(), {POLICY: PolicySettings(EnforcementLevel.DISABLED, {})}) == []


def test_change_findings_are_decided_against_the_rules_waivers():
    waivers = [{"resource": "b", "reason": "migrated"}, {"resource": "k", "reason": "old", "expires": "2000-01-02"}]
    got = violations(_findings(), {POLICY: PolicySettings(EnforcementLevel.MANDATORY, {"waivers": waivers})})
    assert [(v.name, v.waived, v.message) for v in got] == [
        ("b", Waiver("b", "migrated"), "b is replaced"),
        ("k", None, "k stays (waiver expired on 2000-01-02: old)"),
    ]
    with pytest.raises(WaiverError) as err:
        violations(_findings(), {POLICY: PolicySettings(EnforcementLevel.MANDATORY, {"waivers": [{"resource": "b"}]})})
    assert str(err.value).startswith(f"policy config: {POLICY}: waivers[0]: ")


def test_a_judged_result_adds_the_findings_the_notes_and_the_waivers_they_leave_unmatched(head):
    settings = {
        **head.settings,
        POLICY: PolicySettings(EnforcementLevel.MANDATORY, {"waivers": [{"resource": "gone", "reason": "r"}]}),
    }
    before = dataclasses.replace(head, settings=settings, notes=["run note"])
    after = judged(before, _findings())
    assert after.violations[: len(head.violations)] == head.violations
    assert [(v.policy, v.name) for v in after.violations[len(head.violations) :]] == [(POLICY, "b"), (POLICY, "k")]
    assert after.notes == ["run note", "a note"]
    assert [(u.policy, u.waiver.resource) for u in after.unmatched_waivers] == [(POLICY, "gone")]


def test_an_export_that_cannot_be_read_is_a_change_error_naming_it(head, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": []}')
    with pytest.raises(ChangeError) as err:
        against_state(head, str(bad))
    assert str(err.value) == f"{bad}: this is `pulumi preview --json` output; judge it with --preview"


from policies.gate.changes import alias_urns, create_urn  # noqa: E402
from policies.gate.records import Resource as _Res  # noqa: E402

_STACK_ROOT = "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"
_COMP = "urn:pulumi:dev::p::c:x:C::comp"


def test_create_urn_qualifies_the_type_by_a_parent_other_than_the_stack():
    assert create_urn("n", "t:m:T", _COMP, "p", "dev") == "urn:pulumi:dev::p::c:x:C$t:m:T::n"
    assert create_urn("n", "t:m:T", _STACK_ROOT, "p", "dev") == "urn:pulumi:dev::p::t:m:T::n"
    assert create_urn("n", "t:m:T", "", "q", "s") == "urn:pulumi:s::q::t:m:T::n"


def test_each_field_of_an_alias_spec_and_each_alias_once():
    literal = "urn:pulumi:dev::p::c:x:C$t:m:T::literal"
    aliases = [
        {"name": "x"},
        {"type": "t:m:U"},
        {"parentUrn": _STACK_ROOT},
        {"noParent": True},  # the same URN as the one before: listed once
        {"project": "q", "stack": "s"},
        literal,
        literal,
        "",
    ]
    child = _Res(
        "urn:pulumi:dev::p::c:x:C$t:m:T::comp-role",
        "t:m:T",
        "comp-role",
        {},
        _COMP,
        (),
        {},
        None,
        options={"aliases": aliases},
    )
    assert alias_urns(child, "p", "dev", {})[-1] == literal  # an empty alias is none
    aliases.pop()
    assert alias_urns(child, "p", "dev", {}) == [
        "urn:pulumi:dev::p::c:x:C$t:m:T::x",
        "urn:pulumi:dev::p::c:x:C$t:m:U::comp-role",
        "urn:pulumi:dev::p::t:m:T::comp-role",
        "urn:pulumi:s::q::c:x:C$t:m:T::comp-role",
        literal,
    ]
    # The parent went by an alias: the child inherits it, renamed after the parent's old name.
    assert alias_urns(child, "p", "dev", {_COMP: "urn:pulumi:dev::p::c:x:C::old"})[5:] == [
        "urn:pulumi:dev::p::c:x:C$t:m:T::old-role",
        "urn:pulumi:dev::p::c:x:C$t:m:U::old-role",
    ]


def test_an_alias_of_a_top_level_resource_and_an_alias_parent_that_was_itself_aliased():
    new_parent = "urn:pulumi:dev::p::c:x:D::new"
    top = _Res(
        "urn:pulumi:dev::p::t:m:T::a",
        "t:m:T",
        "a",
        {},
        None,
        (),
        {},
        None,
        options={"aliases": [{"name": "b"}, {"parentUrn": new_parent}]},
    )
    assert alias_urns(top, "p", "dev", {}) == ["urn:pulumi:dev::p::t:m:T::b", "urn:pulumi:dev::p::c:x:D$t:m:T::a"]
    assert alias_urns(top, "p", "dev", {new_parent: "urn:pulumi:dev::p::c:x:E::older"}) == [
        "urn:pulumi:dev::p::t:m:T::b",
        "urn:pulumi:dev::p::c:x:E$t:m:T::a",
    ]


def test_a_worktree_that_cannot_be_added_is_named_and_leaves_nothing(repo, head, tmp_path, monkeypatch):
    from policies.gate import changes

    scratch = tmp_path / "scratch"
    (scratch / "tree").mkdir(parents=True)
    (scratch / "tree" / "taken").write_text("x")
    monkeypatch.setattr(changes.tempfile, "mkdtemp", lambda prefix: str(scratch))
    with pytest.raises(ChangeError) as err:
        against_rev(dataclasses.replace(head, program_dir=repo / "stack"), "HEAD", lambda program: None)
    assert str(err.value) == f"git worktree add: fatal: '{scratch / 'tree'}' already exists"
    assert not scratch.exists()
    listed = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout
    assert len(listed.strip().splitlines()) == 1


def test_a_renamed_top_level_resource_is_paired_with_the_one_new_top_level_resource_of_its_type():
    from policies.gate.changes import _successor

    t = "aws:s3/bucket:Bucket"

    def r(name: str, parent: str | None) -> _Res:
        return _Res(f"urn:pulumi:dev::p::{t}::{name}", t, name, {}, parent, (), {}, None)

    before, renamed = r("old", None), r("new", None)
    assert _successor(before, [renamed, r("child", _COMP)]) is renamed
    assert _successor(r("old", _COMP), [renamed]) is None
    assert _successor(r("old", _COMP), [renamed, r("child", _COMP)]).name == "child"


# ----------------------------------------------------------------------------- plan against plan, exactly

from policies.gate.mockengine.records import UNKNOWN as _UNKNOWN  # noqa: E402
from policies.rules import data_loss  # noqa: E402

SS = "kubernetes:apps/v1:StatefulSet"
VCT = [{"metadata": {"name": "data"}}]


def _r(type_: str, name: str, inputs: dict[str, Any] | None = None, parent: str | None = None, **kw: Any) -> _Res:
    protect = bool(kw.pop("protect", False))
    qualified = f"{urn_parts(parent)[2]}${type_}" if parent else type_
    return _Res(
        f"urn:pulumi:dev::p::{qualified}::{name}",
        type_,
        name,
        inputs or {},
        parent,
        (),
        {},
        None,
        protect=protect,
        options=kw,
    )


def test_a_pair_is_judged_when_either_side_is_stateful():
    claims = _r(SS, "s", {"spec": {"serviceName": "b", "volumeClaimTemplates": VCT}})
    plain = _r(SS, "s", {"spec": {"serviceName": "a"}})
    grew = compare([plain], [claims], "p", "dev").findings
    shrank = compare([claims], [plain], "p", "dev").findings
    assert [(f.op, f.name) for f in grew] == [("replace", "s")]
    assert [(f.op, f.name) for f in shrank] == [("replace", "s")]
    assert "spec.serviceName 'a' -> 'b'" in grew[0].message and "spec.serviceName 'b' -> 'a'" in shrank[0].message
    assert compare([plain], [_r(SS, "s", {"spec": {"serviceName": "c"}})], "p", "dev").findings == []
    # A StatefulSet with volume claims that is gone is a delete; one without is nothing.
    assert [(f.op, f.name) for f in compare([claims], [], "p", "dev").findings] == [("delete", "s")]
    assert compare([plain], [], "p", "dev").findings == []


def test_each_kind_of_plan_finding_exactly():
    db = "aws:rds/instance:Instance"
    comp = "urn:pulumi:dev::p::c:x:C::comp"
    old = [
        _r(db, "db", {"identifier": "a"}, protect=True),
        _r(BUCKET, "kept", {"bucket": "k"}, retainOnDelete=True),
        _r(BUCKET, "gone", protect=True),
        _r(BUCKET, "moved", protect=True),
        _r(BUCKET, "left", retainOnDelete=True),
    ]
    moved, left = _r(BUCKET, "moved", parent=comp), _r(BUCKET, "left", parent=comp)
    new = [_r(db, "db", {"identifier": "b"}), moved, left]
    changes = compare(old, new, "p", "dev")
    reason = ["identifier 'a' -> 'b'"]
    assert changes.findings == [
        Finding("replace", old[0].urn, db, "db", data_loss.replace_message(db, "db", reason, False, True)),
        Finding(
            "retain",
            old[1].urn,
            BUCKET,
            "kept",
            data_loss.retained_message(BUCKET, "kept", "it is no longer in the program"),
            advisory=True,
        ),
        Finding(
            "delete",
            old[2].urn,
            BUCKET,
            "gone",
            data_loss.delete_message(BUCKET, "gone", "it is no longer in the program", True),
        ),
        Finding(
            "delete-create",
            old[3].urn,
            BUCKET,
            "moved",
            data_loss.moved_message(BUCKET, "moved", old[3].urn, moved.urn, True),
        ),
        Finding(
            "retain",
            old[4].urn,
            BUCKET,
            "left",
            data_loss.retained_message(BUCKET, "left", f"its URN changes to {left.urn} with no alias"),
            advisory=True,
        ),
    ]
    assert "it is protected, so the update fails at that step" in changes.findings[0].message
    assert changes.notes == []


def test_notes_name_what_the_plan_cannot_judge():
    rg = "aws:elasticache/replicationGroup:ReplicationGroup"
    unknown_before = compare([_r(BUCKET, "b", {"bucket": _UNKNOWN})], [_r(BUCKET, "b", {"bucket": "x"})], "p", "dev")
    assert unknown_before.findings == []
    assert unknown_before.notes == [f"{BUCKET} b: bucket is not known before the update; not judged"]
    same = {"replicationGroupId": "g", "transitEncryptionEnabled": True}
    assert compare([_r(rg, "g", same)], [_r(rg, "g", dict(same))], "p", "dev").notes == []


def test_a_resource_is_paired_once():
    # Two new resources aliasing the same old one: the first takes it, the second is new.
    old = _r(BUCKET, "old", {"bucket": "x"})
    first = _r(BUCKET, "first", {"bucket": "x"}, aliases=[{"name": "old"}])
    second = _r(BUCKET, "second", {"bucket": "y"}, aliases=[{"name": "old"}])
    assert compare([old], [first, second], "p", "dev").findings == []
    # The same resource under its own URN is not paired twice either.
    assert compare([old], [_r(BUCKET, "old", {"bucket": "x"}), second], "p", "dev").findings == []


def test_cleaning_up_after_the_revision_neither_fails_nor_prints(head, tmp_path, capfd):
    """The revision's plan may leave the scratch copy gone, or the checkout itself (a CI job's workspace
    removed under it): the comparison still ends with its result, and git's complaints stay out of the
    report's streams."""
    root = tmp_path / "repo"
    (root / "stack").mkdir(parents=True)
    (root / "stack" / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")

    def vanish(program: Path) -> None:
        shutil.rmtree(program.parent.parent)
        shutil.rmtree(root / ".git")

    judged, changes = against_rev(dataclasses.replace(head, program_dir=root / "stack"), "HEAD", vanish)
    assert changes.findings == [] and judged.violations == head.violations
    assert capfd.readouterr() == ("", "")
