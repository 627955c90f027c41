"""infra/lib/eks_versions.py: the dated EKS support calendar and the Cluster Autoscaler release per minor."""

from __future__ import annotations

from datetime import date

import pytest

from infra.lib import eks_versions
from infra.lib.eks_versions import (
    AUTOSCALER_RELEASES,
    CALENDAR,
    DEFAULT_VERSION,
    TABLE_DATE,
    autoscaler_image,
    autoscaler_tag,
    in_standard_support,
    support_warning,
    unavailable_problem,
)


def _months(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


@pytest.mark.parametrize("version", sorted(CALENDAR))
def test_every_window_follows_the_documented_14_plus_12_months(version: str) -> None:
    # "A minor version is under standard support in Amazon EKS for the first 14 months after it's released ...
    # it enters extended support for the next 12 months" (EKS user guide, Kubernetes versions).
    window = CALENDAR[version]
    assert _months(window.eks_release, window.end_of_standard) == 14
    assert _months(window.end_of_standard, window.end_of_extended) == 12
    assert window.end_of_standard.day == window.end_of_extended.day


def test_the_default_is_the_one_version_in_standard_support_on_the_tables_date() -> None:
    assert [v for v in CALENDAR if in_standard_support(v, TABLE_DATE)] == [DEFAULT_VERSION]
    assert not in_standard_support("1.34", TABLE_DATE) and in_standard_support("1.34", date(2026, 12, 1))


def test_warnings_start_on_the_end_of_standard_support_day() -> None:
    assert support_warning("1.35", date(2027, 3, 26)) is None
    assert support_warning("1.35", date(2027, 3, 27)) is not None
    assert "is not in the EKS support calendar dated 2026-12-07" in (support_warning("1.36", TABLE_DATE) or "")


def test_a_version_past_extended_support_cannot_be_created() -> None:
    assert unavailable_problem("1.31", TABLE_DATE) == (
        "1.31 reached the end of EKS extended support on 2026-11-26 and can no longer be created; use 1.35 "
        f"({eks_versions.CALENDAR_SOURCE})")
    assert unavailable_problem("1.32", TABLE_DATE) is None
    assert unavailable_problem("1.36", TABLE_DATE) is None  # unknown to the calendar: a warning, not a refusal


@pytest.mark.parametrize("version", sorted(AUTOSCALER_RELEASES))
def test_each_autoscaler_release_is_of_its_clusters_minor(version: str) -> None:
    release = AUTOSCALER_RELEASES[version]
    assert release.rsplit(".", 1)[0] == version
    assert autoscaler_image(version) == f"registry.k8s.io/autoscaling/cluster-autoscaler:v{release}"
    assert autoscaler_tag(version) == f"cluster-autoscaler-{release}"


def test_every_creatable_calendar_version_has_an_autoscaler_release() -> None:
    creatable = {v for v in CALENDAR if unavailable_problem(v, TABLE_DATE) is None}
    assert creatable <= set(AUTOSCALER_RELEASES)
    assert AUTOSCALER_RELEASES[DEFAULT_VERSION] == "1.35.2"


def test_a_minor_without_a_release_or_a_malformed_version_is_refused() -> None:
    with pytest.raises(ValueError, match="no Cluster Autoscaler release is pinned for Kubernetes 1.37"):
        autoscaler_image("1.37")
    with pytest.raises(ValueError, match="must look like 1.35"):
        autoscaler_image("1.35.2")
