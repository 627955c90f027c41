"""S3 rules: Block Public Access pairing, public ACLs/policies, encryption and versioning."""

import json

import pytest

from policies.rules.s3 import S3_ENCRYPTION, S3_NO_PUBLIC_ACCESS, S3_PUBLIC_ACCESS_BLOCK, S3_VERSIONING

PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
FLAGS = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"


def _bucket_stack(bucket_type="aws:s3/bucket:Bucket", flags=FLAGS, link="dependency"):
    deps = {"bucket": ["receipts"]} if link == "dependency" else {}
    ref = {"bucket": "receipts-abc"} if link == "value" else {"bucket": "bucket-id-only-known-later"}
    return [
        (bucket_type, "receipts", {"bucket": "receipts-abc"}, {}),
        (PAB, "receipts-pab", {**ref, **flags}, deps),
        (
            SSE,
            "receipts-sse",
            {**ref, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
            deps,
        ),
        (VERSIONING, "receipts-versioning", {**ref, "versioningConfiguration": {"status": "Enabled"}}, deps),
    ]


@pytest.mark.parametrize("bucket_type", ["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"])
@pytest.mark.parametrize("link", ["dependency", "value"])
def test_fully_configured_bucket_passes(bucket_type, link, via_stack_policy):
    stack = _bucket_stack(bucket_type, link=link)
    for rule in (S3_PUBLIC_ACCESS_BLOCK, S3_ENCRYPTION, S3_VERSIONING):
        assert via_stack_policy(rule, stack) == [], rule.name


def test_bucket_without_public_access_block(via_stack_policy):
    stack = [r for r in _bucket_stack() if r[0] != PAB]
    assert via_stack_policy(S3_PUBLIC_ACCESS_BLOCK, stack) == [
        (
            "urn:pulumi:t::p::aws:s3/bucket:Bucket::receipts",
            "bucket receipts has no BucketPublicAccessBlock with all four flags true",
        )
    ]


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_public_access_block_with_one_flag_off(flag, via_stack_policy):
    stack = _bucket_stack(flags={**FLAGS, flag: False})
    assert via_stack_policy(S3_PUBLIC_ACCESS_BLOCK, stack) == [
        (f"urn:pulumi:t::p::{PAB}::receipts-pab", f"public access block leaves {flag} off")
    ]


def test_account_level_block_covers_every_bucket(via_stack_policy):
    stack = [
        ("aws:s3/bucket:Bucket", "a", {}, {}),
        ("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", "account", dict(FLAGS), {}),
    ]
    assert via_stack_policy(S3_PUBLIC_ACCESS_BLOCK, stack) == []


def test_missing_encryption_and_versioning(via_stack_policy):
    stack = [r for r in _bucket_stack() if r[0] not in (SSE, VERSIONING)]
    assert via_stack_policy(S3_ENCRYPTION, stack) == [
        (
            "urn:pulumi:t::p::aws:s3/bucket:Bucket::receipts",
            "bucket receipts has no server-side encryption configuration",
        )
    ]
    assert via_stack_policy(S3_VERSIONING, stack) == [
        ("urn:pulumi:t::p::aws:s3/bucket:Bucket::receipts", "bucket receipts does not have versioning enabled")
    ]
    suspended = [
        *stack,
        (VERSIONING, "v", {"bucket": "receipts-abc", "versioningConfiguration": {"status": "Suspended"}}, {}),
    ]
    assert len(via_stack_policy(S3_VERSIONING, suspended)) == 1
    inline = [
        (
            "aws:s3/bucket:Bucket",
            "old",
            {"versioning": {"enabled": True}, "serverSideEncryptionConfiguration": {"rule": {}}},
            {},
        )
    ]
    assert via_stack_policy(S3_VERSIONING, inline) == []
    assert via_stack_policy(S3_ENCRYPTION, inline) == []


@pytest.mark.parametrize("acl_type", ["aws:s3/bucketAclV2:BucketAclV2", "aws:s3/bucketAcl:BucketAcl"])
def test_public_acls(acl_type, via_policy):
    assert via_policy(S3_NO_PUBLIC_ACCESS, acl_type, {"bucket": "b", "acl": "private"}) == []
    assert via_policy(S3_NO_PUBLIC_ACCESS, acl_type, {"bucket": "b", "acl": "public-read"}) == [
        "canned ACL public-read makes the content public"
    ]
    grants = {
        "accessControlPolicy": {
            "grants": [
                {
                    "permission": "READ",
                    "grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"},
                }
            ]
        }
    }
    assert via_policy(S3_NO_PUBLIC_ACCESS, acl_type, grants) == ["ACL grant READ to AllUsers"]


def test_inline_bucket_acl_and_objects(via_policy):
    assert via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucketV2:BucketV2", {"acl": "public-read-write"}) == [
        "canned ACL public-read-write makes the content public"
    ]
    assert via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucketObjectv2:BucketObjectv2", {"acl": "public-read"}) == [
        "canned ACL public-read makes the content public"
    ]


def _policy(statement):
    return {"bucket": "b", "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}


def test_bucket_policies(via_policy):
    policy = "aws:s3/bucketPolicy:BucketPolicy"
    tls_only = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert via_policy(S3_NO_PUBLIC_ACCESS, policy, _policy(tls_only)) == []
    cloudfront = {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject"}
    assert via_policy(S3_NO_PUBLIC_ACCESS, policy, _policy(cloudfront)) == []
    public = {"Sid": "Public", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"}
    assert via_policy(S3_NO_PUBLIC_ACCESS, policy, _policy(public)) == [
        'bucket policy allows everyone (Principal "*") without a condition (Public)'
    ]
    conditioned = {**public, "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}
    assert via_policy(S3_NO_PUBLIC_ACCESS, policy, _policy(conditioned)) == []


UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@pytest.mark.parametrize(
    "props",
    [
        {"bucket": "b", "policy": UNKNOWN_VALUE},
        {"bucket": "b", "policy": '{"Statement": [{"Effect": "Allow", "Principal": ' + UNKNOWN_VALUE},
        _policy({"Effect": "Allow", "Principal": {"AWS": UNKNOWN_VALUE}, "Action": "s3:GetObject"}),
        _policy({"Effect": "Allow", "Principal": UNKNOWN_VALUE, "Action": "s3:GetObject"}),
    ],
)
def test_bucket_policy_not_known_is_not_judged(props, via_policy):
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError):
        via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucketPolicy:BucketPolicy", props)


def test_public_acl_is_reported_beside_an_unknown_policy(via_policy):
    props = {"bucket": "b", "acl": "public-read", "policy": UNKNOWN_VALUE}
    assert via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucket:Bucket", props) == [
        "canned ACL public-read makes the content public"
    ]
