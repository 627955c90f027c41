"""The mock engine's answers for the resource types and invokes the program added (image build, session
context, name prefixes) are as strict as the providers they stand in for."""

from __future__ import annotations

import collections.abc
import re

from policies.gate.mockengine import mock_invoke, mock_outputs


def test_a_built_image_reports_a_sha256_digest_and_a_tag_at_digest_reference() -> None:
    tags = ["123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:0.1.0-abc"]
    _, state = mock_outputs("docker-build:index:Image", "img", {"tags": tags, "push": True}, "us-east-1")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", state["digest"])
    assert state["ref"] == f"{tags[0]}@{state['digest']}"
    # Other tags, other digest: compute that refers to the digest rolls when the image changes.
    _, other = mock_outputs("docker-build:index:Image", "img", {"tags": [tags[0] + "x"]}, "us-east-1")
    assert other["digest"] != state["digest"]


def test_session_context_maps_an_assumed_role_session_to_its_role() -> None:
    session = "arn:aws:sts::123456789012:assumed-role/deploy-prod/ci-run-42"
    answer = mock_invoke("aws:iam/getSessionContext:getSessionContext", {"arn": session}, "us-east-1")
    assert answer["issuerArn"] == "arn:aws:iam::123456789012:role/deploy-prod"
    user = "arn:aws:iam::123456789012:user/ci"
    assert mock_invoke("aws:iam/getSessionContext:getSessionContext", {"arn": user}, "us-east-1")["issuerArn"] == user


def test_a_name_prefix_gets_a_unique_suffix_and_never_stays_bare() -> None:
    _, state = mock_outputs("aws:cloudwatch/logGroup:LogGroup", "w-logs", {"namePrefix": "/aws/lambda/w-"},
                            "us-east-1")
    assert state["name"].startswith("/aws/lambda/w-") and state["name"] != "/aws/lambda/w-"
    assert state["arn"].endswith(f"log-group:{state['name']}")


def test_a_secret_version_has_a_version_id_that_follows_its_value() -> None:
    _, first = mock_outputs("aws:secretsmanager/secretVersion:SecretVersion", "v", {"secretString": "a"}, "us-east-1")
    _, second = mock_outputs("aws:secretsmanager/secretVersion:SecretVersion", "v", {"secretString": "b"}, "us-east-1")
    assert first["versionId"] and first["versionId"] != second["versionId"]


def _result_type(token: str) -> type:
    """The pulumi_aws result class of an invoke token: aws:ec2/getAmi:getAmi -> pulumi_aws.ec2.GetAmiResult."""
    import importlib

    _, module, function = token.split(":")
    package = module.split("/")[0]
    package = {"index": "", "lambda": "lambda_"}.get(package, package)
    mod = importlib.import_module("pulumi_aws" + (f".{package}" if package else ""))
    return getattr(mod, function[0].upper() + function[1:] + "Result")


_PLAIN = {str: str, bool: bool, int: int, float: (int, float)}


def test_every_aws_answer_has_the_shape_of_the_sdk_result_type() -> None:
    import typing

    from pulumi import _types

    from policies.gate.mockengine.answers import _AWS_INVOKES

    assert len(_AWS_INVOKES) >= 20
    for token in _AWS_INVOKES:
        fields = _types.output_type_types(_result_type(token))
        args = {"name": "/aws/service/ami-amazon-linux-latest/al2023", "domain": "example.com",
                "arn": "arn:aws:iam::123456789012:user/ci"}
        answer = mock_invoke(token, args, "eu-west-1")
        assert answer is not None and answer.get("id"), token
        for key, value in answer.items():
            assert key in fields, f"{token}: {key} is not a property of the result"
            if value is None:
                continue
            expected = fields[key]
            origin = typing.get_origin(expected)
            if expected in _PLAIN:
                assert isinstance(value, _PLAIN[expected]), f"{token}: {key}={value!r} is not {expected}"
            elif origin is not None and issubclass(origin, collections.abc.Sequence):
                assert isinstance(value, list), f"{token}: {key} is not a list"
            elif origin is not None and issubclass(origin, collections.abc.Mapping):
                assert isinstance(value, dict), f"{token}: {key} is not an object"


def test_an_invoke_without_an_answer_is_none_so_that_the_run_names_it() -> None:
    assert mock_invoke("aws:rds/getEngineVersion:getEngineVersion", {"engine": "postgres"}, "us-east-1") is None
    assert mock_invoke("digitalocean:index/getKubernetesVersions:getKubernetesVersions", {}, "nyc3") is None


def test_public_ssm_image_parameters_answer_an_ami_and_others_a_stand_in() -> None:
    ami = mock_invoke("aws:ssm/getParameter:getParameter", {"name": "/aws/service/ecs/optimized-ami/image_id"}, "x")
    assert ami is not None and ami["value"].startswith("ami-")
    other = mock_invoke("aws:ssm/getParameter:getParameter", {"name": "/team/db/host"}, "x")
    assert other is not None and other["value"] == "mock-parameter-team-db-host"
