"""The mock engine's answers for the resource types and invokes the program added (image build, session
context, name prefixes) are as strict as the providers they stand in for."""

from __future__ import annotations

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
