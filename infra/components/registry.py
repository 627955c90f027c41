"""Registry: the ECR repository of the app image, and the image: built here, or promoted by digest.

Creates: an ECR repository (scan on push, immutable tags, encrypted; force-deleted with its images only
in a disposable stack); a lifecycle policy that expires untagged layers and keeps the most recent tagged
images; a repository policy that lets Lambda pull for this account's functions only; and, in the first
stack only (no `image_digest`), the app image (`app/Dockerfile`, one image for the web tier, the Lambda
worker and the migration runner) built with BuildKit by `pulumi_docker_build.Image` and pushed to the
repository under a content tag.

Compute refers to `image`, a digest (`<repository>@sha256:...`), never to a tag: every code change rolls
out as a new digest, and an instance or pod started later runs exactly what was pushed
(https://www.pulumi.com/docs/iac/operations/container-image-reproducibility/).

One image per commit: a promoted stack (staging, prod) is given `image_digest`, the digest the previous
stage deployed, which the pipeline has copied into this repository unchanged
(.github/scripts/promote-image.sh); it builds nothing and pushes nothing, so no base-image or dependency
release between two stages can put bytes in prod that staging did not run.

Never a push to an existing tag: the built image's tag is `<imageLabel>-<hash>`, where the hash covers
everything pulumi-docker-build would rebuild for (`infra/lib/image.py`), so whenever the provider pushes,
the tag is new. The one case it cannot cover is an update interrupted after the push but before the state
was written: the retry pushes a new build to the same tag and ECR refuses it (infra/README.md, Releases).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import metadata
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
    image_digest: str | None = None
    """a promoted stack: the digest (sha256:<64 hex>) already in this repository; nothing is built"""
    force_delete: bool = False
    """a disposable stack: `pulumi destroy` deletes the repository with every image in it"""

    def __post_init__(self) -> None:
        if self.image_digest is not None and not image.DIGEST.match(self.image_digest):
            raise ValueError(f"image_digest must be sha256:<64 hex>, got {self.image_digest!r}")
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
        return image.content_tag(self.image_label, Path(self.context_dir), Path(self.dockerfile), self.dockerignore,
                                 build_inputs(self.context_dir, self.dockerfile))


def build_inputs(context_dir: str, dockerfile: str) -> dict[str, str]:
    """The docker-build inputs besides the context's files that make its Diff report a change. The
    registry's address and user name are compared too, but they change only with the repository (a new
    repository has no tags) and ECR's user is always AWS; the password is left out by the provider."""
    return {
        "context.location": os.path.relpath(context_dir),
        "dockerfile.location": os.path.relpath(dockerfile),
        "platforms": PLATFORM.value,
        "push": "true",
        "buildOnPreview": "false",
        "network": "default",
        # The plugin the SDK asks for has the SDK's version; an upgrade may hash the context differently.
        "provider": metadata.version("pulumi_docker_build"),
    }


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
            # DeleteRepository refuses a repository that still holds images unless forced, and the provider's
            # Delete of an image removes only its current digest (pulumi-docker-build
            # provider/internal/image.go Delete 883-925), so earlier images stay: only a disposable stack
            # may take them along (terraform-provider-aws internal/service/ecr/repository.go
            # resourceRepositoryDelete: DeleteRepository with Force = force_delete, else RepositoryNotEmptyException).
            force_delete=args.force_delete,
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

        self.tag = args.tag()
        if args.image_digest is not None:
            # Promoted: the bytes the previous stage ran, already copied here; nothing to build or push.
            digest: pulumi.Output[str] = pulumi.Output.from_input(args.image_digest)
        else:
            digest = self._build(name, args, repo)

        self.repository_url = repo.repository_url
        self.repository_arn = repo.arn
        self.image_digest = digest
        # Consumers of the image (functions above all) wait for the pull policy too.
        self.image = pulumi.Output.all(repo.repository_url, digest, lambda_pull.id).apply(
            lambda v: image.digest_reference(v[0], v[1])
        )
        self.register_outputs({
            "repositoryUrl": repo.repository_url,
            "repositoryArn": repo.arn,
            "image": self.image,
            "imageDigest": self.image_digest,
        })

    def _build(self, name: str, args: ImageRepositoryArgs, repo: aws.ecr.Repository) -> pulumi.Output[str]:
        token = aws.ecr.get_authorization_token_output(
            registry_id=repo.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        login = token.apply(_registry_login)
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
                tags=[repo.repository_url.apply(lambda url: f"{url}:{self.tag}")],
                push=True,
                # Previews stay fast and need no Docker daemon; the digest is known after `up`.
                build_on_preview=False,
                registries=[docker_build.RegistryArgs(
                    address=repo.repository_url.apply(lambda url: url.split("/", 1)[0]),
                    username=login.apply(lambda v: v[0]),
                    password=pulumi.Output.secret(login.apply(lambda v: v[1])),
                )],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return built.digest
