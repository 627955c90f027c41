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
    props = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:1"}],
                                            key: [{"name": "setup", "image": "tools:1", "env": env}]}}}}
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
