"""Dated tables for EKS: which Kubernetes minor versions EKS supports until when, and which Cluster
Autoscaler release goes with each. Pure data and look-ups, no Pulumi import.

The support calendar (EKS release, end of standard support, end of extended support, all UTC):
- 1.30 to 1.34: the Amazon EKS Kubernetes release calendar in the EKS user guide,
  https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar
  (source: awsdocs/amazon-eks-user-guide, latest/ug/versioning/kubernetes-versions.adoc). The newest
  copy of that page found when this table was dated lists 1.34 as its newest version.
- 1.35: https://endoflife.date/amazon-eks (EKS release 2026-01-27, standard support to 2027-03-27,
  extended to 2028-03-27), the newest source found; it follows AWS's rule of 14 months of standard and
  12 of extended support counted from the EKS release (same page of the user guide).
- 1.36: no EKS date was found, so it is not in the calendar; a stack asking for it gets a warning.
On TABLE_DATE (2026-12-07) that makes 1.35 the only version known to be in standard support: 1.34's ended
on 2026-12-02. Billing for extended support starts on the day standard support ends (UTC), and a cluster
without an upgrade policy is EXTENDED by default (same page, "Amazon EKS extended support FAQs").

The Cluster Autoscaler's release line matches the cluster's minor version ("We recommend using Cluster
Autoscaler with the Kubernetes control plane version for which it was meant", kubernetes/autoscaler,
cluster-autoscaler/README.md, "Releases"), and upstream recommends the latest patch of that line. The
patches below are the newest `cluster-autoscaler-<version>` tags of kubernetes/autoscaler on TABLE_DATE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

TABLE_DATE = date(2026, 12, 7)
CALENDAR_SOURCE = "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar"
DEFAULT_VERSION = "1.35"


@dataclass(frozen=True)
class SupportWindow:
    eks_release: date
    end_of_standard: date
    end_of_extended: date


CALENDAR: dict[str, SupportWindow] = {
    "1.30": SupportWindow(date(2024, 5, 23), date(2025, 7, 23), date(2026, 7, 23)),
    "1.31": SupportWindow(date(2024, 9, 26), date(2025, 11, 26), date(2026, 11, 26)),
    "1.32": SupportWindow(date(2025, 1, 23), date(2026, 3, 23), date(2027, 3, 23)),
    "1.33": SupportWindow(date(2025, 5, 29), date(2026, 7, 29), date(2027, 7, 29)),
    "1.34": SupportWindow(date(2025, 10, 2), date(2026, 12, 2), date(2027, 12, 2)),
    "1.35": SupportWindow(date(2026, 1, 27), date(2027, 3, 27), date(2028, 3, 27)),
}

AUTOSCALER_IMAGE_REPOSITORY = "registry.k8s.io/autoscaling/cluster-autoscaler"
# minor -> the newest patch release of that line (tag cluster-autoscaler-<patch> of kubernetes/autoscaler).
AUTOSCALER_RELEASES: dict[str, str] = {
    "1.32": "1.32.7",
    "1.33": "1.33.6",
    "1.34": "1.34.5",
    "1.35": "1.35.2",
    "1.36": "1.36.1",
}


def _minor(version: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(f"kubernetes version {version!r} must look like {DEFAULT_VERSION}")
    return int(match[1]), int(match[2])


def autoscaler_release(version: str) -> str:
    """The Cluster Autoscaler release (x.y.z) for a cluster of this minor version."""
    _minor(version)
    try:
        return AUTOSCALER_RELEASES[version]
    except KeyError:
        raise ValueError(
            f"no Cluster Autoscaler release is pinned for Kubernetes {version} (pinned: "
            f"{', '.join(AUTOSCALER_RELEASES)}); add its newest patch to infra/lib/eks_versions.py"
        ) from None


def autoscaler_image(version: str) -> str:
    return f"{AUTOSCALER_IMAGE_REPOSITORY}:v{autoscaler_release(version)}"


def autoscaler_tag(version: str) -> str:
    """The kubernetes/autoscaler git tag whose example manifest the RBAC follows."""
    return f"cluster-autoscaler-{autoscaler_release(version)}"


def unavailable_problem(version: str, today: date) -> str | None:
    """Why EKS cannot create a cluster of this version on `today`, or None (past end of extended support:
    "you can no longer create new Amazon EKS clusters with the unsupported version", same calendar page)."""
    window = CALENDAR.get(version)
    if window is not None and today >= window.end_of_extended:
        return (f"{version} reached the end of EKS extended support on {window.end_of_extended.isoformat()} and "
                f"can no longer be created; use {DEFAULT_VERSION} ({CALENDAR_SOURCE})")
    return None


def support_warning(version: str, today: date) -> str | None:
    """Why this version costs extended support or is unknown to the calendar on `today`, or None."""
    window = CALENDAR.get(version)
    if window is None:
        return (f"{version} is not in the EKS support calendar dated {TABLE_DATE.isoformat()} "
                f"(infra/lib/eks_versions.py); check that EKS offers it and its support dates ({CALENDAR_SOURCE})")
    if today >= window.end_of_standard:
        return (f"{version} is past the end of EKS standard support ({window.end_of_standard.isoformat()}): the "
                f"cluster is billed for extended support, or with eksUpgradePolicy STANDARD is upgraded by EKS; "
                f"use {DEFAULT_VERSION} ({CALENDAR_SOURCE})")
    return None


def in_standard_support(version: str, today: date) -> bool:
    window = CALENDAR.get(version)
    return window is not None and window.eks_release <= today < window.end_of_standard
