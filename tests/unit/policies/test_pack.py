"""The pack's assembly: rule metadata, the adapters' handling of unknowns, and how the CLI loads __main__."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policies.pack import PACK_NAME, POLICIES
from policies.rules import ALL_RULES, UNKNOWN, plain
from policies.rules.stickiness import NO_STICKY_SESSIONS

ROOT = Path(__file__).resolve().parents[3]


def test_every_rule_is_named_described_and_remediable():
    names = [r.name for r in ALL_RULES]
    assert len(names) == len(set(names))
    for rule in ALL_RULES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), rule.name
        assert rule.description and rule.remediation and rule.why, rule.name
        assert rule.enforcement in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)
        for knob, spec in rule.config.items():
            assert "default" in spec and "description" in spec, (rule.name, knob)


def test_policies_mirror_the_rules():
    assert [p.name for p in POLICIES] == [r.name for r in ALL_RULES]
    for policy, rule in zip(POLICIES, ALL_RULES, strict=True):
        kind = StackValidationPolicy if rule.is_stack else ResourceValidationPolicy
        assert isinstance(policy, kind)
        assert policy.enforcement_level == rule.enforcement
        assert policy.remediation_steps == rule.remediation
        # Every policy takes waivers; its other properties are the rule's knobs.
        assert policy.config_schema is not None
        assert set(policy.config_schema.properties) == {*rule.config, "waivers"}
        assert policy.url == rule.doc_url


def test_plain_unwraps_proxies_and_marks_unknowns():
    raw = {"a": UNKNOWN_STRING_VALUE, "b": [1, {"c": UNKNOWN_BOOLEAN_VALUE}], "d": "x"}
    assert plain(unknown_checking_proxy(raw)) == {"a": UNKNOWN, "b": [1, {"c": UNKNOWN}], "d": "x"}
    assert plain(raw) == {"a": UNKNOWN, "b": [1, {"c": UNKNOWN}], "d": "x"}


def test_adapter_does_not_raise_on_unknown_properties(via_policy):
    props = {"stickiness": {"type": "lb_cookie", "enabled": UNKNOWN_BOOLEAN_VALUE}}
    assert via_policy(NO_STICKY_SESSIONS, "aws:lb/targetGroup:TargetGroup", props) == []
    props = {"stickiness": UNKNOWN_STRING_VALUE}
    assert via_policy(NO_STICKY_SESSIONS, "aws:lb/targetGroup:TargetGroup", props) == []


@pytest.mark.parametrize("cwd", ["policies", "."])
def test_main_assembles_the_pack_from_the_pack_directory_and_the_root(cwd):
    # The CLI runs the pack directory with runpy and its own cwd; PolicyPack is replaced so nothing serves.
    script = textwrap.dedent(
        f"""
        import runpy, sys
        sys.path[:] = [p for p in sys.path if p not in ("", {str(ROOT)!r})]
        import pulumi_policy
        seen = {{}}
        def fake(name, policies, **kwargs):
            seen.update(name=name, count=len(policies), level=kwargs.get("enforcement_level"))
        pulumi_policy.PolicyPack = fake
        runpy.run_path({str(ROOT / "policies")!r}, run_name="__main__")
        print(seen["name"], seen["count"], seen["level"].value)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT / cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [PACK_NAME, str(len(ALL_RULES)), "advisory"]


def test_nothing_imports_the_pack_entry_point():
    offenders = []
    pack_venv = ROOT / "policies" / "venv"  # the pack's own virtualenv (PulumiPolicy.yaml), not its code
    sources = [*ROOT.joinpath("policies").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]
    for path in (p for p in sources if not p.is_relative_to(pack_venv)):
        text = path.read_text(encoding="utf-8")
        if re.search(
            r"^\s*(from policies\.__main__|import policies\.__main__|from policies import __main__)", text, re.MULTILINE
        ):
            offenders.append(str(path))
    assert offenders == []


def test_policy_pack_yaml_declares_python():
    text = (ROOT / "policies" / "PulumiPolicy.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text)["runtime"]["name"] == "python"
    assert re.search(r"^description:", text, re.MULTILINE)


def test_every_rule_has_a_row_in_the_policies_readme():
    readme = (Path(__file__).resolve().parents[3] / "policies" / "README.md").read_text()
    rows = {line.split("|")[1].strip().split()[0].strip("`") for line in readme.splitlines() if line.startswith("| `")}
    assert {rule.name for rule in ALL_RULES} <= rows


def test_every_rules_module_has_its_own_test_file():
    """Rule tests mirror the rules: policies/rules/X.py is tested in tests/unit/policies/rules/test_X.py
    (the shared shape and readers of _core.py in test__core.py)."""
    modules = {p.stem for p in (ROOT / "policies" / "rules").glob("*.py") if p.stem != "__init__"}
    tests = {p.stem.removeprefix("test_") for p in (Path(__file__).parent / "rules").glob("test_*.py")}
    assert modules == tests


def _pinned_rule_references(test_file: Path) -> set[str]:
    """Names and strings a test function of `test_file` mentions when it also reads `.enforcement` or
    `.enforcement_level`: the rules whose default enforcement that file pins. Imported aliases count as the
    names they stand for."""
    import ast

    tree = ast.parse(test_file.read_text())
    aliases = {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    found: set[str] = set()
    for node in tree.body:
        if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
            continue
        nodes = list(ast.walk(node))
        if not any(isinstance(n, ast.Attribute) and n.attr in ("enforcement", "enforcement_level") for n in nodes):
            continue
        for n in nodes:
            if isinstance(n, ast.Name):
                found.add(aliases.get(n.id, n.id))
            elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                found.add(n.value)
    return found


def test_every_rule_pins_its_default_enforcement_in_its_own_test_file():
    """A rule's default enforcement is a promise (mandatory blocks a deployment, advisory does not), so the
    test file of its module has a test that reads the rule's `enforcement` by the rule's variable or name."""
    import importlib

    missing = []
    for path in sorted((ROOT / "policies" / "rules").glob("*.py")):
        module = importlib.import_module(f"policies.rules.{path.stem}")
        rules = getattr(module, "RULES", ())
        if not rules:
            continue
        pinned = _pinned_rule_references(Path(__file__).parent / "rules" / f"test_{path.stem}.py")
        for rule in rules:
            variables = {name for name, value in vars(module).items() if value is rule}
            if not pinned & (variables | {rule.name}):
                missing.append(f"{path.stem}: {rule.name}")
    assert missing == []
