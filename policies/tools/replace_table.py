"""Writes policies/rules/replacements.py: the inputs that force a replacement of each stateful type.

    python -m policies.tools.replace_table \\
        --terraform-provider-aws DIR --terraform-provider-aws-ref REF \\
        [--pulumi-aws DIR] [--pulumi-aws-version VERSION] [--output FILE]

DIR is a checkout of hashicorp/terraform-provider-aws at the upstream commit the installed pulumi-aws
builds on (pulumi/pulumi-aws: the `upstream` submodule of the release tag), and of pulumi/pulumi-aws at
that tag. For each AWS stateful type the script reads the resource's schema and keeps its top-level
attributes marked `ForceNew: true` (terraform-plugin-sdk v2) or with a `RequiresReplace()` plan
modifier (terraform-plugin-framework): exactly what makes Terraform, and therefore the pulumi-aws
bridge, plan a replacement. Attribute names become the bridge's camelCase names; the auto-named ones
come from pulumi-aws provider/resources.go (`AutoName*` on the field, plus the bridge's default for
an optional computed `name`). The Kubernetes entries are the API server's immutable fields.

The table records the pulumi-aws version it was made for; tests/unit/policies/rules/test_data_loss.py
fails when the installed pulumi-aws is another one, so a provider upgrade regenerates the table.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import pprint
import re
import sys
from pathlib import Path
from typing import Any

# pulumi-aws type token -> (terraform resource name, schema file under internal/service/).
AWS_TYPES: dict[str, tuple[str, str]] = {
    "aws:rds/instance:Instance": ("aws_db_instance", "rds/instance.go"),
    "aws:rds/cluster:Cluster": ("aws_rds_cluster", "rds/cluster.go"),
    "aws:rds/globalCluster:GlobalCluster": ("aws_rds_global_cluster", "rds/global_cluster.go"),
    "aws:docdb/cluster:Cluster": ("aws_docdb_cluster", "docdb/cluster.go"),
    "aws:docdb/elasticCluster:ElasticCluster": ("aws_docdbelastic_cluster", "docdbelastic/cluster.go"),
    "aws:neptune/cluster:Cluster": ("aws_neptune_cluster", "neptune/cluster.go"),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "aws_elasticache_replication_group",
        "elasticache/replication_group.go",
    ),
    "aws:elasticache/cluster:Cluster": ("aws_elasticache_cluster", "elasticache/cluster.go"),
    "aws:elasticache/serverlessCache:ServerlessCache": (
        "aws_elasticache_serverless_cache",
        "elasticache/serverless_cache.go",
    ),
    "aws:memorydb/cluster:Cluster": ("aws_memorydb_cluster", "memorydb/cluster.go"),
    "aws:s3/bucket:Bucket": ("aws_s3_bucket", "s3/bucket.go"),
    "aws:sqs/queue:Queue": ("aws_sqs_queue", "sqs/queue.go"),
    "aws:efs/fileSystem:FileSystem": ("aws_efs_file_system", "efs/file_system.go"),
    "aws:ebs/volume:Volume": ("aws_ebs_volume", "ec2/ebs_volume.go"),
    "aws:dynamodb/table:Table": ("aws_dynamodb_table", "dynamodb/table.go"),
    "aws:kinesis/stream:Stream": ("aws_kinesis_stream", "kinesis/stream.go"),
    "aws:msk/cluster:Cluster": ("aws_msk_cluster", "kafka/cluster.go"),
    "aws:msk/serverlessCluster:ServerlessCluster": ("aws_msk_serverless_cluster", "kafka/serverless_cluster.go"),
    "aws:opensearch/domain:Domain": ("aws_opensearch_domain", "opensearch/domain.go"),
    "aws:elasticsearch/domain:Domain": ("aws_elasticsearch_domain", "elasticsearch/domain.go"),
    "aws:kms/key:Key": ("aws_kms_key", "kms/key.go"),
    "aws:secretsmanager/secret:Secret": ("aws_secretsmanager_secret", "secretsmanager/secret.go"),
}
# bucketV2 is the deprecated name of the same resource (pulumi-aws v7 aliases it to aws_s3_bucket).
SAME_AS = {"aws:s3/bucketV2:BucketV2": "aws:s3/bucket:Bucket"}

# The API server's immutability rules, which pulumi-kubernetes meets with a replacement:
# - PersistentVolumeClaim: kubernetes/kubernetes pkg/apis/core/validation/validation.go,
#   ValidatePersistentVolumeClaimUpdate ("spec is immutable after creation except resources.requests
#   and volumeAttributesClassName for bound claims");
# - StatefulSet: pkg/apis/apps/validation/validation.go, ValidateStatefulSetUpdate ("updates to
#   statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy',
#   'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden");
# - a new metadata.name or namespace is another object to the API server.
KUBERNETES: dict[str, dict[str, Any]] = {
    "kubernetes:core/v1:PersistentVolumeClaim": {
        "replaceOn": [
            "metadata.name",
            "metadata.namespace",
            "spec.accessModes",
            "spec.storageClassName",
            "spec.selector",
            "spec.volumeName",
            "spec.volumeMode",
            "spec.dataSource",
            "spec.dataSourceRef",
        ],
        "autoNamed": ["metadata.name"],
        "source": "kubernetes/kubernetes pkg/apis/core/validation/validation.go ValidatePersistentVolumeClaimUpdate",
    },
    "kubernetes:apps/v1:StatefulSet": {
        "replaceOn": [
            "metadata.name",
            "metadata.namespace",
            "spec.selector",
            "spec.serviceName",
            "spec.volumeClaimTemplates",
            "spec.podManagementPolicy",
        ],
        "autoNamed": ["metadata.name"],
        "source": "kubernetes/kubernetes pkg/apis/apps/validation/validation.go ValidateStatefulSetUpdate",
    },
}

_KEY = re.compile(r'(names\.Attr\w+|"[a-z0-9_]+")\s*:\s*(?:[\w.]+\s*)?\{')
_SDK_SCHEMA = re.compile(r"map\[string\]\*schema\.Schema\s*\{")
_FW_ATTRIBUTES = re.compile(r"Attributes:\s*map\[string\]schema\.Attribute\s*\{")
_CONST = re.compile(r'^\s*(Attr\w+)\s*=\s*"([a-z0-9_]+)"', re.MULTILINE)


def _block_end(text: str, open_brace: int) -> int:
    """Index just past the brace that closes the one at `open_brace` (Go strings and comments skipped)."""
    depth, i, n = 0, open_brace, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if c in '"`':
            end = text.find(c, i + 1)
            while c == '"' and end > 0 and text[end - 1] == "\\":
                end = text.find(c, end + 1)
            i = n if end < 0 else end + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced braces")


def top_level_attributes(body: str) -> list[tuple[str, str]]:
    """(key expression, block text) of the direct children of a schema map body."""
    out: list[tuple[str, str]] = []
    i = 0
    while True:
        m = _KEY.search(body, i)
        if m is None:
            return out
        end = _block_end(body, m.end() - 1)
        out.append((m.group(1), body[m.end() : end - 1]))
        i = end


def forcing_attributes(source: str) -> list[str]:
    """Key expressions of the top-level attributes that force a replacement in a resource's Go source."""
    found: list[str] = []
    maps = [m.end() - 1 for m in _SDK_SCHEMA.finditer(source)] + [m.end() - 1 for m in _FW_ATTRIBUTES.finditer(source)]
    # The resource schema is the largest such map; nested element schemas are maps of their own.
    bodies = sorted((source[start + 1 : _block_end(source, start) - 1] for start in maps), key=len, reverse=True)
    if not bodies:
        raise ValueError("no schema map found")
    for key, block in top_level_attributes(bodies[0]):
        own = block
        # Only the attribute's own flags, not those of its nested element schema.
        nested = re.search(r"Elem:\s*&schema\.Resource\s*\{|Attributes:\s*map\[", own)
        if nested:
            own = own[: nested.start()]
        if re.search(r"\bForceNew:\s*true\b", own) or "RequiresReplace()" in own:
            found.append(key)
    return found


def attribute_names(consts_source: str) -> dict[str, str]:
    """names.AttrX -> "x" from terraform-provider-aws names/attr_consts_gen.go."""
    return {f"names.{k}": v for k, v in _CONST.findall(consts_source)}


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def auto_named(resources_go: str, tf_name: str) -> set[str]:
    """Fields pulumi-aws auto-names for one terraform resource (provider/resources.go)."""
    m = re.search(rf'"{tf_name}"\s*:\s*\{{', resources_go)
    if m is None:
        return set()
    block = resources_go[m.end() - 1 : _block_end(resources_go, m.end() - 1)]
    return set(re.findall(r'AutoName\w*\(\s*"([a-z0-9_]+)"', block))


def build(tpa: Path, tpa_ref: str, pulumi_aws: Path | None, version: str) -> dict[str, Any]:
    consts = attribute_names((tpa / "names" / "attr_consts_gen.go").read_text(encoding="utf-8"))
    resources_go = (pulumi_aws / "provider" / "resources.go").read_text(encoding="utf-8") if pulumi_aws else ""
    table: dict[str, dict[str, Any]] = {}
    for token, (tf_name, rel) in AWS_TYPES.items():
        path = tpa / "internal" / "service" / rel
        if not path.is_file():
            print(f"replace_table: {path} not found; {token} left out", file=sys.stderr)
            continue
        keys = forcing_attributes(path.read_text(encoding="utf-8"))
        names = [consts.get(k, k.strip('"')) for k in keys]
        auto = auto_named(resources_go, tf_name) | ({"name"} if "name" in names else set())
        table[token] = {
            "replaceOn": [camel(n) for n in names],
            "autoNamed": sorted(camel(n) for n in auto if n in names),
            "source": f"internal/service/{rel}@{tpa_ref}",
        }
    for alias, token in SAME_AS.items():
        if token in table:
            table[alias] = dict(table[token])
    table.update(KUBERNETES)
    return table


def render(table: dict[str, Any], version: str, tpa_ref: str) -> str:
    return (
        '"""Which inputs force a replacement of each stateful type: written by policies/tools/replace_table.py\n'
        "(do not edit; rerun it after upgrading pulumi-aws).\n\n"
        '`REPLACE_ON[type]["replaceOn"]` are input paths (camelCase engine keys, dots into objects) that the\n'
        "provider cannot change in place; `autoNamed` are those the provider fills with a generated name when\n"
        'the program leaves them out (the prior name is kept on later updates).\n"""\n\n'
        "from __future__ import annotations\n\nfrom typing import Any\n\n"
        f"PULUMI_AWS_VERSION = {version!r}\n"
        f"TERRAFORM_PROVIDER_AWS_REF = {tpa_ref!r}\n\n"
        f"REPLACE_ON: dict[str, dict[str, Any]] = {pprint.pformat(table, width=110, sort_dicts=True)}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m policies.tools.replace_table", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--terraform-provider-aws", type=Path, required=True, help="checkout of hashicorp/terraform-provider-aws"
    )
    parser.add_argument("--terraform-provider-aws-ref", required=True, help="its tag or commit (recorded in the table)")
    parser.add_argument("--pulumi-aws", type=Path, help="checkout of pulumi/pulumi-aws at the installed version's tag")
    parser.add_argument("--pulumi-aws-version", default=None, help="default: the installed pulumi_aws")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).resolve().parents[1] / "rules" / "replacements.py"
    )
    args = parser.parse_args(argv)
    version = args.pulumi_aws_version or importlib.metadata.version("pulumi_aws")
    try:
        table = build(args.terraform_provider_aws, args.terraform_provider_aws_ref, args.pulumi_aws, version)
    except (OSError, ValueError) as exc:
        print(f"replace_table: error: {exc}", file=sys.stderr)
        return 2
    args.output.write_text(render(table, version, args.terraform_provider_aws_ref), encoding="utf-8")
    print(f"replace_table: {len(table)} types written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
