"""Registry: the ECR repository of the app image, and the image itself, built and pushed by `pulumi up`.

Creates: an ECR repository (scan on push, immutable tags, encrypted, never force-deleted); a lifecycle
policy that expires untagged layers and keeps the most recent tagged images; a repository policy that
lets Lambda pull for this account's functions only; the app image
(`app/Dockerfile`, one image for the web tier, the Lambda worker and the migration runner) built with
BuildKit by `pulumi_docker_build.Image` and pushed to the repository under a content tag.

Compute refers to `image`, the pushed digest (`<repository>@sha256:...`), never to a tag: every code
change rolls out as a new digest, and an instance or pod started later runs exactly what was pushed
(https://www.pulumi.com/docs/iac/operations/container-image-reproducibility/). The tag only keeps the
image out of the untagged-expiry rule; it is `<imageLabel>-<hash of the build context>`, so immutable
tags never collide.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from infra.components.context import aws_context
from infra.lib import iam, image

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,115}$")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DOCKERFILE = REPO_ROOT / "app" / "Dockerfile"
# Lambda's x86_64 functions, the t3/m6i instances and the AL2023 x86_64 nodes all run amd64.
PLATFORM = docker_build.Platform.LINUX_AMD64


@dataclass(frozen=True, kw_only=True)
class ImageRepositoryArgs:
    image_label: str
    """human part of the pushed tag (e.g. the release, 0.1.0); the content hash is appended"""
    context_dir: str = str(REPO_ROOT)
    dockerfile: str = str(DEFAULT_DOCKERFILE)
    keep_tagged_images: int = 30
    untagged_expiry_days: int = 7

    def __post_init__(self) -> None:
        if not _TAG.match(self.image_label):
            raise ValueError(f"{self.image_label!r} is not usable as the start of a container image tag")
        if self.keep_tagged_images < 1 or self.untagged_expiry_days < 1:
            raise ValueError("keep_tagged_images and untagged_expiry_days must be at least 1")
        # BuildKit fails on a missing Dockerfile only during `pulumi up`; say so before anything is created.
        if not Path(self.context_dir).is_dir():
            raise ValueError(f"image build context {self.context_dir} is not a directory")
        if not Path(self.dockerfile).is_file():
            raise ValueError(f"Dockerfile {self.dockerfile} does not exist")

    @property
    def dockerignore(self) -> Path:
        # BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile before the context's .dockerignore.
        return Path(f"{self.dockerfile}.dockerignore")

    def tag(self) -> str:
        return image.content_tag(self.image_label, Path(self.context_dir), Path(self.dockerfile), self.dockerignore)


def _registry_login(token: Any) -> tuple[str, str]:
    user = getattr(token, "user_name", None) or "AWS"
    return user, getattr(token, "password", None) or ""


class ImageRepository(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    image: pulumi.Output[str]
    """the pushed image by digest: `<repository url>@sha256:...`"""
    image_digest: pulumi.Output[str]
    tag: str

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

        # Lambda pulls container images with its own service principal; the pull is allowed for this
        # account's functions only (aws:SourceArn), and written here rather than left to Lambda's implicit
        # policy update so that the plan shows it:
        # https://docs.aws.amazon.com/lambda/latest/dg/images-create.html#configuration-images-permissions
        where = aws_context(self)
        lambda_pull = aws.ecr.RepositoryPolicy(
            f"{name}-lambda-pull",
            repository=repo.name,
            policy=pulumi.Output.all(where.partition, where.region, where.account_id).apply(
                lambda v: json.dumps(iam.lambda_pull_policy(partition=v[0], region=v[1], account_id=v[2]))
            ),
            opts=child,
        )

        token = aws.ecr.get_authorization_token_output(
            registry_id=repo.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        login = token.apply(_registry_login)
        tag = args.tag()
        built = docker_build.Image(
            f"{name}-app",
            docker_build.ImageArgs(
                # Paths relative to the working directory, which the engine sets to the program's main
                # directory for the program and its provider plugins alike (pulumi/pulumi
                # pkg/engine/project.go getPwdMain, sdk/go/common/resource/plugin/plugin.go:569,599): an
                # absolute path would differ between clones (a CI runner, a laptop) and force a rebuild.
                context=docker_build.BuildContextArgs(location=os.path.relpath(args.context_dir)),
                dockerfile=docker_build.DockerfileArgs(location=os.path.relpath(args.dockerfile)),
                # One platform and no provenance attestation, so the tag names a single image manifest:
                # Lambda refuses image indexes ("media type ... is not supported", docker/buildx#1533,
                # aws/aws-lambda-roadmap#82). The provider leaves provenance out of every build
                # (pulumi/pulumi-docker-build provider/internal/client.go:270-273 at 7bad76a).
                platforms=[PLATFORM],
                tags=[repo.repository_url.apply(lambda url: f"{url}:{tag}")],
                push=True,
                # Previews stay fast and need no Docker daemon; the digest is known after `up`.
                build_on_preview=False,
                registries=[docker_build.RegistryArgs(
                    address=repo.repository_url.apply(lambda url: url.split("/", 1)[0]),
                    username=login.apply(lambda v: v[0]),
                    password=pulumi.Output.secret(login.apply(lambda v: v[1])),
                )],
            ),
            opts=child,
        )

        self.repository_url = repo.repository_url
        self.repository_arn = repo.arn
        self.tag = tag
        self.image_digest = built.digest
        # Consumers of the image (functions above all) wait for the pull policy too.
        self.image = pulumi.Output.all(repo.repository_url, built.digest, lambda_pull.id).apply(
            lambda v: image.digest_reference(v[0], v[1])
        )
        self.register_outputs({
            "repositoryUrl": repo.repository_url,
            "repositoryArn": repo.arn,
            "image": self.image,
            "imageDigest": self.image_digest,
        })
