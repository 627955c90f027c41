"""no-plaintext-secrets (policies/rules/secrets.py)."""

import base64
import json

import pytest

from policies.rules.secrets import NO_PLAINTEXT_SECRETS
from tests.unit.policies.rules.test_lambda_ import FN, FUNCTION


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DB_PASSWORD", "hunter2", "DB_PASSWORD is set to a literal value"),
        ("STRIPE_API_KEY", "sk_live_abc", "STRIPE_API_KEY is set to a literal value"),
        ("JWT_SECRET", "s3cr3t-s3cr3t", "JWT_SECRET is set to a literal value"),
        ("GITHUB_TOKEN", "ghp_xxxxxxxxxxxxxxxxxxxx", "GITHUB_TOKEN is set to a literal value"),
        ("UPSTREAM", "AKIAIOSFODNN7EXAMPLE", "UPSTREAM holds an AWS access key id"),
        ("DATABASE_URL", "postgres://app:hunter2@db:5432/app", "DATABASE_URL embeds a password in a URL"),
    ],
)
def test_plaintext_lambda_environment(name, value, message, via_policy):
    props = {**FUNCTION, "environment": {"variables": {**FUNCTION["environment"]["variables"], name: value}}}
    assert via_policy(NO_PLAINTEXT_SECRETS, FN, props) == [
        f"environment variable: {message}; pass a Secrets Manager/SSM reference and read it at runtime"
    ]


def test_database_url_without_password_passes():
    props = {"environment": {"variables": {"DATABASE_URL": "postgres://db.internal:5432/app"}}}
    assert NO_PLAINTEXT_SECRETS.evaluate(FN, props) == []


DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _deployment(env):
    return {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:1", "env": env}]}}}}


def test_kubernetes_env(via_policy):
    ok = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {"name": "LOG_LEVEL", "value": "info"},
    ]
    assert via_policy(NO_PLAINTEXT_SECRETS, DEPLOYMENT, _deployment(ok)) == []
    bad = [*ok, {"name": "REDIS_AUTH_TOKEN", "value": "abc123abc123"}]
    assert via_policy(NO_PLAINTEXT_SECRETS, DEPLOYMENT, _deployment(bad)) == [
        "container web env: REDIS_AUTH_TOKEN is set to a literal value; pass a Secrets Manager/SSM reference and "
        "read it at runtime"
    ]


@pytest.mark.parametrize("key", ["initContainers", "ephemeralContainers"])
def test_kubernetes_env_of_init_and_ephemeral_containers(key, via_policy):
    env = [{"name": "REDIS_AUTH_TOKEN", "value": "abc123abc123"}]
    props = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "web", "image": "web:1"}],
                    key: [{"name": "setup", "image": "tools:1", "env": env}],
                }
            }
        }
    }
    assert via_policy(NO_PLAINTEXT_SECRETS, DEPLOYMENT, props) == [
        "container setup env: REDIS_AUTH_TOKEN is set to a literal value; pass a Secrets Manager/SSM reference and "
        "read it at runtime"
    ]


def test_ecs_container_definitions(via_policy):
    defs = [
        {
            "name": "web",
            "environment": [{"name": "ADMIN_PASSWORD", "value": "letmein"}],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:..."}],
        }
    ]
    assert via_policy(
        NO_PLAINTEXT_SECRETS, "aws:ecs/taskDefinition:TaskDefinition", {"containerDefinitions": json.dumps(defs)}
    ) == [
        "container environment: ADMIN_PASSWORD is set to a literal value; pass a Secrets Manager/SSM reference and "
        "read it at runtime"
    ]


def test_user_data_secrets(via_policy):
    ok = (
        "#!/bin/bash\nDB_PASSWORD=$(aws secretsmanager get-secret-value --secret-id db --query SecretString)\n"
        'TOKEN=`curl -s -X PUT "http://169.254.169.254/latest/api/token"`\n'
    )
    assert via_policy(NO_PLAINTEXT_SECRETS, "aws:ec2/instance:Instance", {"userData": ok}) == []
    bad = "#!/bin/bash\nexport DB_PASSWORD=hunter2\nexport AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"
    lt_props = {"userData": base64.b64encode(bad.encode()).decode()}
    assert via_policy(NO_PLAINTEXT_SECRETS, "aws:ec2/launchTemplate:LaunchTemplate", lt_props) == [
        "user data contains an AWS access key id (AKIAIOSF...)",
        "user data: DB_PASSWORD is set to a literal value; fetch it from Secrets Manager/SSM at boot",
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HIBP_PASSWORD_API", "https://api.pwnedpasswords.com/range/"),
        ("AUTH_TOKEN_ENDPOINTS", "https://login.example.com/oauth2/token?grant_type=client_credentials"),
        ("DB_PASSWORD", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"),
        ("API_KEY", "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/app/key"),
        ("JWT_SECRET", "/stateless/prod/jwt"),
    ],
)
def test_a_secret_named_reference_is_not_a_plaintext_secret(name, value, via_policy):
    # A credential-free URL, an ARN or an SSM path points at a secret, whatever the variable's name.
    props = {**FUNCTION, "environment": {"variables": {**FUNCTION["environment"]["variables"], name: value}}}
    assert via_policy(NO_PLAINTEXT_SECRETS, FN, props) == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WEBHOOK_TOKEN", "https://hooks.example.com/in?token=abc123", "WEBHOOK_TOKEN is set to a literal value"),
        ("GIT_TOKEN", "https://ghp_abcdef@github.com/org/repo.git", "GIT_TOKEN is set to a literal value"),
        ("SEARCH_URL", "https://elastic:changeit@search:9200", "SEARCH_URL embeds a password in a URL"),
    ],
)
def test_a_url_carrying_a_credential_is_still_a_plaintext_secret(name, value, message, via_policy):
    props = {**FUNCTION, "environment": {"variables": {**FUNCTION["environment"]["variables"], name: value}}}
    assert via_policy(NO_PLAINTEXT_SECRETS, FN, props) == [
        f"environment variable: {message}; pass a Secrets Manager/SSM reference and read it at runtime"
    ]


@pytest.mark.parametrize("name", ["REDIS_PWD", "SMTP_PASS", "DB_PW", "PWD_ADMIN", "MYSQL_ROOT_PASS", "redis_pwd"])
def test_short_password_names_are_secret_shaped(name):
    assert NO_PLAINTEXT_SECRETS.evaluate(FN, {"environment": {"variables": {name: "hunter2"}}}) == [
        f"environment variable: {name} is set to a literal value; pass a Secrets Manager/SSM reference and read it "
        "at runtime"
    ]


@pytest.mark.parametrize("name", ["COMPASS_HEADING", "BYPASS_CACHE", "PASSENGER_LIMIT", "PWDX", "PASSPORT_COUNTRY"])
def test_words_containing_pass_are_not_secret_shaped(name):
    assert NO_PLAINTEXT_SECRETS.evaluate(FN, {"environment": {"variables": {name: "north"}}}) == []


def test_short_password_name_in_an_ecs_container_definition():
    definitions = json.dumps([{"name": "app", "image": "app:1", "environment": [{"name": "REDIS_PWD", "value": "x1"}]}])
    assert NO_PLAINTEXT_SECRETS.evaluate(
        "aws:ecs/taskDefinition:TaskDefinition", {"containerDefinitions": definitions}
    ) == [
        "container environment: REDIS_PWD is set to a literal value; pass a Secrets Manager/SSM reference and read it "
        "at runtime"
    ]


UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
ECS = "aws:ecs/taskDefinition:TaskDefinition"


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (FN, {"environment": {"variables": UNKNOWN_VALUE}}),
        (FN, {"environment": {"variables": {"LOG_LEVEL": "info", "DB_PASSWORD": UNKNOWN_VALUE}}}),
        (ECS, {"containerDefinitions": UNKNOWN_VALUE}),
        (ECS, {"containerDefinitions": '[{"name": "app", "environment": [' + UNKNOWN_VALUE}),
        (
            ECS,
            {
                "containerDefinitions": json.dumps(
                    [{"name": "a", "environment": [{"name": "REDIS_PWD", "value": UNKNOWN_VALUE}]}]
                )
            },
        ),
        (DEPLOYMENT, _deployment([{"name": "API_TOKEN", "value": UNKNOWN_VALUE}])),
        ("aws:ec2/launchTemplate:LaunchTemplate", {"userData": UNKNOWN_VALUE}),
    ],
)
def test_values_not_known_are_not_judged(resource_type, props, via_policy):
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError):
        via_policy(NO_PLAINTEXT_SECRETS, resource_type, props)


def test_unknown_values_of_names_that_are_not_secrets_pass(via_policy):
    props = {"environment": {"variables": {"LOG_LEVEL": UNKNOWN_VALUE, "DB_PASSWORD_ARN": UNKNOWN_VALUE}}}
    assert via_policy(NO_PLAINTEXT_SECRETS, FN, props) == []


def test_a_literal_is_reported_beside_an_unknown_secret(via_policy):
    props = {"environment": {"variables": {"DB_PASSWORD": UNKNOWN_VALUE, "API_KEY": "abc123"}}}
    assert via_policy(NO_PLAINTEXT_SECRETS, FN, props) == [
        "environment variable: API_KEY is set to a literal value; pass a Secrets Manager/SSM reference and read it "
        "at runtime"
    ]


def test_a_value_with_an_unknown_spliced_in_is_not_a_literal():
    from policies.rules.secrets import secret_literal

    assert secret_literal("DB_PASSWORD", "pre-" + UNKNOWN_VALUE) is None
    assert secret_literal("DB_PASSWORD", "pre-known") == "DB_PASSWORD is set to a literal value"


def _lambda_env(variables):
    return {"environment": {"variables": variables}}


def _literal(name):
    return (
        f"environment variable: {name} is set to a literal value; pass a Secrets Manager/SSM reference and read it "
        "at runtime"
    )


def test_default_enforcement():
    assert NO_PLAINTEXT_SECRETS.enforcement.value == "mandatory"


@pytest.mark.parametrize(
    ("value", "flagged"),
    [
        ("true", False),
        ("FALSE", False),
        ("12", False),
        ("1.5", False),
        ("1.2.3", True),
        (" hunter2 ", True),
        # Not a URL: a scheme without a host, or a host that does not parse.
        ("pass:word", True),
        ("http://[db.internal", True),
        ("http://db.internal/app?token=abc", True),
        ("http://db.internal/app?token=", False),
        ("http://db.internal/app?token=%20", False),
        ("http://db.internal/app?region=eu", False),
        ("http://db.internal/a b", True),
    ],
)
def test_which_values_of_a_secret_name_are_literals(value, flagged, via_policy):
    expected = [_literal("DB_PASSWORD")] if flagged else []
    assert via_policy(NO_PLAINTEXT_SECRETS, FN, _lambda_env({"DB_PASSWORD": value})) == expected


def test_a_url_whose_password_is_a_shell_expansion_passes(via_policy):
    props = _lambda_env({"DATABASE_URL": "postgres://app:$DB_PASSWORD@db:5432/app"})
    assert via_policy(NO_PLAINTEXT_SECRETS, FN, props) == []


@pytest.mark.parametrize(
    ("resource_type", "props", "path"),
    [
        (FN, _lambda_env(UNKNOWN_VALUE), "environment.variables"),
        ("aws:ec2/instance:Instance", {"userData": "#!/bin/bash\nX=" + UNKNOWN_VALUE}, "userData"),
        (ECS, {"containerDefinitions": UNKNOWN_VALUE}, "containerDefinitions"),
        (ECS, {"containerDefinitions": "[" + UNKNOWN_VALUE}, "containerDefinitions"),
        (FN, _lambda_env({"LOG_LEVEL": "info", "DB_PASSWORD": UNKNOWN_VALUE}), "DB_PASSWORD"),
    ],
)
def test_what_is_not_known_is_named(resource_type, props, path, via_policy):
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError) as raised:
        via_policy(NO_PLAINTEXT_SECRETS, resource_type, props)
    assert raised.value.props == [path]


def test_definitions_that_are_known_but_unreadable_pass(via_policy):
    # A document that holds an unknown but still parses is judged on what it says.
    defs = json.dumps([{"name": "a", "image": UNKNOWN_VALUE, "environment": [{"name": "LOG_LEVEL", "value": "x"}]}])
    assert via_policy(NO_PLAINTEXT_SECRETS, ECS, {"containerDefinitions": defs}) == []
    assert via_policy(NO_PLAINTEXT_SECRETS, ECS, {"containerDefinitions": "not json"}) == []
    assert via_policy(NO_PLAINTEXT_SECRETS, ECS, {}) == []
    assert via_policy(NO_PLAINTEXT_SECRETS, FN, {}) == []
    assert via_policy(NO_PLAINTEXT_SECRETS, FN, _lambda_env(["DB_PASSWORD=hunter2"])) == []


def test_user_data_keeps_reading_after_an_access_key_assignment(via_policy):
    script = (
        "#!/bin/bash\nexport AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nexport AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"
        "export DB_PASSWORD=hunter2\nexport DB_PASSWORD=hunter2\n"
    )
    assert via_policy(NO_PLAINTEXT_SECRETS, "aws:ec2/instance:Instance", {"userData": script}) == [
        "user data contains an AWS access key id (AKIAIOSF...)",
        "user data: DB_PASSWORD is set to a literal value; fetch it from Secrets Manager/SSM at boot",
    ]


def test_odd_environment_entries_are_skipped(via_policy):
    odd = ["DB_PASSWORD=hunter2", {"name": 5, "value": "hunter2"}, {"value": "hunter2"}, {"name": "DB_PASSWORD"}]
    defs = json.dumps([{"name": "web", "environment": odd}, "junk"])
    assert via_policy(NO_PLAINTEXT_SECRETS, ECS, {"containerDefinitions": defs}) == []
    assert via_policy(NO_PLAINTEXT_SECRETS, DEPLOYMENT, _deployment(odd)) == []


def test_a_container_without_a_name(via_policy):
    env = [{"name": "API_TOKEN", "value": "abc123abc123"}]
    props = {"spec": {"template": {"spec": {"containers": [{"image": "web:1", "env": env}]}}}}
    assert via_policy(NO_PLAINTEXT_SECRETS, DEPLOYMENT, props) == [
        "container ? env: API_TOKEN is set to a literal value; pass a Secrets Manager/SSM reference and read it at "
        "runtime"
    ]
