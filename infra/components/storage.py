"""Storage: S3 buckets that are private, encrypted, versioned and TLS-only by construction.

Creates (per SecureBucket): an S3 bucket (force-destroyed only when a disposable stack asks); a public
access block with all four flags on; BucketOwnerEnforced object ownership (ACLs disabled); default server-side
encryption; versioning; a lifecycle that deletes noncurrent versions, aborts stale multipart
uploads and optionally expires current objects; a bucket policy denying any request not made over
TLS, plus the caller's extra statements (e.g. load balancer log delivery).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.config import StorageConfig
from infra.lib import iam

SSE_ALGORITHMS = ("aws:kms", "AES256")


@dataclass(frozen=True, kw_only=True)
class SecureBucketArgs:
    config: StorageConfig = field(default_factory=StorageConfig)
    """how long old object versions are kept (the stack's bucketNoncurrentVersionDays)"""
    # None keeps current objects until the app deletes them.
    expire_current_days: int | None = None
    # Load balancer access logs only support SSE-S3 (AES256); everything else gets KMS.
    sse_algorithm: str = "aws:kms"
    # Statements that need the bucket's ARN; called with it once it is known.
    extra_statements: Callable[[str], list[iam.Statement]] | None = None
    # A disposable stack's bucket: `pulumi destroy` empties it (every version) before deleting it.
    force_destroy: bool = False

    def __post_init__(self) -> None:
        if self.sse_algorithm not in SSE_ALGORITHMS:
            raise ValueError(f"sse_algorithm must be one of {', '.join(SSE_ALGORITHMS)}")
        if self.expire_current_days is not None and self.expire_current_days < 1:
            raise ValueError("expire_current_days must be at least 1 (or None to keep objects)")


class SecureBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:storage:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # DeleteBucket refuses a bucket that holds any object version ("BucketNotEmpty"), and a versioned
        # bucket is never empty once written; force_destroy makes the provider delete every version first
        # (terraform-provider-aws internal/service/s3/bucket.go resourceBucketDelete, emptyBucket).
        bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=args.force_destroy, opts=child)

        access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=(
                        aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm=args.sse_algorithm
                        )
                    ),
                    bucket_key_enabled=args.sse_algorithm == "aws:kms",
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=args.config.noncurrent_version_days
                        )
                    ),
                    abort_incomplete_multipart_upload=(
                        aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=7
                        )
                    ),
                    expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expire_current_days)
                        if args.expire_current_days is not None
                        else None
                    ),
                )
            ],
            # S3 rejects a lifecycle with noncurrent rules until versioning is on.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

        extra = args.extra_statements

        def policy(arn: str) -> str:
            statements = [iam.tls_only_statement(arn)] + (extra(arn) if extra is not None else [])
            return json.dumps(iam.document(statements))

        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(policy),
            # The public access block must exist first or S3 may evaluate the policy without it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access_block]),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucketName": bucket.bucket, "bucketArn": bucket.arn})
