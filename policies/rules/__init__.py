"""The stateless-guard rules, grouped by domain. `ALL_RULES` is the pack's rule list, in report order."""

from __future__ import annotations

from . import (
    api,
    autoscaling,
    components,
    containers,
    data_loss,
    data_stores,
    eks,
    iam,
    instance_state,
    kms,
    kubernetes,
    lambda_,
    logs,
    network,
    registry,
    release,
    s3,
    secrets,
    stickiness,
    userdata,
)
from ._core import UNKNOWN, Rule, StackResource, plain

ALL_RULES: tuple[Rule, ...] = (
    *instance_state.RULES,
    *stickiness.RULES,
    *kubernetes.RULES,
    *containers.RULES,
    *userdata.RULES,
    *lambda_.RULES,
    *secrets.RULES,
    *data_stores.RULES,
    *s3.RULES,
    *network.RULES,
    *autoscaling.RULES,
    *api.RULES,
    *iam.RULES,
    *eks.RULES,
    *kms.RULES,
    *registry.RULES,
    *release.RULES,
    *logs.RULES,
    *components.RULES,
    *data_loss.RULES,
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_NAME", "UNKNOWN", "Rule", "StackResource", "plain"]
