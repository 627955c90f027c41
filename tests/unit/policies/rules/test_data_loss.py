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


# ----------------------------------------------------------------------------- the messages, word for word

DB_T = "aws:rds/instance:Instance"
CACHE_T = "aws:elasticache/replicationGroup:ReplicationGroup"
OTHER_T = "aws:lambda/function:Function"
PROTECTED_TAIL = "; it is protected, so the update fails at that step"


def test_replace_message():
    assert data_loss.replace_message(DB_T, "db", ["engine 'a' -> 'b'"], False) == (
        f"{DB_T} db would be replaced: engine 'a' -> 'b' forces a new database; the old one and its data are "
        "deleted after the new one is created"
    )
    assert data_loss.replace_message(CACHE_T, "c", ["a", "b"], True, protected=True) == (
        f"{CACHE_T} c would be replaced: a and b force a new cache; the old one and its cached data and sessions "
        f"are deleted before the new one exists (deleteBeforeReplace){PROTECTED_TAIL}"
    )
    assert data_loss.replace_message(OTHER_T, "q", [], False) == (
        f"{OTHER_T} q would be replaced: the provider replaces the resource; the old one and its data are deleted "
        "after the new one is created"
    )


def test_delete_message():
    assert data_loss.delete_message(DB_T, "db", "it left the program") == (
        f"{DB_T} db would be deleted: it left the program; the database and its data are deleted"
    )
    assert data_loss.delete_message(OTHER_T, "q", "why", protected=True) == (
        f"{OTHER_T} q would be deleted: why; the resource and its data are deleted{PROTECTED_TAIL}"
    )


def test_moved_message():
    assert data_loss.moved_message(CACHE_T, "c", "urn:old", "urn:new") == (
        f"{CACHE_T} c would be deleted and created anew: its URN changes from urn:old to urn:new and no alias "
        "names the old one; the new cache starts empty and the old one and its cached data and sessions are deleted"
    )
    assert data_loss.moved_message(OTHER_T, "q", "urn:old", "urn:new", protected=True) == (
        f"{OTHER_T} q would be deleted and created anew: its URN changes from urn:old to urn:new and no alias "
        f"names the old one; the new resource starts empty and the old one and its data are deleted{PROTECTED_TAIL}"
    )


def test_retained_message():
    assert data_loss.retained_message(DB_T, "db", "it left the program") == (
        f"{DB_T} db would be left behind, no longer managed (it left the program; retainOnDelete keeps the "
        "database and its data in the cloud, outside the stack)"
    )
    assert data_loss.retained_message(OTHER_T, "q", "w") == (
        f"{OTHER_T} q would be left behind, no longer managed (w; retainOnDelete keeps the resource and its data "
        "in the cloud, outside the stack)"
    )


def test_values_are_shown_short():
    show = data_loss._show
    assert show(None) == "(unset)"
    assert show("x") == "'x'"
    assert show({"a": [1, True]}) == '{"a": [1, true]}'
    assert show(object) == json_str(object)
    long_text = json_str(["x" * 56])  # 60 characters: kept; 61 are cut
    assert len(long_text) == 60 and show(["x" * 56]) == long_text
    assert show(["x" * 57]) == '["' + "x" * 55 + "..."


def json_str(value):
    import json

    return json.dumps(value, default=str)


def test_lookup_walks_dotted_paths():
    lookup = data_loss._lookup
    assert lookup({"a": {"b": 1}}, "a.b") == (True, 1)
    assert lookup({"a": {"b": None}}, "a.b") == (True, None)
    assert lookup({"a": {}}, "a.b") == (False, None)
    assert lookup({"a": "x"}, "a.b") == (False, None)
    assert lookup({"a": UNKNOWN}, "a.b") == (True, UNKNOWN)
    assert lookup({"a": data_loss.UNKNOWN_SENTINEL}, "a.b") == (True, UNKNOWN)
    assert lookup(UNKNOWN, "a") == (True, UNKNOWN)


def test_not_applicable_reasons_say_where_it_is_judged():
    policy = RULES_BY_NAME["no-data-loss-on-change"].policy()
    with pytest.raises(_NotApplicableError) as raised:
        policy.validate(StackValidationArgs([], None, {}), lambda message, urn=None: None)
    assert raised.value.reason == (
        "changes are judged by the offline gate (--preview, --against-state, --against-rev): the analyzer is not "
        "told whether a resource is created, replaced or deleted"
    )
    with pytest.raises(_NotApplicableError) as raised:
        _protected_violations(False, {})
    assert raised.value.reason == "this stack's policy config does not ask for protected stateful resources"


def test_retain_on_delete_in_the_options_counts_as_protection():
    from types import SimpleNamespace

    policy = RULES_BY_NAME["stateful-resources-protected"].policy()
    found: list[str] = []
    for retain in (True, False):
        opts = SimpleNamespace(protect=False, retain_on_delete=retain)
        args = ResourceValidationArgs(RDS, dict(DB), "urn:x", "app-db", opts, None, {"required": True}, {})
        policy.validate(args, lambda message, urn=None: found.append(message))
    assert len(found) == 1


def test_protection_reads_the_inputs_of_a_statefulset():
    claims = {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]}}
    sts = "kubernetes:apps/v1:StatefulSet"
    assert data_loss.check_protected(sts, claims, False, False, {"required": True}) != []
    assert data_loss.check_protected(sts, {"spec": {}}, False, False, {"required": True}) == []
    assert data_loss.check_protected(RDS, dict(DB), False, False, {}) == []
    policy = RULES_BY_NAME["stateful-resources-protected"].policy()
    found: list[str] = []
    args = ResourceValidationArgs(sts, claims, "urn:x", "s", _options(False), None, {"required": True}, {})
    policy.validate(args, lambda message, urn=None: found.append(message))
    assert len(found) == 1


def test_lookup_walks_the_rest_of_the_path_in_each_item():
    lookup = data_loss._lookup
    inputs = {"a": {"b": [{"c": {"d": 1}}, {"c": {}}, {"c": {"d": 2}}]}}
    assert lookup(inputs, "a.b[].c.d") == (True, [1, None, 2])
    assert lookup({"b": [{"c": {"d": 1}}]}, "b[].c.d") == (True, [1])


def test_an_item_not_known_makes_the_items_values_not_known(monkeypatch):
    assert data_loss._lookup({"shapes": [{"corner": "x"}, UNKNOWN]}, "shapes[].corner") == (True, UNKNOWN)
    assert data_loss._lookup({"shapes": [None, {"corner": "x"}]}, "shapes[].corner") == (True, [None, "x"])
    widget = "test:index/widget:Widget"
    monkeypatch.setitem(
        data_loss.REPLACE_ON, widget, {"replaceOn": ["shapes[].corner"], "autoNamed": [], "replaceIf": {}}
    )
    old = {"shapes": [{"corner": "round"}, {"corner": "square"}]}
    new = {"shapes": [{"corner": "round"}, UNKNOWN]}
    assert data_loss.replace_forcing_changes(widget, old, new) == ([], ["shapes[].corner"])


AB = "aws:test/widget:Widget"


@pytest.mark.parametrize(
    ("first_old", "first_new", "first"),
    [
        ({"a": UNKNOWN}, {"a": "x"}, ([], ["a"])),  # not judged
        ({"a": "x"}, {"a": UNKNOWN}, (["a 'x' -> (known after the update)"], [])),  # replaced on a computed value
        ({"a": "x"}, {}, ([], [])),  # an auto-name left out keeps the prior one
        ({}, {"a": "y"}, (["a (auto-named) -> 'y'"], [])),  # a name given where the provider made one
        ({"a": "x"}, {"a": "x"}, ([], [])),
    ],
    ids=["old-unknown", "new-unknown", "auto-name-kept", "auto-name-given", "same"],
)
def test_each_replace_forcing_path_is_judged_whatever_the_one_before(monkeypatch, first_old, first_new, first):
    monkeypatch.setitem(data_loss.REPLACE_ON, AB, {"replaceOn": ["a", "b"], "autoNamed": ["a"], "replaceIf": {}})
    changes, unknown = data_loss.replace_forcing_changes(AB, {**first_old, "b": 1}, {**first_new, "b": 2})
    assert ([c.describe() for c in changes], unknown) == ([*first[0], "b 1 -> 2"], first[1])


def test_each_conditional_path_is_noted_whatever_the_one_before(monkeypatch):
    where = "CustomizeDiff customdiff.ForceNewIf"
    entry = {"replaceOn": [], "autoNamed": [], "replaceIf": {"x": where, "y": where}}
    monkeypatch.setitem(data_loss.REPLACE_ON, AB, entry)
    assert data_loss.conditional_changes(AB, {"y": 1}, {"y": 2}) == [
        f"y changes: the provider replaces the resource when its condition holds ({where}); not judged"
    ]
