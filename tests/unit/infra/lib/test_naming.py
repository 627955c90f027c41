"""Names: labels short enough for AWS limits, valid snapshot identifiers and SSM paths."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.lib import naming


@pytest.mark.parametrize("label", ["dev", "prod", "qa-2", "staging", "a"])
def test_valid_labels(label: str) -> None:
    assert naming.is_label(label)


@pytest.mark.parametrize("label", ["", "Prod", "-dev", "dev-", "de--v", "toolongname", "dev_1", "1dev"])
def test_invalid_labels(label: str) -> None:
    assert not naming.is_label(label)


@given(st.text(min_size=1, max_size=80))
def test_final_snapshot_identifier_is_always_valid(name: str) -> None:
    ident = naming.final_snapshot_identifier(name)
    assert ident[0].isalpha()
    assert "--" not in ident and not ident.endswith("-")
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in ident)


@given(st.text(min_size=1, max_size=80), st.from_regex(r"[0-9a-f]{8}", fullmatch=True))
def test_db_identifier_is_valid_and_keeps_its_suffix(name: str, suffix: str) -> None:
    ident = naming.db_identifier(name, suffix)
    assert len(ident) <= 63 and ident.endswith(f"-{suffix}") and ident[0].isalpha()
    assert "--" not in ident and ident == ident.lower()


def test_ssm_path() -> None:
    assert naming.ssm_path("stateless-stack", "dev", "app") == "/stateless-stack/dev/app"
    with pytest.raises(ValueError):
        naming.ssm_path("a/b")
