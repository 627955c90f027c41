"""Baselines (policies/gate/baseline.py): recorded findings stop failing, new ones fail, gone ones are
counted; the file is stable and machine-independent; a broken baseline is exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from policies.gate.baseline import BaselineError, read_baseline, render_baseline
from tests.unit.policies.gate.helpers import PROGRAMS, gate, valid_report

URN = "urn:pulumi:dev::public_bucket::aws:s3/bucketV2:BucketV2::site"


def test_the_file_is_sorted_deduplicated_versioned_and_machine_independent():
    keys = {("s3-versioning", URN), ("s3-encryption", URN), ("s3-versioning", URN.replace("site", "logs"))}
    text = render_baseline(keys)
    assert text == render_baseline(set(reversed(sorted(keys))))
    doc = json.loads(text)
    assert doc["version"] == 1 and doc["tool"] == "stateless-guard"
    assert doc["findings"] == sorted(doc["findings"], key=lambda f: (f["urn"], f["policy"]))
    assert all(set(f) == {"policy", "urn"} for f in doc["findings"])
    assert read_baseline_text(text) == keys


def read_baseline_text(text: str) -> set[tuple[str, str]]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "baseline.json"
        path.write_text(text, encoding="utf-8")
        return read_baseline(path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "baseline is not valid JSON"),
        ("[]", "not a baseline of version 1"),
        ('{"version": 2, "findings": []}', "not a baseline of version 1"),
        ('{"version": 1, "findings": [{"policy": "x"}]}', "findings[0]: expected"),
        ('{"version": 1, "findings": [{"policy": "x", "urn": "site"}]}', "findings[0]: expected"),
    ],
)
def test_a_malformed_baseline_is_refused(text, fragment):
    with pytest.raises(BaselineError) as err:
        read_baseline_text(text)
    assert fragment in str(err.value)


@pytest.fixture
def program(tmp_path: Path) -> Path:
    target = tmp_path / "public_bucket"
    shutil.copytree(PROGRAMS / "public_bucket", target)
    return target


def _json(*args: str, program: Path) -> tuple[int, dict]:
    out = gate("--stack", "dev", "--program", str(program), "--format", "json", *args)
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, valid_report(out.stdout)


def test_a_baseline_hides_exactly_the_recorded_findings_and_a_new_one_fails(program, tmp_path):
    baseline = tmp_path / "baseline.json"
    code, doc = _json("--write-baseline", str(baseline), program=program)
    recorded = {(v["policy"], v["urn"]) for v in doc["violations"]}
    assert code == 0 and len(recorded) == 5
    assert {(f["policy"], f["urn"]) for f in json.loads(baseline.read_text())["findings"]} == recorded
    written = baseline.read_text()

    code, doc = _json("--baseline", str(baseline), program=program)
    assert code == 0
    assert all(v.get("baselined") for v in doc["violations"])
    assert doc["summary"]["mandatory"] == 0 and doc["summary"]["baselined"] == 5
    assert doc["stacks"][0]["baseline"] == {"matched": 5, "gone": 0}

    # A new public bucket fails; the recorded findings stay hidden; a fixed one is counted as gone.
    main = program / "__main__.py"
    source = main.read_text()
    source = source.replace('aws.s3.BucketAclV2("site", bucket=bucket.id, acl="public-read")\n', "")
    source += '\nnew = aws.s3.BucketV2("new")\naws.s3.BucketAclV2("new", bucket=new.id, acl="public-read")\n'
    main.write_text(source)
    code, doc = _json("--baseline", str(baseline), program=program)
    assert code == 1
    new = {(v["policy"], v["name"]) for v in doc["violations"] if not v.get("baselined")}
    assert ("s3-no-public-access", "new") in new and ("s3-public-access-block", "new") in new
    assert all(v["name"] == "new" for v in doc["violations"] if not v.get("baselined"))
    assert doc["stacks"][0]["baseline"]["gone"] == 1
    text = gate("--stack", "dev", "--program", str(program), "--baseline", str(baseline))
    assert "baseline: 4 recorded finding(s) still there, 1 gone" in text.stdout

    # Writing again over the same findings gives the same bytes (no dates, no paths).
    _json("--write-baseline", str(baseline), program=program)
    again = baseline.read_text()
    _json("--write-baseline", str(baseline), program=program)
    assert baseline.read_text() == again != written


def test_a_broken_or_missing_baseline_is_exit_2(program, tmp_path):
    broken = tmp_path / "baseline.json"
    broken.write_text('{"findings": []}')
    out = gate("--stack", "dev", "--program", str(program), "--baseline", str(broken))
    assert out.returncode == 2 and "not a baseline of version 1" in out.stderr and "Traceback" not in out.stderr
    out = gate("--stack", "dev", "--program", str(program), "--baseline", str(tmp_path / "none.json"))
    assert out.returncode == 2 and "baseline cannot be read" in out.stderr
    out = gate("--stack", "dev", "--program", str(program), "--baseline", "a", "--write-baseline", "b")
    assert out.returncode == 2 and "not allowed with argument" in out.stderr


# In-process: the functions the command line calls, so that every branch is seen by the test run itself.

from policies.gate import GateResult  # noqa: E402
from policies.gate.baseline import _stack_of, apply_baseline, keys_of, write_baseline  # noqa: E402
from policies.gate.evaluate import Violation  # noqa: E402
from policies.rules.waivers import Waiver  # noqa: E402

OTHER = "urn:pulumi:prod::public_bucket::aws:s3/bucketV2:BucketV2::site"


def _violation(policy: str, urn: str, **kw) -> Violation:
    return Violation(policy, "mandatory", urn, "aws:s3/bucketV2:BucketV2", urn.rsplit("::", 1)[-1], "msg", **kw)


def _result(violations: list[Violation], stack: str = "dev", project: str = "public_bucket") -> GateResult:
    return GateResult(project, stack, Path("."), "__main__.py", [], violations, {}, None)


@pytest.mark.parametrize(
    ("urn", "expected"),
    [
        (URN, ("dev", "public_bucket")),
        ("urn:pulumi:dev::proj::t::n", ("dev", "proj")),
        ("urn:pulumi:dev::proj", None),  # no type and name: not a resource URN
        ("urn:pulumi:dev", None),
        ("urn:other:dev::proj::t::n", None),
        ("xurn:pulumi:dev::proj::t::n", None),
    ],
)
def test_the_stack_of_a_urn(urn, expected):
    assert _stack_of(urn) == expected


def test_a_recorded_finding_of_exactly_three_parts_is_accepted():
    assert read_baseline_text('{"version": 1, "findings": [{"policy": "p", "urn": "urn:pulumi:s::p::t"}]}') == {
        ("p", "urn:pulumi:s::p::t")
    }


@pytest.mark.parametrize(
    "findings",
    [
        ["x"],
        [{"policy": 1, "urn": URN}],
        [{"urn": URN}],
        [{"policy": "p", "urn": 3}],
        [{"policy": "p", "urn": "urn:pulumi:dev::proj"}],
    ],
)
def test_each_malformed_finding_is_named_with_its_index(findings):
    doc = {"version": 1, "findings": [{"policy": "ok", "urn": URN}, *findings]}
    with pytest.raises(BaselineError) as err:
        read_baseline_text(json.dumps(doc))
    assert str(err.value).endswith('baseline.json: findings[1]: expected {"policy": NAME, "urn": "urn:pulumi:..."}')


@pytest.mark.parametrize(
    "text",
    ['{"version": 1}', '{"version": 1, "findings": {}}', '{"findings": []}', '"x"'],
)
def test_the_refusal_says_what_a_baseline_looks_like(text):
    with pytest.raises(BaselineError) as err:
        read_baseline_text(text)
    assert str(err.value).endswith(
        'baseline.json: not a baseline of version 1 (expected {"version": 1, "findings": [{"policy", "urn"}, ...]},'
        " as --write-baseline writes it)"
    )


def test_unreadable_and_unwritable_baselines_name_the_path(tmp_path):
    missing = tmp_path / "none.json"
    with pytest.raises(BaselineError) as err:
        read_baseline(missing)
    assert str(err.value) == f"{missing}: baseline cannot be read: No such file or directory"
    with pytest.raises(BaselineError) as err:
        write_baseline(tmp_path / "no" / "dir.json", [])
    assert str(err.value) == f"{tmp_path / 'no' / 'dir.json'}: baseline cannot be written: No such file or directory"
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(BaselineError) as err:
        read_baseline(broken)
    assert str(err.value).startswith(f"{broken}: baseline is not valid JSON: ")


def test_the_file_layout_is_exact():
    assert render_baseline([("b", URN), ("a", URN), ("a", OTHER), ("a", URN)]) == (
        "{\n"
        '  "version": 1,\n'
        '  "tool": "stateless-guard",\n'
        '  "findings": [\n'
        f'    {{\n      "policy": "a",\n      "urn": "{URN}"\n    }},\n'
        f'    {{\n      "policy": "b",\n      "urn": "{URN}"\n    }},\n'
        f'    {{\n      "policy": "a",\n      "urn": "{OTHER}"\n    }}\n'
        "  ]\n"
        "}\n"
    )


def test_written_baselines_leave_out_waived_findings_and_return_what_they_recorded(tmp_path):
    waiver = Waiver("site", "accepted", None)
    results = [
        _result([_violation("s3-versioning", URN), _violation("s3-encryption", URN, waived=waiver)]),
        _result([_violation("s3-versioning", OTHER)], stack="prod"),
    ]
    assert keys_of(results) == {("s3-versioning", URN), ("s3-versioning", OTHER)}
    path = tmp_path / "baseline.json"
    assert write_baseline(path, results) == {("s3-versioning", URN), ("s3-versioning", OTHER)}
    assert path.read_text(encoding="utf-8") == render_baseline(keys_of(results))
    assert read_baseline(path) == keys_of(results)


def test_applying_a_baseline_marks_recorded_findings_and_counts_gone_ones_per_stack():
    gone_here = URN.replace("site", "logs")
    gone_elsewhere = OTHER.replace("site", "logs")
    recorded = {("s3-versioning", URN), ("s3-encryption", gone_here), ("s3-encryption", gone_elsewhere)}
    dev = _result([_violation("s3-versioning", URN), _violation("s3-encryption", URN)])
    other_project = _result([_violation("s3-versioning", URN)], project="elsewhere")
    applied = apply_baseline([dev, other_project], recorded)
    assert [v.baselined for v in applied[0].violations] == [True, False]
    assert applied[0].baseline_gone == 1
    assert [v.baselined for v in applied[1].violations] == [True]
    assert applied[1].baseline_gone == 0
    assert applied[0].violations[1] == dev.violations[1]
    assert applied[0].stack == "dev" and applied[0].project == "public_bucket"
