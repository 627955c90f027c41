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


@pytest.mark.parametrize("acl", ["public-read", "public-read-write", "authenticated-read"])
def test_every_public_canned_acl_is_reported(acl, via_policy):
    # authenticated-read grants READ to every AWS account, not just this one (S3 User Guide, "Canned ACL").
    assert via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucketAclV2:BucketAclV2", {"bucket": "b", "acl": acl}) == [
        f"canned ACL {acl} makes the content public"
    ]
    for private in ("private", "bucket-owner-full-control", "log-delivery-write"):
        assert via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucketAclV2:BucketAclV2", {"bucket": "b", "acl": private}) == []


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_an_account_level_block_with_one_flag_off_covers_no_bucket(flag, via_stack_policy):
    account = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
    stack = [("aws:s3/bucket:Bucket", "a", {}, {}), (account, "account", {**FLAGS, flag: False}, {})]
    assert via_stack_policy(S3_PUBLIC_ACCESS_BLOCK, stack) == [
        (f"urn:pulumi:t::p::{account}::account", f"public access block leaves {flag} off"),
        (
            "urn:pulumi:t::p::aws:s3/bucket:Bucket::a",
            "bucket a has no BucketPublicAccessBlock with all four flags true",
        ),
    ]


BUCKET = "aws:s3/bucket:Bucket"
SSE_T = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
UNKNOWN_ID = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@pytest.mark.parametrize("key", ["bucket", "id", "arn"])
def test_a_companion_is_paired_by_the_buckets_name_id_or_arn(key, via_stack_policy):
    # Without a recorded property dependency (a value copied from an earlier stack output, say) the
    # companion is paired by any of the bucket's identifiers.
    bucket = {"bucket": "site-name", "id": "site-id", "arn": "arn:aws:s3:::site-arn"}
    stack = [(BUCKET, "site", bucket, {}), (PAB, "site-pab", {"bucket": bucket[key], **FLAGS}, {})]
    assert via_stack_policy(S3_PUBLIC_ACCESS_BLOCK, stack) == []


def test_a_bucket_identifier_that_is_not_a_string_pairs_nothing(via_stack_policy):
    stack = [(BUCKET, "odd", {"bucket": ["not", "a", "name"], "id": ""}, {})]
    assert via_stack_policy(S3_PUBLIC_ACCESS_BLOCK, stack) == [
        (f"urn:pulumi:t::p::{BUCKET}::odd", "bucket odd has no BucketPublicAccessBlock with all four flags true")
    ]


def test_a_block_with_several_flags_off_names_them_all(via_stack_policy):
    stack = _bucket_stack(flags={**FLAGS, "blockPublicAcls": False, "restrictPublicBuckets": False})
    assert via_stack_policy(S3_PUBLIC_ACCESS_BLOCK, stack) == [
        (
            f"urn:pulumi:t::p::{PAB}::receipts-pab",
            "public access block leaves blockPublicAcls, restrictPublicBuckets off",
        )
    ]


@pytest.mark.parametrize(
    ("rule", "companion_type"),
    [(S3_PUBLIC_ACCESS_BLOCK, PAB), (S3_ENCRYPTION, SSE_T), (S3_VERSIONING, VERSIONING)],
)
def test_a_companion_whose_bucket_is_unknown_suspends_the_judgement(rule, companion_type, via_stack_policy):
    # It may configure any bucket of the stack: preview cannot tell which, so no bucket is judged.
    stack = [(BUCKET, "a", {"bucket": "a"}, {}), (companion_type, "c", {"bucket": UNKNOWN_ID, **FLAGS}, {})]
    assert via_stack_policy(rule, stack) == []


@pytest.mark.parametrize(
    ("rule", "other"), [(S3_ENCRYPTION, VERSIONING), (S3_VERSIONING, PAB), (S3_PUBLIC_ACCESS_BLOCK, SSE_T)]
)
def test_only_companions_of_the_rules_own_kind_suspend_it(rule, other, via_stack_policy):
    stack = [
        (BUCKET, "a", {"bucket": "a"}, {}),
        (other, "c", {"bucket": UNKNOWN_ID, **FLAGS}, {}),
        ("aws:s3/bucketPolicy:BucketPolicy", "p", {}, {}),
    ]
    assert [urn for urn, _ in via_stack_policy(rule, stack)] == [f"urn:pulumi:t::p::{BUCKET}::a"]


@pytest.mark.parametrize("rule", [S3_ENCRYPTION, S3_VERSIONING, S3_PUBLIC_ACCESS_BLOCK])
def test_every_bucket_is_judged_after_a_compliant_one(rule, via_stack_policy):
    stack = [*_bucket_stack(), (BUCKET, "bare", {"bucket": "bare"}, {})]
    assert [urn for urn, _ in via_stack_policy(rule, stack)] == [f"urn:pulumi:t::p::{BUCKET}::bare"]


@pytest.mark.parametrize(
    ("statement", "label"),
    [
        ({"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}, "Open"),
        ({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}, "s3:GetObject"),
        ({"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "*"]}}, "statement"),
    ],
)
def test_a_public_statement_is_named_by_its_sid_else_its_action(statement, label, via_policy):
    assert via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucketPolicy:BucketPolicy", _policy(statement)) == [
        f'bucket policy allows everyone (Principal "*") without a condition ({label})'
    ]


def test_named_principals_and_odd_statements_are_not_public(via_policy):
    named = {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]}, "Action": "s3:*"}
    doc = {"Statement": ["not a statement", named, {"Effect": "Allow", "Principal": "*", "Action": "s3:List*"}]}
    assert via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucketPolicy:BucketPolicy", {"policy": json.dumps(doc)}) == [
        'bucket policy allows everyone (Principal "*") without a condition (s3:List*)'
    ]


@pytest.mark.parametrize("group", ["AllUsers", "AuthenticatedUsers"])
def test_grants_to_a_public_group_in_either_shape(group, via_policy):
    uri = f"http://acs.amazonaws.com/groups/global/{group}"
    policy_grant = {"accessControlPolicy": {"grants": [{"grantee": {"type": "Group", "uri": uri}}]}}
    assert via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucketAclV2:BucketAclV2", policy_grant) == [
        f"ACL grant ? to {group}"
    ]
    inline = {"grants": [{"type": "Group", "uri": uri, "permissions": ["READ"]}]}
    assert via_policy(S3_NO_PUBLIC_ACCESS, BUCKET, inline) == [f"ACL grant to {group}"]
    owner = {"grants": [{"type": "CanonicalUser", "id": "abc", "permissions": ["FULL_CONTROL"]}]}
    assert via_policy(S3_NO_PUBLIC_ACCESS, BUCKET, owner) == []
    odd = {"grants": [{"type": "Group", "uri": [uri]}], "accessControlPolicy": {"grants": [{"grantee": {"uri": {}}}]}}
    assert via_policy(S3_NO_PUBLIC_ACCESS, BUCKET, odd) == []


def test_a_bucket_versioned_inline_does_not_end_the_judgement(via_stack_policy):
    stack = [
        (BUCKET, "old", {"bucket": "old", "versioning": {"enabled": True}}, {}),
        (BUCKET, "bare", {"bucket": "bare", "versioning": {"enabled": False}}, {}),
    ]
    assert via_stack_policy(S3_VERSIONING, stack) == [
        (f"urn:pulumi:t::p::{BUCKET}::bare", "bucket bare does not have versioning enabled")
    ]


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

    with pytest.raises(UnknownValueError) as raised:
        via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucketPolicy:BucketPolicy", props)
    assert raised.value.props == ["policy"]


@pytest.mark.parametrize("statements", [[], [{"Effect": "Deny", "Principal": "*"}], ["not a statement"]])
def test_a_policy_without_public_statements_says_all_is_known(statements):
    from policies.rules.s3 import _public_statements

    assert _public_statements(json.dumps({"Statement": statements})) == ([], False)


def test_public_acl_is_reported_beside_an_unknown_policy(via_policy):
    props = {"bucket": "b", "acl": "public-read", "policy": UNKNOWN_VALUE}
    assert via_policy(S3_NO_PUBLIC_ACCESS, "aws:s3/bucket:Bucket", props) == [
        "canned ACL public-read makes the content public"
    ]


def test_default_enforcement_levels():
    """Mandatory blocks a deployment, advisory only reports: the default is part of the rule's promise."""
    assert S3_PUBLIC_ACCESS_BLOCK.enforcement.value == "mandatory"
    assert S3_NO_PUBLIC_ACCESS.enforcement.value == "mandatory"
    assert S3_ENCRYPTION.enforcement.value == "advisory"
    assert S3_VERSIONING.enforcement.value == "advisory"
