"""The image repository: built image in the first stack, a given digest in a promoted one, and its
contents deleted with it only in a disposable stack."""

from __future__ import annotations

import pytest

from infra.components.registry import ImageRepository, ImageRepositoryArgs
from tests.unit.infra.conftest import resolve, run_component

TOKEN = "aws:ecr/getAuthorizationToken:getAuthorizationToken"

DIGEST = "sha256:" + "7a" * 32


def test_a_promoted_repository_builds_and_logs_in_to_nothing() -> None:
    run = run_component(lambda: ImageRepository("img", ImageRepositoryArgs(image_label="1.0", image_digest=DIGEST)),
                        region="us-east-1")
    assert run.of_type("docker-build:index:Image") == []
    # Under these mocks an invoke nobody allowed fails the run: a promoted stack never asks for a token.
    assert TOKEN not in run.invokes
    repo = run.one("aws:ecr/repository:Repository")
    assert resolve(run.component.image) == f"{resolve(run.component.repository_url)}@{DIGEST}"
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE" and not repo.inputs.get("forceDelete")


def test_the_first_stack_builds_and_a_disposable_one_force_deletes() -> None:
    run = run_component(lambda: ImageRepository("img", ImageRepositoryArgs(image_label="1.0", force_delete=True)),
                        region="us-east-1", invokes=frozenset({TOKEN}))
    assert TOKEN in run.invokes
    assert len(run.of_type("docker-build:index:Image")) == 1
    assert run.one("aws:ecr/repository:Repository").inputs["forceDelete"] is True


@pytest.mark.parametrize("digest", ["latest", "sha256:abc", "sha512:" + "7a" * 64, DIGEST.upper()])
def test_a_digest_that_is_not_one_is_refused(digest: str) -> None:
    with pytest.raises(ValueError, match="image_digest must be sha256"):
        ImageRepositoryArgs(image_label="1.0", image_digest=digest)
