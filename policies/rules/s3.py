"""Rules for S3 buckets: Block Public Access on every bucket, no public ACLs or bucket policies,
server-side encryption and versioning configured.

Bucket settings live in companion resources (BucketPublicAccessBlock, BucketVersioning,
BucketServerSideEncryptionConfiguration) that point at the bucket through their `bucket` input, so
the per-bucket rules are stack rules: they pair each bucket with its companions by property
dependency (the engine records that `bucket` came from the bucket resource) or by the bucket's
name/id. Both the current names and the deprecated V2 names are matched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, StackResource, get, items, json_value, known, truthy, type_set
from .images import holds_unknown, not_known

BUCKETS = type_set("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
VERSIONING = type_set("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
SSE = type_set(
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
ACLS = type_set("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
OBJECTS = type_set(
    "aws:s3/bucketObject:BucketObject", "aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/BucketObject:BucketObject"
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"

BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
# Grantee URI -> the group's name in findings.
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}


def _bucket_keys(bucket: StackResource) -> set[str]:
    keys = {bucket.urn}
    for key in ("bucket", "id", "arn"):
        value = bucket.props.get(key)
        if isinstance(value, str) and value:
            keys.add(value)
    return keys


def _companions(resources: list[StackResource], types: frozenset[str] | set[str]) -> dict[str, list[StackResource]]:
    """Bucket URN -> the companion resources of `types` that configure it."""
    buckets = [r for r in resources if r.resource_type in BUCKETS]
    by_key: dict[str, str] = {}
    for b in buckets:
        for key in _bucket_keys(b):
            by_key[key] = b.urn
    found: dict[str, list[StackResource]] = {b.urn: [] for b in buckets}
    for r in resources:
        if r.resource_type not in types:
            continue
        targets = {urn for urn in r.property_dependencies.get("bucket", ()) if urn in found}
        value = r.props.get("bucket")
        if isinstance(value, str) and value in by_key:
            targets.add(by_key[value])
        for urn in targets:
            found[urn].append(r)
    return found


def _unmatched_companions(resources: list[StackResource], types: frozenset[str] | set[str]) -> bool:
    """A companion whose bucket is not known yet might belong to any bucket."""
    return any(
        r.resource_type in types and r.props.get("bucket") is not None and not known(r.props.get("bucket"))
        for r in resources
    )


def check_public_access_block(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    found: list[tuple[str | None, str]] = []
    for block in resources:
        if block.resource_type in (PUBLIC_ACCESS_BLOCK, ACCOUNT_PUBLIC_ACCESS_BLOCK):
            missing = [
                f
                for f in BLOCK_FLAGS
                if block.props.get(f) is None or (known(block.props.get(f)) and not truthy(block.props.get(f)))
            ]
            if missing:
                found.append((block.urn, f"public access block leaves {', '.join(missing)} off"))
    account_blocks = [r for r in resources if r.resource_type == ACCOUNT_PUBLIC_ACCESS_BLOCK]
    if any(all(truthy(b.props.get(f)) for f in BLOCK_FLAGS) for b in account_blocks):
        return found
    if _unmatched_companions(resources, {PUBLIC_ACCESS_BLOCK}):
        return found
    by_urn = {r.urn: r for r in resources}
    for urn, blocks in _companions(resources, {PUBLIC_ACCESS_BLOCK}).items():
        if not blocks:
            found.append((urn, f"bucket {by_urn[urn].name} has no BucketPublicAccessBlock with all four flags true"))
    return found


def _has_inline(bucket: StackResource, key: str, test: Callable[[Any], bool]) -> bool:
    return any(test(item) for item in items(bucket.props.get(key)))


def check_bucket_encryption(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    if _unmatched_companions(resources, SSE):
        return []
    by_urn = {r.urn: r for r in resources}
    found: list[tuple[str | None, str]] = []
    for urn, configs in _companions(resources, SSE).items():
        bucket = by_urn[urn]
        if configs or _has_inline(bucket, "serverSideEncryptionConfiguration", lambda c: bool(c)):
            continue
        found.append((urn, f"bucket {bucket.name} has no server-side encryption configuration"))
    return found


def _versioning_on(cfg: StackResource) -> bool:
    status = get(cfg.props, "versioningConfiguration", "status")
    return not known(status) or status == "Enabled"


def check_bucket_versioning(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    if _unmatched_companions(resources, VERSIONING):
        return []
    by_urn = {r.urn: r for r in resources}
    found: list[tuple[str | None, str]] = []
    for urn, configs in _companions(resources, VERSIONING).items():
        bucket = by_urn[urn]
        if any(_versioning_on(c) for c in configs):
            continue
        if _has_inline(bucket, "versioning", lambda v: truthy(get(v, "enabled"))):
            continue
        found.append((urn, f"bucket {bucket.name} does not have versioning enabled"))
    return found


def _public_statements(policy: Any) -> tuple[list[str], bool]:
    """The statements that allow everyone, and whether some part of the policy is not known yet."""
    doc = json_value(policy)
    if policy is UNKNOWN or (holds_unknown(policy) and doc is None):
        return [], True
    if not isinstance(doc, dict):
        return [], False
    found = []
    unknown = False
    for st in items(doc.get("Statement")):
        if not isinstance(st, dict) or st.get("Effect") != "Allow" or known(st.get("Condition")):
            continue
        principal = st.get("Principal")
        unknown = unknown or holds_unknown(principal) or holds_unknown(get(principal, "AWS"))
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        everyone = principal == "*" or aws == "*" or (isinstance(aws, list) and "*" in aws)
        if everyone:
            found.append(str(st.get("Sid") or st.get("Action") or "statement"))
    return found, unknown


def _public_group(uri: Any) -> str | None:
    return PUBLIC_GROUPS.get(uri) if isinstance(uri, str) else None


def check_public_acl_or_policy(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    found = []
    acl = props.get("acl")
    if isinstance(acl, str) and acl in PUBLIC_ACLS:
        found.append(f"canned ACL {acl} makes the content public")
    for grant in items(get(props, "accessControlPolicy", "grants")):
        group = _public_group(get(grant, "grantee", "uri"))
        if group:
            found.append(f"ACL grant {get(grant, 'permission', default='?')} to {group}")
    for grant in items(props.get("grants")):
        group = _public_group(get(grant, "uri"))
        if group:
            found.append(f"ACL grant to {group}")
    public, unknown = _public_statements(props.get("policy"))
    for sid in public:
        found.append(f'bucket policy allows everyone (Principal "*") without a condition ({sid})')
    if unknown and not found:
        not_known("policy")
    return found


S3_PUBLIC_ACCESS_BLOCK = Rule(
    name="s3-public-access-block",
    description="Every S3 bucket has a BucketPublicAccessBlock with all four flags true.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    why="Objects (receipts, exports) are user data; Block Public Access is the guard that survives a "
    "wrong ACL or policy later.",
    remediation="Add aws.s3.BucketPublicAccessBlock(bucket=b.id, block_public_acls=True, "
    "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True) for each bucket.",
    stack_check=check_public_access_block,
    tags=("security", "s3"),
)

S3_NO_PUBLIC_ACCESS = Rule(
    name="s3-no-public-access",
    description="No public-read ACLs, public grants or bucket policies that allow everyone.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    why='A public ACL or an Allow for Principal "*" publishes the bucket\'s content to the internet.',
    remediation="Use BucketOwnerEnforced ownership (no ACLs); grant access to specific principals or via "
    "CloudFront origin access control with a condition.",
    resource_types=BUCKETS | ACLS | OBJECTS | type_set(BUCKET_POLICY),
    check=check_public_acl_or_policy,
    tags=("security", "s3"),
)

S3_ENCRYPTION = Rule(
    name="s3-encryption",
    description="Every S3 bucket declares server-side encryption.",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    why="S3 encrypts new objects with SSE-S3 by default, but an explicit configuration (ideally SSE-KMS "
    "with a bucket key) makes the choice auditable and lets key policy gate access.",
    remediation="Add aws.s3.BucketServerSideEncryptionConfiguration for the bucket.",
    stack_check=check_bucket_encryption,
    tags=("security", "s3"),
)

S3_VERSIONING = Rule(
    name="s3-versioning",
    description="Every S3 bucket has versioning enabled where the stack demands it.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="Versioning is the undo for overwritten or deleted objects, the bucket's equivalent of backups.",
    remediation="Add aws.s3.BucketVersioning with versioningConfiguration.status = Enabled.",
    stack_check=check_bucket_versioning,
    tags=("durability", "s3"),
)

RULES = (S3_PUBLIC_ACCESS_BLOCK, S3_NO_PUBLIC_ACCESS, S3_ENCRYPTION, S3_VERSIONING)
