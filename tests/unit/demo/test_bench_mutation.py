"""Pure parts of bench.mutation: which module a mutant belongs to, the equivalent-mutant list, the score."""

import os
from pathlib import Path

from bench.mutation.__main__ import _percent, equivalent_mutants, merge_results, module_of, score


def test_a_mutant_belongs_to_the_module_of_its_function():
    assert module_of("policies.rules.s3.x_check_public_access_block__mutmut_15") == "policies/rules/s3.py"
    assert module_of("policies.rules.s3.x__bucket_keys__mutmut_4") == "policies/rules/s3.py"
    assert module_of("app.edge.xǁEdgeǁ__call____mutmut_3") == "app/edge.py"
    # mutmut names a package's own functions without `__init__`.
    assert module_of("policies.gate.x_run_document__mutmut_1") == "policies/gate/__init__.py"
    assert module_of("policies.gate.__main__.x_main__mutmut_1") == "policies/gate/__main__.py"


def test_equivalent_mutants_are_read_from_their_readme_section(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Benchmarks\n\n## Equivalent mutants\n\n"
        "- `policies.rules.s3.x_a__mutmut_1`: a cache only saves time\n"
        "not a list item `policies.rules.s3.x_a__mutmut_9`\n\n"
        "## Next section\n\n- `policies.rules.s3.x_a__mutmut_2`: listed elsewhere, not equivalent\n"
    )
    assert equivalent_mutants(readme) == {"policies.rules.s3.x_a__mutmut_1": "a cache only saves time"}
    (tmp_path / "other.md").write_text("# nothing listed\n")
    assert equivalent_mutants(tmp_path / "other.md") == {}


def test_the_kill_rate_leaves_out_equivalent_mutants_and_counts_uncovered_ones_as_not_killed():
    outcomes = {
        "p.m.x_f__mutmut_1": "killed",
        "p.m.x_f__mutmut_2": "killed",
        "p.m.x_f__mutmut_3": "timeout",
        "p.m.x_f__mutmut_4": "survived",
        "p.m.x_f__mutmut_5": "survived",
        "p.m.x_f__mutmut_6": "no tests",
        "p.n.x_g__mutmut_1": "survived",
    }
    report = score(outcomes, {"p.m.x_f__mutmut_5": "equivalent: why"})
    assert report["p/m.py"] == {
        "mutants": 6,
        "killed": 3,
        "survived": 1,
        "equivalent": 1,
        "not_covered": 1,
        "not_reached": 0,
        "other": 0,
        "kill_rate": 0.6,
        "survivors": ["p.m.x_f__mutmut_4"],
    }
    assert report["p/n.py"]["kill_rate"] == 0.0


def test_tests_that_ended_as_no_passing_run_ends_killed_the_mutant_and_unfinished_runs_did_not():
    outcomes = {
        "p.m.x_f__mutmut_1": "suspicious",  # an exit status pytest never gives
        "p.m.x_f__mutmut_2": "segfault",  # a signal
        "p.m.x_f__mutmut_3": "not checked",
        "p.m.x_f__mutmut_4": "check was interrupted by user",
    }
    row = score(outcomes, {})["p/m.py"]
    # Not reached by a stopped run: counted apart and left out of the rate; an interrupted check is other.
    assert (row["killed"], row["not_reached"], row["other"], row["kill_rate"]) == (2, 1, 1, round(2 / 3, 4))


def _kept(root: Path, group: str, commit: str, exit_codes: dict[str, dict[str, int | None]]) -> Path:
    """A scratch copy as `--keep` leaves it: mutmut's .meta files and the commit it was copied from."""
    import json

    path = root / f"mutation-{group}-abc123"
    for module, codes in exit_codes.items():
        meta = path / "mutants" / (module + ".meta")
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"exit_code_by_key": codes}))
    (path / "measured-at.json").write_text(json.dumps({"commit": commit, "changed": ["p/n.py"]}))
    return path


def test_a_stopped_kept_run_is_recorded_for_the_modules_it_reached(tmp_path: Path):
    from bench.mutation.__main__ import kept_runs, score_kept

    _kept(tmp_path, "gate", "abc", {
        "p/m.py": {"p.m.x_f__mutmut_1": 1, "p.m.x_f__mutmut_2": 0, "p.m.x_f__mutmut_3": None},
        "p/n.py": {"p.n.x_g__mutmut_1": None},  # never reached: its earlier row stays
    })
    (tmp_path / "mutation-nogroup-x1").mkdir()
    (tmp_path / "unrelated").mkdir()
    assert [name for name, _ in kept_runs(tmp_path)] == ["gate"]
    groups, commit, changed = score_kept(tmp_path, {"p.m.x_f__mutmut_2": "why"})
    assert (commit, changed) == ("abc", frozenset({"p/n.py"}))
    assert list(groups) == ["gate"] and groups["gate"]["partial"] is True and groups["gate"]["seconds"] is None
    row = groups["gate"]["modules"]["p/m.py"]
    assert (row["killed"], row["equivalent"], row["not_reached"], row["kill_rate"]) == (1, 1, 1, 1.0)
    assert list(groups["gate"]["modules"]) == ["p/m.py"]


def test_scoring_needs_kept_runs_of_one_commit(tmp_path: Path):
    import pytest

    from bench.mutation.__main__ import score_kept

    with pytest.raises(SystemExit, match="no kept mutation run"):
        score_kept(tmp_path, {})
    _kept(tmp_path, "gate", "abc", {"p/m.py": {"p.m.x_f__mutmut_1": 1}})
    other = _kept(tmp_path / "x", "rules", "def", {"p/r.py": {"p.r.x_f__mutmut_1": 1}})
    other.rename(tmp_path / other.name)
    with pytest.raises(SystemExit, match="different commits"):
        score_kept(tmp_path, {})


def _row(rate):
    return {"mutants": 10, "killed": int(rate * 10), "kill_rate": rate, "survivors": []}


def test_a_run_replaces_the_rows_of_the_modules_it_measured_and_keeps_the_others():
    previous = {
        "tool": "mutmut",
        "groups": {
            "rules": {
                "seconds": 500.0,
                "modules": {"p/a.py": {**_row(0.5), "commit": "old"}, "p/b.py": {**_row(0.9), "commit": "old"}},
            },
            "app": {"seconds": 80.0, "modules": {"app/x.py": {**_row(1.0), "commit": "old"}}},
        },
    }
    now = {"rules": {"seconds": 12.0, "partial": True, "modules": {"p/a.py": _row(1.0), "p/c.py": _row(0.8)}}}
    merged = merge_results(previous, now, "abc123", "2026-12-07")
    rules = merged["groups"]["rules"]
    assert rules["seconds"] == 500.0  # a run over one module is not a run of the group
    assert rules["modules"]["p/a.py"] == {**_row(1.0), "commit": "abc123", "measured": "2026-12-07"}
    assert rules["modules"]["p/b.py"] == {**_row(0.9), "commit": "old"}
    assert rules["modules"]["p/c.py"]["commit"] == "abc123"
    assert list(rules["modules"]) == ["p/a.py", "p/b.py", "p/c.py"]
    assert merged["groups"]["app"] == previous["groups"]["app"]
    assert "partial" not in rules


def test_a_whole_group_run_records_its_time_and_a_first_run_starts_the_file():
    run = {"gate": {"seconds": 900.0, "partial": False, "modules": {"g/m.py": _row(0.97)}}}
    merged = merge_results({}, run, "c", "d")
    assert merged == {
        "tool": "mutmut",
        "groups": {"gate": {"seconds": 900.0, "modules": {"g/m.py": {**_row(0.97), "commit": "c", "measured": "d"}}}},
    }


def test_rates_are_shown_rounded_down_so_a_miss_never_reads_as_the_goal():
    assert _percent(0.9497) == "94.9 %"
    assert _percent(0.95) == "95.0 %"
    assert _percent(1.0) == "100.0 %"
    assert _percent(None) == "-"


def test_children_of_the_stats_run_do_not_inherit_the_mode_while_this_process_keeps_it(monkeypatch):
    from types import SimpleNamespace

    from mutmut.mutation import trampoline

    from bench.mutation import children

    monkeypatch.setenv("MUTANT_UNDER_TEST", "stats")
    monkeypatch.setattr(trampoline, "_mutant_under_test", None)
    session = SimpleNamespace(config=SimpleNamespace())
    children.pytest_sessionstart(session)
    assert "MUTANT_UNDER_TEST" not in os.environ
    assert trampoline.get_mutant_under_test() == "stats"
    children.pytest_sessionfinish(session)
    assert os.environ["MUTANT_UNDER_TEST"] == "stats"


def test_a_mutants_run_keeps_the_variable_for_its_children(monkeypatch):
    from types import SimpleNamespace

    from bench.mutation import children

    monkeypatch.setenv("MUTANT_UNDER_TEST", "policies.gate.evaluate.x_judge__mutmut_3")
    session = SimpleNamespace(config=SimpleNamespace())
    children.pytest_sessionstart(session)
    assert os.environ["MUTANT_UNDER_TEST"] == "policies.gate.evaluate.x_judge__mutmut_3"
    children.pytest_sessionfinish(session)
    assert os.environ["MUTANT_UNDER_TEST"] == "policies.gate.evaluate.x_judge__mutmut_3"


def test_a_module_the_working_tree_changed_is_recorded_against_its_commit_with_a_plus():
    run = {"rules": {"seconds": 1.0, "partial": True, "modules": {"p/a.py": _row(1.0), "p/b.py": _row(1.0)}}}
    merged = merge_results({}, run, "abc", "d", frozenset({"p/b.py", "README.md"}))
    assert merged["groups"]["rules"]["modules"]["p/a.py"]["commit"] == "abc"
    assert merged["groups"]["rules"]["modules"]["p/b.py"]["commit"] == "abc+"


def test_a_mutants_tests_run_its_modules_own_tests_first_then_the_fastest():
    from bench.mutation.order import own_test_file, own_test_files, sort_key

    assert own_test_files("policies.gate.config.x_reconcile__mutmut_3") == ("test_config.py", "test_gate.py")
    assert own_test_files("app.edge.xǁEdgeǁ__call____mutmut_13") == ("test_edge.py", "test_app.py")
    assert own_test_files("policies.gate.__init__.x_stack_names__mutmut_1") == ("test_gate.py",)
    assert own_test_files("policies.gate.__main__.x_command__mutmut_2") == ("test_cli.py", "test_gate.py")
    assert own_test_files("policies.gate.report.text.x_render__mutmut_4") == ("test_text.py", "test_report.py")
    assert own_test_files("edge.x_f__mutmut_1") == ("test_edge.py",)
    assert own_test_files("stats") == own_test_files("") == ()
    # The first of them the covering tests are in; none when they are in none.
    present = {"test_report.py", "test_sarif.py"}
    assert own_test_file("policies.gate.report.text.x_render__mutmut_4", present) == "test_report.py"
    assert own_test_file("policies.gate.report.sarif.x_run__mutmut_4", present) == "test_sarif.py"
    assert own_test_file("policies.gate.config.x_reconcile__mutmut_3", present) == ""
    durations = {
        "tests/a/test_cli.py::t": 0.1,
        "tests/a/test_config.py::slow": 3.0,
        "tests/a/test_config.py::fast": 1.0,
    }
    ids = [*durations, "tests/a/test_other.py::unknown"]
    ordered = sorted(ids, key=lambda n: sort_key(n, durations, "test_config.py"))
    assert ordered == [
        "tests/a/test_config.py::fast",
        "tests/a/test_config.py::slow",
        "tests/a/test_cli.py::t",
        "tests/a/test_other.py::unknown",
    ]
    assert sorted(ids, key=lambda n: sort_key(n, durations, ""))[0] == "tests/a/test_cli.py::t"


def test_the_plugin_orders_a_mutants_covering_tests_and_leaves_the_coverage_pass_alone(tmp_path, monkeypatch):
    import json
    from types import SimpleNamespace

    from bench.mutation.order import pytest_collection_modifyitems

    ids = [
        "tests/g/test_other.py::slow",
        "tests/g/test_cli.py::slow",
        "tests/g/test_other.py::fast",
        "tests/g/test_cli.py::fast",
    ]
    durations = {"tests/g/test_other.py::slow": 2.0, "tests/g/test_cli.py::slow": 3.0,
                 "tests/g/test_other.py::fast": 0.1, "tests/g/test_cli.py::fast": 0.5}

    def run() -> list[str]:
        items = [SimpleNamespace(nodeid=nodeid) for nodeid in ids]
        pytest_collection_modifyitems(None, None, items)
        return [item.nodeid for item in items]

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MUTANT_UNDER_TEST", "policies.gate.__main__.x_command__mutmut_2")
    assert run() == ids  # no stats file: the coverage pass itself, pytest's order
    (tmp_path / "mutmut-stats.json").write_text(json.dumps({"duration_by_test": durations}))
    assert run() == [
        "tests/g/test_cli.py::fast", "tests/g/test_cli.py::slow",
        "tests/g/test_other.py::fast", "tests/g/test_other.py::slow",
    ]
    monkeypatch.setenv("MUTANT_UNDER_TEST", "policies.gate.config.x_reconcile__mutmut_3")
    assert run() == [
        "tests/g/test_other.py::fast", "tests/g/test_cli.py::fast",
        "tests/g/test_other.py::slow", "tests/g/test_cli.py::slow",
    ]


def test_the_scratch_copys_configuration_names_what_to_mutate_what_to_copy_and_the_time_limit(tmp_path: Path):
    import tomllib

    from bench.mutation.__main__ import GROUPS, TIMEOUT_MULTIPLIER, _configure

    gate = next(group for group in GROUPS if group.name == "gate")
    for name in ("mutants", "tests", "shared", "policies", "infra", "stacks"):
        (tmp_path / name).mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: x\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    _configure(tmp_path, gate, ["policies/gate/config.py"])
    settings = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["mutmut"]
    assert settings["source_paths"] == ["policies/"]
    assert settings["only_mutate"] == ["policies/gate/config.py"]
    assert settings["also_copy"] == ["Pulumi.yaml", "infra", "pyproject.toml", "stacks"]
    assert settings["pytest_add_cli_args_test_selection"] == ["tests/unit/policies/gate", "-m", "not process"]
    assert settings["timeout_multiplier"] == TIMEOUT_MULTIPLIER == 5
    whole = tmp_path / "whole"
    whole.mkdir()
    (whole / "pyproject.toml").write_text("")
    _configure(whole, gate, [])
    assert tomllib.loads((whole / "pyproject.toml").read_text())["tool"]["mutmut"]["only_mutate"] == list(gate.modules)
