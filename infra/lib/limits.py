"""AWS limits and patterns the settings and the components both check against (one copy of each)."""

from __future__ import annotations

import re
from collections.abc import Sequence

# The values CloudWatch Logs accepts for retention_in_days:
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)

# The app's preStop drain uses the Kubernetes sleep action, on by default from 1.30.
MIN_KUBERNETES_VERSION = (1, 30)

# AWS's rule for SQS event sources: the queue's visibility timeout is at least six times the function
# timeout plus the batching window, so a message is not handed out again while a slow (or throttled and
# retried) invocation still holds it: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
VISIBILITY_TO_TIMEOUT_RATIO = 6

ACM_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")


def is_log_retention(days: int) -> bool:
    return days in LOG_RETENTION_DAYS


def check_log_retention(days: int, what: str = "log retention") -> None:
    if not is_log_retention(days):
        raise ValueError(f"{what} {days} days is not a CloudWatch value; use one of {LOG_RETENTION_DAYS}")


def kubernetes_version_problem(text: str) -> str | None:
    """Why a cluster of this Kubernetes version (major.minor) cannot run the app, or None."""
    match = re.fullmatch(r"(\d+)\.(\d+)", text)
    if match is None:
        return f"must be a major.minor version such as 1.33 (got {text!r})"
    major, minor = int(match[1]), int(match[2])
    if (major, minor) >= MIN_KUBERNETES_VERSION:
        return None
    # YAML reads an unquoted 1.30 as the number 1.3.
    hint = "; quote the version in the stack file, e.g. \"1.30\"" if minor < 10 else ""
    return f"must be 1.30 or newer: the app's preStop drain uses the sleep action (got {text}{hint})"


def principal_arns_problem(arns: Sequence[str]) -> str | None:
    """Why these cluster-admin principals cannot be given access entries, or None."""
    for arn in arns:
        if not IAM_PRINCIPAL_ARN.match(arn):
            return f"must list IAM role or user ARNs (got {arn!r})"
    # Access entries and policy associations are named after the principal's name, reduced to the
    # characters a resource name keeps: two principals that reduce alike would collide.
    names = [re.sub(r"[^a-z0-9]+", "-", arn.rsplit("/", 1)[-1].lower()).strip("-") for arn in arns]
    if len(set(names)) != len(names):
        return "lists a principal twice (or two with the same name)"
    return None


def minimum_visibility_timeout(timeout_seconds: int, batching_window_seconds: int) -> int:
    return VISIBILITY_TO_TIMEOUT_RATIO * timeout_seconds + batching_window_seconds
