"""Instance user data: configuration from SSM, no secret inline, IMDS reachable only from the host."""

import pytest

from infra.lib import user_data

ARGS = {
    "region": "eu-west-1",
    "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app-repo@sha256:" + "ab" * 32,
    "parameter_name": "/stateless-stack/prod/app/environment",
    "log_group": "prod-app-logs-1234567",
}


def test_script_reads_config_from_ssm_and_runs_the_image() -> None:
    script = user_data.render_user_data(**ARGS)
    assert script.startswith("#!/bin/bash\nset -euo pipefail\n")
    assert "aws ssm get-parameter --region eu-west-1 --name /stateless-stack/prod/app/environment" in script
    assert "docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com" in script
    assert "--network host" in script and "--read-only" in script
    assert "awslogs-group=prod-app-logs-1234567" in script
    assert script.count(ARGS["image"]) == 2
    for word in ("password=", "PASSWORD=", "secret_string", "AUTH_TOKEN"):
        assert word not in script


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("region", "us-east-1; rm -rf /"),
        ("image", "repo:tag$(id)"),
        ("image", "1.dkr.ecr.eu-west-1.amazonaws.com/r@sha256:abc"),
        ("parameter_name", "no-leading-slash"),
        ("log_group", "group name"),
    ],
)
def test_unsafe_values_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        user_data.render_user_data(**{**ARGS, field: value})


def test_the_environment_digest_is_stamped_into_the_script_and_follows_every_value() -> None:
    env = {"APP_PORT": "8000", "APP_REDIS_URL": "rediss://a:6379"}
    digest = user_data.environment_digest(env)
    script = user_data.render_user_data(**ARGS, environment_digest=digest)
    assert script.startswith(f"#!/bin/bash\n# app environment sha256:{digest}\nset -euo pipefail\n")
    # Key order does not matter; any value or key change does.
    assert user_data.environment_digest(dict(reversed(list(env.items())))) == digest
    assert user_data.environment_digest({**env, "APP_PORT": "8001"}) != digest
    assert user_data.environment_digest({**env, "APP_NEW": "x"}) != digest
    with pytest.raises(ValueError, match="unsafe"):
        user_data.render_user_data(**ARGS, environment_digest="abc; reboot")
