"""Registry: the ECR repository the app image is pushed to and every compute mode pulls from.

Creates: an ECR repository (scan on push, immutable tags, encrypted, never force-deleted) and a
lifecycle policy that expires untagged layers and keeps the most recent tagged images.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.lib import iam

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True, kw_only=True)
class ImageRepositoryArgs:
    image_tag: str
    keep_tagged_images: int = 30
    untagged_expiry_days: int = 7

    def __post_init__(self) -> None:
        if not _TAG.match(self.image_tag):
            raise ValueError(f"{self.image_tag!r} is not a container image tag")
        if self.keep_tagged_images < 1 or self.untagged_expiry_days < 1:
            raise ValueError("keep_tagged_images and untagged_expiry_days must be at least 1")


class ImageRepository(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    image: pulumi.Output[str]

    def __init__(self, name: str, args: ImageRepositoryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:registry:ImageRepository", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        repo = aws.ecr.Repository(
            f"{name}-repo",
            # A tag always names the same image, so a rollback or a new instance runs exactly
            # what was tested.
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")],
            force_delete=False,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repo.name,
            policy=json.dumps(
                iam.ecr_lifecycle_policy(keep_tagged=args.keep_tagged_images, untagged_days=args.untagged_expiry_days)
            ),
            opts=child,
        )

        self.repository_url = repo.repository_url
        self.repository_arn = repo.arn
        self.image = repo.repository_url.apply(lambda url: f"{url}:{args.image_tag}")
        self.register_outputs(
            {"repositoryUrl": repo.repository_url, "repositoryArn": repo.arn, "image": self.image}
        )
