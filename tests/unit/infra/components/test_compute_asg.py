"""The autoscaling group's launch template follows every input that reaches an instance: the image, the
parameter it reads and each variable of the app's environment (its digest is in the user data), so an
instance refresh rolls any of them out."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from infra.components.compute_asg import ComputeAsg, ComputeAsgArgs
from infra.lib import app_env, user_data
from tests.unit.infra.conftest import APP_ENV, run_component

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "ab" * 32


def template_user_data(**changes: Any) -> str:
    base: dict[str, Any] = {
        "region": "us-east-1", "subnet_ids": ["a", "b"], "security_group_ids": ["s"], "target_group_arn": "tg",
        "env_parameter_name": "/stateless-stack/prod/app/environment", "env_parameter_arn": "arn:p",
        "secret_arns": ["arn:s"], "bucket_arn": "arn:b", "queue_arn": "arn:q", "image": IMAGE,
        "repository_arn": "arn:r", "signing_key_arn": "arn:k", "environment": dict(APP_ENV),
    }
    run = run_component(lambda: ComputeAsg("app", ComputeAsgArgs(**{**base, **changes})), region="us-east-1")
    return base64.b64decode(run.one("aws:ec2/launchTemplate:LaunchTemplate").inputs["userData"]).decode()


def test_the_test_environment_is_the_whole_contract() -> None:
    assert set(APP_ENV) == set(app_env.APP_ENV_KEYS)


def test_the_user_data_names_the_digest_of_the_environment() -> None:
    script = template_user_data()
    assert f"# app environment sha256:{user_data.environment_digest(APP_ENV)}\n" in script
    # The digest says that something changed, never what: no value of the environment is in the script.
    assert APP_ENV["APP_DATABASE_HOST"] not in script and APP_ENV["APP_DATABASE_SECRET_ARN"] not in script


@pytest.mark.parametrize("key", sorted(app_env.APP_ENV_KEYS))
def test_changing_any_environment_variable_makes_a_new_template_version(key: str) -> None:
    before = template_user_data()
    after = template_user_data(environment={**APP_ENV, key: APP_ENV[key] + "0"})
    assert after != before


def test_the_same_environment_keeps_the_template() -> None:
    assert template_user_data() == template_user_data(environment=dict(reversed(list(APP_ENV.items()))))


@pytest.mark.parametrize(("field", "value"), [("image", IMAGE.replace("ab", "cd")),
                                              ("env_parameter_name", "/stateless-stack/prod/app/other")])
def test_image_and_parameter_changes_make_a_new_template_version(field: str, value: str) -> None:
    assert template_user_data(**{field: value}) != template_user_data()
