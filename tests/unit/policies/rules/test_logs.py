"""log-group-retention and service-log-groups-managed."""

from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE

from policies.rules.logs import LOG_GROUP_RETENTION, SERVICE_LOG_GROUPS_MANAGED

GROUP_T = "aws:cloudwatch/logGroup:LogGroup"
RDS_T = "aws:rds/instance:Instance"
AURORA_T = "aws:rds/cluster:Cluster"
EKS_T = "aws:eks/cluster:Cluster"


def test_retention(via_policy):
    assert via_policy(LOG_GROUP_RETENTION, GROUP_T, {"name": "/app", "retentionInDays": 30}) == []
    assert via_policy(LOG_GROUP_RETENTION, GROUP_T, {"name": "/app"}) == [
        "retentionInDays is not set: the log group keeps every event forever"
    ]
    assert via_policy(LOG_GROUP_RETENTION, GROUP_T, {"name": "/app", "retentionInDays": 0}) == [
        "retentionInDays is 0: the log group keeps every event forever"
    ]
    assert via_policy(LOG_GROUP_RETENTION, GROUP_T, {"retentionInDays": UNKNOWN_NUMBER_VALUE}) == []
    assert LOG_GROUP_RETENTION.enforcement.value == "advisory"


DB = {"identifier": "shop-db-1a2b", "engine": "postgres", "enabledCloudwatchLogsExports": ["postgresql", "upgrade"]}


def _groups(*names):
    return [(GROUP_T, f"g{i}", {"name": n, "retentionInDays": 30}, {}) for i, n in enumerate(names)]


def test_rds_exports_into_groups_of_the_stack(via_stack_policy):
    stack = [
        *_groups("/aws/rds/instance/shop-db-1a2b/postgresql", "/aws/rds/instance/shop-db-1a2b/upgrade"),
        (RDS_T, "db", DB, {}),
    ]
    assert via_stack_policy(SERVICE_LOG_GROUPS_MANAGED, stack) == []
    assert SERVICE_LOG_GROUPS_MANAGED.enforcement.value == "advisory"


def test_rds_export_without_its_group(via_stack_policy):
    stack = [*_groups("/aws/rds/instance/shop-db-1a2b/postgresql"), (RDS_T, "db", DB, {})]
    assert via_stack_policy(SERVICE_LOG_GROUPS_MANAGED, stack) == [
        (
            "urn:pulumi:t::p::aws:rds/instance:Instance::db",
            "RDS instance db writes logs to /aws/rds/instance/shop-db-1a2b/upgrade, which the stack does not create: "
            "the service creates it without retention, and it outlives the resource; declare the log group (with "
            "retentionInDays) before the resource",
        )
    ]


def test_aurora_and_eks(via_stack_policy):
    stack = [
        (AURORA_T, "orders", {"clusterIdentifier": "orders-9f", "enabledCloudwatchLogsExports": ["postgresql"]}, {}),
        (EKS_T, "k8s", {"name": "shop-77aa", "enabledClusterLogTypes": ["api", "audit"]}, {}),
    ]
    assert [m.split(",")[0] for _, m in via_stack_policy(SERVICE_LOG_GROUPS_MANAGED, stack)] == [
        "Aurora cluster orders writes logs to /aws/rds/cluster/orders-9f/postgresql",
        "EKS cluster k8s writes logs to /aws/eks/shop-77aa/cluster",
    ]
    covered = [*_groups("/aws/rds/cluster/orders-9f/postgresql", "/aws/eks/shop-77aa/cluster"), *stack]
    assert via_stack_policy(SERVICE_LOG_GROUPS_MANAGED, covered) == []


def test_nothing_exported_or_not_known_yet(via_stack_policy):
    quiet = {**DB, "enabledCloudwatchLogsExports": []}
    assert via_stack_policy(SERVICE_LOG_GROUPS_MANAGED, [(RDS_T, "db", quiet, {})]) == []
    assert (
        via_stack_policy(SERVICE_LOG_GROUPS_MANAGED, [(RDS_T, "db", {**DB, "identifier": UNKNOWN_STRING_VALUE}, {})])
        == []
    )
    unknown_group = [(GROUP_T, "g", {"name": UNKNOWN_STRING_VALUE}, {}), (RDS_T, "db", DB, {})]
    assert via_stack_policy(SERVICE_LOG_GROUPS_MANAGED, unknown_group) == []


def test_two_missing_groups_are_named_together(via_stack_policy):
    [(_, message)] = via_stack_policy(SERVICE_LOG_GROUPS_MANAGED, [(RDS_T, "db", DB, {})])
    assert message.startswith(
        "RDS instance db writes logs to /aws/rds/instance/shop-db-1a2b/postgresql, "
        "/aws/rds/instance/shop-db-1a2b/upgrade, which the stack does not create"
    )


def test_odd_identifiers_and_log_type_lists_are_not_judged(via_stack_policy):
    odd = [
        (RDS_T, "empty-id", {**DB, "identifier": ""}, {}),
        (RDS_T, "number-id", {**DB, "identifier": 5}, {}),
        (RDS_T, "exports-not-a-list", {**DB, "enabledCloudwatchLogsExports": "postgresql"}, {}),
        (EKS_T, "empty-name", {"name": "", "enabledClusterLogTypes": ["api"]}, {}),
        (EKS_T, "number-name", {"name": 7, "enabledClusterLogTypes": ["api"]}, {}),
        (EKS_T, "no-log-types", {"name": "quiet-1", "enabledClusterLogTypes": []}, {}),
        (EKS_T, "unknown-log-type", {"name": "later-1", "enabledClusterLogTypes": ["api", UNKNOWN_STRING_VALUE]}, {}),
    ]
    assert via_stack_policy(SERVICE_LOG_GROUPS_MANAGED, odd) == []
