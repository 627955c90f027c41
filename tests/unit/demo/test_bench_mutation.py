"""Pure parts of bench.mutation: which module a mutant belongs to, the equivalent-mutant list, the score."""

from pathlib import Path

from bench.mutation.__main__ import equivalent_mutants, module_of, score


def test_a_mutant_belongs_to_the_module_of_its_function():
    assert module_of("policies.rules.s3.x_check_public_access_block__mutmut_15") == "policies/rules/s3.py"
    assert module_of("policies.rules.s3.x__bucket_keys__mutmut_4") == "policies/rules/s3.py"
    assert module_of("app.edge.xǁEdgeǁ__call____mutmut_3") == "app/edge.py"


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
        "other": 0,
        "kill_rate": 0.6,
        "survivors": ["p.m.x_f__mutmut_4"],
    }
    assert report["p/n.py"]["kill_rate"] == 0.0


def test_a_mutants_tests_run_its_modules_own_tests_first_then_the_fastest():
    from bench.mutation.order import own_test_file, sort_key

    assert own_test_file("policies.gate.config.x_reconcile__mutmut_3") == "test_config.py"
    assert own_test_file("app.edge.xǁEdgeǁ__call____mutmut_13") == "test_edge.py"
    assert own_test_file("stats") == own_test_file("") == ""
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
