"""no-data-loss-on-change (pure functions, pack registration) and stateful-resources-protected."""

from __future__ import annotations

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.policy import _NotApplicableError

from policies.rules import RULES_BY_NAME, UNKNOWN, data_loss
from policies.rules.replacements import REPLACE_ON

RDS = "aws:rds/instance:Instance"
DB = {"identifier": "app-db-1a2b", "engine": "postgres", "storageEncrypted": True, "tags": {"team": "core"}}

REQUIRED_TYPES = {
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:docdb/cluster:Cluster",
    "aws:neptune/cluster:Cluster",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/cluster:Cluster",
    "aws:elasticache/serverlessCache:ServerlessCache",
    "aws:memorydb/cluster:Cluster",
    "aws:s3/bucket:Bucket",
    "aws:sqs/queue:Queue",
    "aws:efs/fileSystem:FileSystem",
    "aws:ebs/volume:Volume",
    "aws:dynamodb/table:Table",
    "aws:kinesis/stream:Stream",
    "aws:msk/cluster:Cluster",
    "aws:opensearch/domain:Domain",
    "aws:kms/key:Key",
    "aws:secretsmanager/secret:Secret",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:apps/v1:StatefulSet",
}


def test_the_documented_stateful_types_are_all_covered_and_have_a_replace_table_entry():
    assert set(data_loss.STATEFUL) >= REQUIRED_TYPES
    assert set(data_loss.STATEFUL) <= set(REPLACE_ON)


def test_a_statefulset_is_stateful_only_with_claim_templates():
    sts = "kubernetes:apps/v1:StatefulSet"
    assert not data_loss.is_stateful(sts, {"spec": {"replicas": 2}})
    assert data_loss.is_stateful(sts, {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]}})
    assert not data_loss.is_stateful("aws:cloudwatch/logGroup:LogGroup")


def test_the_same_inputs_and_a_tag_change_force_nothing():
    assert data_loss.replace_forcing_changes(RDS, DB, dict(DB)) == ([], [])
    assert data_loss.replace_forcing_changes(RDS, DB, {**DB, "tags": {"team": "platform"}}) == ([], [])


def test_a_changed_identifier_forces_a_replacement():
    changes, unknown = data_loss.replace_forcing_changes(RDS, DB, {**DB, "identifier": "app-db-3c4d"})
    assert [c.describe() for c in changes] == ["identifier 'app-db-1a2b' -> 'app-db-3c4d'"]
    assert unknown == []


def test_an_auto_named_input_left_out_keeps_the_prior_name_but_a_new_explicit_name_replaces():
    without = {k: v for k, v in DB.items() if k != "identifier"}
    assert data_loss.replace_forcing_changes(RDS, DB, without) == ([], [])
    changes, _ = data_loss.replace_forcing_changes(RDS, without, DB)
    assert [c.describe() for c in changes] == ["identifier (auto-named) -> 'app-db-1a2b'"]


def test_a_non_auto_named_input_left_out_falls_back_to_the_default():
    queue = "aws:sqs/queue:Queue"
    assert data_loss.replace_forcing_changes(queue, {"fifoQueue": False}, {}) == ([], [])
    changes, _ = data_loss.replace_forcing_changes(queue, {"fifoQueue": True}, {})
    assert [c.describe() for c in changes] == ["fifoQueue true -> (unset)"]


@pytest.mark.parametrize("unknown", [UNKNOWN, data_loss.UNKNOWN_SENTINEL, None])
def test_an_unknown_new_value_replaces_as_terraform_plans_it(unknown):
    changes, not_judged = data_loss.replace_forcing_changes(RDS, DB, {**DB, "identifier": unknown})
    assert [c.describe() for c in changes] == ["identifier 'app-db-1a2b' -> (known after the update)"]
    assert not_judged == []
    # The auto-named old value (the prior name) is replaced by a computed one too.
    without = {k: v for k, v in DB.items() if k != "identifier"}
    changes, _ = data_loss.replace_forcing_changes(RDS, without, {**without, "identifier": unknown})
    assert [c.describe() for c in changes] == ["identifier (auto-named) -> (known after the update)"]


@pytest.mark.parametrize("unknown", [UNKNOWN, data_loss.UNKNOWN_SENTINEL, None])
def test_an_unknown_old_value_or_a_kubernetes_unknown_is_not_judged(unknown):
    changes, not_judged = data_loss.replace_forcing_changes(RDS, {**DB, "identifier": unknown}, DB)
    assert (changes, not_judged) == ([], ["identifier"])
    changes, not_judged = data_loss.replace_forcing_changes(
        RDS, {**DB, "identifier": unknown}, {**DB, "identifier": unknown}
    )
    assert (changes, not_judged) == ([], ["identifier"])
    pvc = "kubernetes:core/v1:PersistentVolumeClaim"
    old = {"spec": {"storageClassName": "gp3"}}
    assert data_loss.replace_forcing_changes(pvc, old, {"spec": {"storageClassName": unknown}}) == (
        [],
        ["spec.storageClassName"],
    )


def test_nested_kubernetes_paths_are_compared():
    pvc = "kubernetes:core/v1:PersistentVolumeClaim"
    old = {"metadata": {"name": "data"}, "spec": {"storageClassName": "gp3", "accessModes": ["ReadWriteOnce"]}}
    new = {"metadata": {"name": "data"}, "spec": {"storageClassName": "io2", "accessModes": ["ReadWriteOnce"]}}
    changes, _ = data_loss.replace_forcing_changes(pvc, old, new)
    assert [c.describe() for c in changes] == ["spec.storageClassName 'gp3' -> 'io2'"]


def test_messages_say_what_is_destroyed_and_when_in_one_line():
    reasons = ["identifier 'app-db-1a2b' -> 'app-db-3c4d'"]
    assert data_loss.replace_message(RDS, "app-db", reasons, False) == (
        "aws:rds/instance:Instance app-db would be replaced: identifier 'app-db-1a2b' -> 'app-db-3c4d' forces a "
        "new database; the old one and its data are deleted after the new one is created"
    )
    assert data_loss.replace_message(RDS, "app-db", reasons, True).endswith(
        "the old one and its data are deleted before the new one exists (deleteBeforeReplace)"
    )
    assert "protected, so the update fails" in data_loss.delete_message(RDS, "app-db", "gone", protected=True)
    assert data_loss.retained_message(RDS, "app-db", "it is no longer in the program").startswith(
        "aws:rds/instance:Instance app-db would be left behind, no longer managed"
    )
    for message in (
        data_loss.replace_message(RDS, "app-db", reasons, True),
        data_loss.moved_message(RDS, "app-db", "urn:a", "urn:b"),
    ):
        assert "\n" not in message


def test_default_enforcements_are_pinned():
    assert RULES_BY_NAME["no-data-loss-on-change"].enforcement == EnforcementLevel.MANDATORY
    assert RULES_BY_NAME["stateful-resources-protected"].enforcement == EnforcementLevel.ADVISORY


def test_the_change_rule_is_not_applicable_under_the_analyzer():
    policy = RULES_BY_NAME["no-data-loss-on-change"].policy()
    args = StackValidationArgs([], None, {})
    with pytest.raises(_NotApplicableError):
        policy.validate(args, lambda message, urn=None: None)


def _options(protect: bool) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def _protected_violations(protect: bool, config: dict | None, resource_type: str = RDS) -> list[str]:
    policy = RULES_BY_NAME["stateful-resources-protected"].policy()
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, dict(DB), "urn:x", "app-db", _options(protect), None, config, {})
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def test_a_protected_database_passes_and_an_unprotected_one_is_reported_where_required():
    assert _protected_violations(True, {"required": True}) == []
    assert _protected_violations(False, {"required": True}) == [
        "this database is not protected: a destroy, a rename or a replacing change would delete it and its data "
        "without a stop"
    ]
    assert _protected_violations(False, {"required": True}, "aws:cloudwatch/logGroup:LogGroup") == []


def test_protection_is_not_applicable_where_the_stack_does_not_ask_for_it():
    with pytest.raises(_NotApplicableError):
        _protected_violations(False, {"required": False})


def test_retain_on_delete_counts_as_protection_in_the_pure_function():
    assert data_loss.check_protected(RDS, dict(DB), False, True, {"required": True}) == []


def test_paths_into_each_item_of_a_list_compare_the_items_values(monkeypatch):
    widget = "test:index/widget:Widget"  # judged on known values only, as Kubernetes
    monkeypatch.setitem(
        data_loss.REPLACE_ON, widget, {"replaceOn": ["shapes[].corner"], "autoNamed": [], "replaceIf": {}}
    )
    old = {"shapes": [{"corner": "round", "size": 1}, {"corner": "square"}]}
    assert data_loss.replace_forcing_changes(
        widget, old, {"shapes": [{"corner": "round", "size": 2}, {"corner": "square"}]}
    ) == ([], [])
    changes, unknown = data_loss.replace_forcing_changes(
        widget, old, {"shapes": [{"corner": "round"}, {"corner": "sharp"}]}
    )
    assert [c.describe() for c in changes] == ['shapes[].corner ["round", "square"] -> ["round", "sharp"]']
    assert unknown == []
    # An item without the member counts as unset; an unknown list or member is not judged.
    changes, _ = data_loss.replace_forcing_changes(widget, old, {"shapes": [{"corner": "round"}, {}]})
    assert [c.new for c in changes] == [["round", None]]
    assert data_loss.replace_forcing_changes(widget, old, {"shapes": UNKNOWN}) == ([], ["shapes[].corner"])
    assert data_loss.replace_forcing_changes(widget, old, {"shapes": [{"corner": UNKNOWN}]}) == (
        [],
        ["shapes[].corner"],
    )
    assert data_loss._lookup({"shapes": "not a list"}, "shapes[].corner") == (False, None)
    assert data_loss._lookup({"shapes": ["not an object"]}, "shapes[].corner") == (True, [None])
    assert data_loss._lookup({"shapes": [{"corner": "x"}]}, "shapes[]") == (True, [{"corner": "x"}])


def test_a_conditional_replacement_is_a_note_not_a_finding(monkeypatch):
    widget = "aws:test/widget:Widget"
    where = "CustomizeDiff customdiff.ForceNewIf"
    monkeypatch.setitem(
        data_loss.REPLACE_ON, widget, {"replaceOn": ["name"], "autoNamed": [], "replaceIf": {"transit": where}}
    )
    assert data_loss.conditional_changes(widget, {"transit": False}, {"transit": False}) == []
    assert data_loss.conditional_changes(widget, {}, {}) == []
    line = f"transit changes: the provider replaces the resource when its condition holds ({where}); not judged"
    assert data_loss.conditional_changes(widget, {"transit": False}, {"transit": True}) == [line]
    assert data_loss.conditional_changes(widget, {}, {"transit": True}) == [line]
    assert data_loss.conditional_changes(widget, {"transit": False}, {}) == [line]
    assert data_loss.conditional_changes(widget, {"transit": False}, {"transit": UNKNOWN}) == [line]
    assert data_loss.conditional_changes(widget, {"transit": UNKNOWN}, {"transit": UNKNOWN}) == [line]
    assert data_loss.conditional_changes("aws:unknown/type:Type", {"transit": 1}, {"transit": 2}) == []
    assert data_loss.replace_forcing_changes(widget, {"transit": False}, {"transit": True}) == ([], [])
