"""Writes policies/rules/replacements.py: the inputs that force a replacement of each stateful type.

    python -m policies.tools.replace_table \\
        --terraform-provider-aws DIR --terraform-provider-aws-ref COMMIT [--ref PATH=COMMIT ...] \\
        [--pulumi-aws DIR --pulumi-aws-ref COMMIT] [--pulumi-aws-version VERSION] [--output FILE]

DIR is a copy of hashicorp/terraform-provider-aws (the resource files under internal/service/ and
names/attr_consts_gen.go), best at the upstream commit the installed pulumi-aws builds on; `--ref`
names the commit of one file where files come from several (PATH relative to DIR). For each AWS
stateful type the script reads the resource's schema, in one file or split across several
(AWS_TYPES), and keeps what makes Terraform, and therefore the pulumi-aws bridge, plan a replacement:

- terraform-plugin-sdk v2: every attribute with `ForceNew: true`, top-level or nested in a block
  (`Elem: &schema.Resource{Schema: ...}`): a nested one forces a replacement when it changes, as the
  SDK's schemaMap.Diff marks the whole instance diff RequiresNew for any ForceNew attribute;
- terraform-plugin-framework: a `RequiresReplace()` / `RequiresReplaceIfConfigured()` plan modifier;
- conditional replacements: `customdiff.ForceNewIf` / `ForceNewIfChange` in CustomizeDiff, a
  `ForceNew("x")` call on the diff, a framework `RequiresReplaceIf(...)`; the condition runs in the
  provider, so these are listed apart (`replaceIf`) and only noted when such an input changes.

Attribute names are resolved through names/attr_consts_gen.go (`names.AttrKMSKeyID` -> kms_key_id)
and become the bridge's names: snake_case to camelCase, a block of `MaxItems: 1` flattened to an
object (`s3Import.bucketName`), other lists and sets pluralised (`nodeGroupConfigurations`) unless
pulumi-aws renames the field. Auto-names come from pulumi-aws (provider/resource_overrides.go, or
resources.go in older releases): a field given `tfbridge.AutoName*(...)` or a DefaultInfo with
`AutoNamed: true`, plus the bridge's default auto-naming of an optional `name` attribute. The
Kubernetes entries are the API server's immutable fields.

A type whose source file is not given keeps its entry from the current table, marked "transcribed";
the script says which on stderr. The table records the pulumi-aws version it was made for;
tests/unit/policies/rules/test_replacements.py fails when the installed pulumi-aws is another one.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import pprint
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# pulumi-aws type token -> (terraform resource name, schema files under internal/service/, in order).
AWS_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws:rds/instance:Instance": ("aws_db_instance", ("rds/instance.go",)),
    "aws:rds/cluster:Cluster": ("aws_rds_cluster", ("rds/cluster.go",)),
    "aws:rds/globalCluster:GlobalCluster": ("aws_rds_global_cluster", ("rds/global_cluster.go",)),
    "aws:docdb/cluster:Cluster": ("aws_docdb_cluster", ("docdb/cluster.go",)),
    "aws:docdb/elasticCluster:ElasticCluster": ("aws_docdbelastic_cluster", ("docdbelastic/cluster.go",)),
    "aws:neptune/cluster:Cluster": ("aws_neptune_cluster", ("neptune/cluster.go",)),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "aws_elasticache_replication_group",
        ("elasticache/replication_group.go",),
    ),
    # Its CustomizeDiff names customizeDiffEngineVersionForceNewOnDowngrade, defined in engine_version.go.
    "aws:elasticache/cluster:Cluster": (
        "aws_elasticache_cluster",
        ("elasticache/cluster.go", "elasticache/engine_version.go"),
    ),
    "aws:elasticache/serverlessCache:ServerlessCache": (
        "aws_elasticache_serverless_cache",
        ("elasticache/serverless_cache.go",),
    ),
    "aws:memorydb/cluster:Cluster": ("aws_memorydb_cluster", ("memorydb/cluster.go",)),
    "aws:s3/bucket:Bucket": ("aws_s3_bucket", ("s3/bucket.go",)),
    "aws:sqs/queue:Queue": ("aws_sqs_queue", ("sqs/queue.go",)),
    "aws:efs/fileSystem:FileSystem": ("aws_efs_file_system", ("efs/file_system.go",)),
    "aws:ebs/volume:Volume": ("aws_ebs_volume", ("ec2/ebs_volume.go",)),
    "aws:dynamodb/table:Table": ("aws_dynamodb_table", ("dynamodb/table.go",)),
    "aws:kinesis/stream:Stream": ("aws_kinesis_stream", ("kinesis/stream.go",)),
    "aws:msk/cluster:Cluster": ("aws_msk_cluster", ("kafka/cluster.go",)),
    "aws:msk/serverlessCluster:ServerlessCluster": ("aws_msk_serverless_cluster", ("kafka/serverless_cluster.go",)),
    "aws:opensearch/domain:Domain": ("aws_opensearch_domain", ("opensearch/domain.go",)),
    "aws:elasticsearch/domain:Domain": ("aws_elasticsearch_domain", ("elasticsearch/domain.go",)),
    "aws:kms/key:Key": ("aws_kms_key", ("kms/key.go",)),
    "aws:secretsmanager/secret:Secret": ("aws_secretsmanager_secret", ("secretsmanager/secret.go",)),
}
# bucketV2 is the former name of the same resource: pulumi-aws aliases it to aws_s3_bucket
# (provider/resource_overrides.go, "aws_s3_bucket" Aliases: aws:s3/bucketV2:BucketV2).
SAME_AS = {"aws:s3/bucketV2:BucketV2": "aws:s3/bucket:Bucket"}
PULUMI_AWS_FILES = ("provider/resource_overrides.go", "provider/resources.go")

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
        "replaceIf": {},
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
        "replaceIf": {},
        "autoNamed": ["metadata.name"],
        "source": "kubernetes/kubernetes pkg/apis/apps/validation/validation.go ValidateStatefulSetUpdate",
    },
}

# A key, then for terraform-plugin-framework the attribute's type (`schema.ListAttribute`), then its brace.
_KEY = re.compile(r'(names\.Attr\w+|"[a-z0-9_]+")\s*:\s*(?:([\w.]+)\s*)?\{')
# A `SchemaFunc: func() map[string]*schema.Schema {` (docdb/cluster.go) is the function's body, not the
# schema: the map it returns is.
_SDK_SCHEMA = re.compile(r"(?<!func\(\) )map\[string\]\*schema\.Schema\s*\{")
_FW_ATTRIBUTES = re.compile(r"Attributes:\s*map\[string\]schema\.Attribute\s*\{")
_NESTED = re.compile(r"Elem:\s*&schema\.Resource\s*\{|(?:Attributes|Blocks):\s*map\[")
_CONST = re.compile(r"^\s*(Attr\w+)\s*=\s*\"([a-z0-9_]+)\"", re.MULTILINE)
_ATTR_REF = r'(names\.Attr\w+|"[a-z0-9_.]+")'
_CONDITIONAL = (
    (re.compile(rf"customdiff\.ForceNewIfChange\(\s*{_ATTR_REF}"), "CustomizeDiff customdiff.ForceNewIfChange"),
    (re.compile(rf"customdiff\.ForceNewIf\(\s*{_ATTR_REF}"), "CustomizeDiff customdiff.ForceNewIf"),
    (re.compile(rf"\b(?:diff|d)\.ForceNew\(\s*{_ATTR_REF}"), "CustomizeDiff ResourceDiff.ForceNew"),
)


def _block_end(text: str, open_brace: int) -> int:
    """Index just past the brace that closes the one at `open_brace` (Go strings and comments skipped)."""
    depth, i, n = 0, open_brace, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if c == "'" and i + 2 < n:
            # A rune literal ('{', '\'') would otherwise count as a brace.
            end = text.find("'", i + 3 if text[i + 1] == "\\" else i + 2)
            i = n if end < 0 else end + 1
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


def _children(body: str) -> list[tuple[str, str, str]]:
    """(key expression, type expression or "", block text) of the direct children of a schema map body."""
    out: list[tuple[str, str, str]] = []
    i = 0
    while True:
        m = _KEY.search(body, i)
        if m is None:
            return out
        end = _block_end(body, m.end() - 1)
        out.append((m.group(1), m.group(2) or "", body[m.end() : end - 1]))
        i = end


def top_level_attributes(body: str) -> list[tuple[str, str]]:
    """(key expression, block text) of the direct children of a schema map body."""
    return [(key, block) for key, _, block in _children(body)]


@dataclass(frozen=True)
class Attribute:
    """One attribute of a schema: its key expressions from the top (`("names.AttrName",)`, or a block's
    key then the nested key), whether each level is a list/set of more than one item."""

    keys: tuple[str, ...]
    many: tuple[bool, ...]


@dataclass
class Forcing:
    always: list[Attribute] = field(default_factory=list)
    conditional: dict[str, str] = field(default_factory=dict)  # key expression -> where the condition lives
    many: dict[str, bool] = field(default_factory=dict)  # top-level terraform name -> a list/set of several


def _own_part(block: str) -> tuple[str, str | None]:
    """(the attribute's own settings, the body of its nested element schema or None)."""
    nested = _NESTED.search(block)
    if nested is None:
        return block, None
    own = block[: nested.start()] + block[_block_end(block, nested.end() - 1) :]
    inner = re.search(r"map\[[^\]]*\][\w.*]*\s*\{", block[nested.start() :])
    if inner is None:
        return own, None
    start = nested.start() + inner.end() - 1
    return own, block[start + 1 : _block_end(block, start) - 1]


def _is_many(own: str) -> bool:
    """A list or set block the bridge keeps a list: anything but `MaxItems: 1`."""
    if not re.search(r"Type:\s*schema\.Type(List|Set)\b|(List|Set)(Nested)?(Attribute|Block)\{", own):
        return False
    return not re.search(r"\bMaxItems:\s*1\b", own)


def _forces(own: str) -> bool:
    return bool(re.search(r"\bForceNew:\s*true\b", own)) or bool(
        re.search(r"\bRequiresReplace(IfConfigured)?\(\)", own)
    )


def _walk(body: str, parents: tuple[str, ...], many: tuple[bool, ...], out: Forcing) -> None:
    for key, kind, block in _children(body):
        own, nested = _own_part(block)
        # A framework attribute says it is a list in its type, before the brace (elasticache/
        # serverless_cache.go: `"snapshot_arns_to_restore": schema.ListAttribute{`).
        is_many = _is_many(f"{kind}{{ {own}" if kind else own)
        if not parents:
            out.many[key] = is_many
        if _forces(own):
            out.always.append(Attribute((*parents, key), (*many, is_many)))
            continue  # the whole block forces: its members add nothing
        if re.search(r"\bRequiresReplaceIf\(", own):
            out.conditional[".".join((*parents, key))] = "plan modifier RequiresReplaceIf"
        if nested is not None:
            _walk(nested, (*parents, key), (*many, is_many), out)


def _outermost_maps(source: str) -> list[str]:
    """Bodies of the schema maps that are not inside another one (a resource's schema, a state
    upgrader's old schema), largest first."""
    starts = sorted(m.end() - 1 for pattern in (_SDK_SCHEMA, _FW_ATTRIBUTES) for m in pattern.finditer(source))
    spans: list[tuple[int, int]] = []
    for start in starts:
        if any(a < start < b for a, b in spans):
            continue
        spans.append((start, _block_end(source, start)))
    return sorted((source[a + 1 : b - 1] for a, b in spans), key=len, reverse=True)


def forcing(source: str) -> Forcing:
    """What forces a replacement in a resource's Go source (one file or several joined)."""
    bodies = _outermost_maps(source)
    if not bodies:
        raise ValueError("no schema map found")
    out = Forcing()
    # The resource schema is the largest outermost map; a StateUpgrader's old schema is smaller.
    _walk(bodies[0], (), (), out)
    for pattern, where in _CONDITIONAL:
        for m in pattern.finditer(source):
            out.conditional.setdefault(m.group(1), where)
    return out


def forcing_attributes(source: str) -> list[str]:
    """Key expressions of the top-level attributes that always force a replacement."""
    return [a.keys[0] for a in forcing(source).always if len(a.keys) == 1]


def attribute_names(consts_source: str) -> dict[str, str]:
    """names.AttrX -> "x" from terraform-provider-aws names/attr_consts_gen.go."""
    return {f"names.{k}": v for k, v in _CONST.findall(consts_source)}


def resolve(key: str, consts: Mapping[str, str]) -> str:
    if key.startswith("names."):
        if key not in consts:
            raise ValueError(f"{key} is not in names/attr_consts_gen.go (give the file of the same commit)")
        return consts[key]
    return key.strip('"')


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def plural(name: str) -> str:
    """The bridge's plural of a list or set name (pulumi-terraform-bridge uses go-inflector): the common
    English rules; a name already ending in s stays."""
    if name.endswith("s"):
        return name
    if name.endswith("y") and name[-2:-1] not in "aeiou":
        return name[:-1] + "ies"
    if name.endswith(("x", "ch", "sh")):
        return name + "es"
    return name + "s"


def pulumi_path(attr: Attribute, consts: Mapping[str, str], renames: Mapping[str, str]) -> str:
    parts = []
    for depth, (key, many) in enumerate(zip(attr.keys, attr.many, strict=True)):
        tf = resolve(key, consts)
        name = renames[tf] if depth == 0 and tf in renames else (plural(camel(tf)) if many else camel(tf))
        parts.append(name + ("[]" if many and depth < len(attr.keys) - 1 else ""))
    return ".".join(parts)


@dataclass(frozen=True)
class BridgeInfo:
    auto_named: frozenset[str]  # terraform field names
    renames: Mapping[str, str]  # terraform field -> Pulumi name


def bridge_info(resources_go: str, tf_name: str) -> BridgeInfo:
    """What pulumi-aws says of one terraform resource: fields it auto-names (`tfbridge.AutoName*(...)`
    or a DefaultInfo with `AutoNamed: true`) and fields it renames (`{Name: "x"}`)."""
    m = re.search(rf'"{tf_name}"\s*:\s*\{{', resources_go)
    if m is None:
        return BridgeInfo(frozenset(), {})
    entry = resources_go[m.end() - 1 : _block_end(resources_go, m.end() - 1)]
    fields = re.search(r"Fields:\s*map\[string\]\*(?:tfbridge\.SchemaInfo|info\.Schema)\s*\{", entry)
    if fields is None:
        return BridgeInfo(frozenset(), {})
    start = fields.end() - 1
    body = entry[start + 1 : _block_end(entry, start) - 1]
    auto: set[str] = set()
    renames: dict[str, str] = {}
    for fm in re.finditer(r'"([a-z0-9_]+)"\s*:\s*', body):
        rest = body[fm.end() :]
        if rest.startswith("tfbridge.AutoName"):
            auto.add(fm.group(1))
            continue
        if not rest.startswith("{") or body[: fm.start()].count("{") != body[: fm.start()].count("}"):
            continue  # a nested field's key, not one of this map's own
        value = rest[: _block_end(rest, 0)]
        if re.search(r"Default:\s*&tfbridge\.DefaultInfo\{\s*AutoNamed:\s*true", value):
            auto.add(fm.group(1))
        name = re.match(r'\{\s*Name:\s*"(\w+)"', value)
        if name:
            renames[fm.group(1)] = name.group(1)
    return BridgeInfo(frozenset(auto), renames)


def auto_named(resources_go: str, tf_name: str) -> set[str]:
    """Terraform fields pulumi-aws auto-names for one terraform resource."""
    return set(bridge_info(resources_go, tf_name).auto_named)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None


def build(
    tpa: Path,
    tpa_ref: str,
    pulumi_aws: Path | None,
    version: str,
    *,
    refs: Mapping[str, str] | None = None,
    pulumi_aws_ref: str = "",
    previous: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    refs = refs or {}
    consts_rel = "names/attr_consts_gen.go"
    consts = attribute_names(_read(tpa / consts_rel))
    bridge_file = None
    if pulumi_aws is not None:
        bridge_file = next((rel for rel in PULUMI_AWS_FILES if (pulumi_aws / rel).is_file()), None)
        if bridge_file is None:
            raise ValueError(f"{pulumi_aws}: none of {', '.join(PULUMI_AWS_FILES)}")
    resources_go = _read(pulumi_aws / bridge_file) if pulumi_aws is not None and bridge_file else ""
    table: dict[str, dict[str, Any]] = {}
    for token, (tf_name, rels) in AWS_TYPES.items():
        paths = [tpa / "internal" / "service" / rel for rel in rels]
        if not all(p.is_file() for p in paths):
            old = (previous or {}).get(token)
            if old is not None:
                table[token] = {**dict(old), "replaceIf": dict(old.get("replaceIf", {}))}
                source = str(old.get("source", ""))
                if not source.startswith("transcribed"):
                    table[token]["source"] = "transcribed (kept from the previous table): " + source
                print(f"replace_table: {token}: source not given; previous entry kept", file=sys.stderr)
            else:
                print(f"replace_table: {token}: source not given; left out", file=sys.stderr)
            continue
        found = forcing("\n".join(_read(p) for p in paths))
        bridge = bridge_info(resources_go, tf_name)
        replace_on = [pulumi_path(a, consts, bridge.renames) for a in found.always]
        top = {resolve(a.keys[0], consts) for a in found.always if len(a.keys) == 1}
        # The bridge auto-names an optional `name` of every resource by default.
        auto = set(bridge.auto_named) | ({"name"} if "name" in top else set())
        conditional = {}
        for key, where in found.conditional.items():
            tf_parts = resolve(key, consts).split(".")
            many = any(m and resolve(k, consts) == tf_parts[0] for k, m in found.many.items())
            head = bridge.renames.get(tf_parts[0]) or (plural(camel(tf_parts[0])) if many else camel(tf_parts[0]))
            # Terraform's `block.0.attr` (elasticsearch/domain.go: "encrypt_at_rest.0.enabled") is the
            # first item of the block: the bridge makes a MaxItems-1 block an object, so the index goes;
            # in a list of several the path reads every item.
            if len(tf_parts) > 1 and tf_parts[1].isdigit() and many:
                head += "[]"
            conditional[".".join([head, *(camel(p) for p in tf_parts[1:] if not p.isdigit())])] = where
        sources = [f"internal/service/{rel}@{refs.get('internal/service/' + rel, tpa_ref)}" for rel in rels]
        sources.append(f"{consts_rel}@{refs.get(consts_rel, tpa_ref)}")
        if bridge_file:
            sources.append(f"pulumi-aws {bridge_file}@{pulumi_aws_ref or '?'}")
        table[token] = {
            "replaceOn": replace_on,
            "replaceIf": conditional,
            "autoNamed": sorted(camel(n) for n in auto if n in top),
            "source": "; ".join(sources),
        }
    for alias, token in SAME_AS.items():
        if token in table:
            table[alias] = {**table[token], "source": table[token]["source"] + f" (alias of {token})"}
    table.update(KUBERNETES)
    return table


HEADER = '''"""Which inputs force a replacement of each stateful type: written by policies/tools/replace_table.py
(do not edit; rerun it after upgrading pulumi-aws, see its docstring).

`REPLACE_ON[type]["replaceOn"]` are input paths (camelCase engine keys, dots into objects, `[]` into
each item of a list) whose change the provider always meets with a replacement; `replaceIf` are those
it replaces only under a condition it evaluates itself (CustomizeDiff, RequiresReplaceIf), noted but
not judged; `autoNamed` are those the provider fills with a generated name when the program leaves
them out (the prior name is kept on later updates). `source` names each file the entry was derived
from and its commit; an entry marked "transcribed" was not derived (its source file was not given).
"""
'''


def render(table: Mapping[str, Any], version: str, tpa_ref: str) -> str:
    derived = sorted(t for t, e in table.items() if not str(e.get("source", "")).startswith("transcribed"))
    transcribed = sorted(t for t in table if t not in derived)
    return (
        HEADER
        # The sources name files with their 40-digit commits; the generator, not a person, lays them out.
        + "\n# ruff: noqa: E501\n\nfrom __future__ import annotations\n\nfrom typing import Any\n\n"
        + f"PULUMI_AWS_VERSION = {version!r}\n"
        + f"TERRAFORM_PROVIDER_AWS_REF = {tpa_ref!r}\n"
        + f"DERIVED = {pprint.pformat(derived, width=110)}\n"
        + f"TRANSCRIBED = {pprint.pformat(transcribed, width=110)}\n\n"
        + f"REPLACE_ON: dict[str, dict[str, Any]] = {pprint.pformat(dict(table), width=110, sort_dicts=True)}\n"
    )


def _refs(given: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in given:
        path, sep, commit = pair.partition("=")
        if not sep or not path or not commit:
            raise ValueError(f"--ref {pair!r}: expected PATH=COMMIT")
        out[path] = commit
    return out


def _previous(output: Path) -> dict[str, Any]:
    """The current table's entries (to keep those whose source is not given)."""
    if not output.is_file():
        return {}
    import runpy

    return dict(runpy.run_path(str(output)).get("REPLACE_ON", {}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m policies.tools.replace_table", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "--terraform-provider-aws", type=Path, required=True, help="copy of hashicorp/terraform-provider-aws"
    )
    parser.add_argument("--terraform-provider-aws-ref", required=True, help="its commit (recorded in the table)")
    parser.add_argument(
        "--ref", action="append", default=[], metavar="PATH=COMMIT", help="the commit of one file, where they differ"
    )
    parser.add_argument("--pulumi-aws", type=Path, help="copy of pulumi/pulumi-aws at the installed version's tag")
    parser.add_argument("--pulumi-aws-ref", default="", help="its commit (recorded in the table)")
    parser.add_argument("--pulumi-aws-version", default=None, help="default: the installed pulumi_aws")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).resolve().parents[1] / "rules" / "replacements.py"
    )
    args = parser.parse_args(argv)
    version = args.pulumi_aws_version or importlib.metadata.version("pulumi_aws")
    try:
        table = build(
            args.terraform_provider_aws,
            args.terraform_provider_aws_ref,
            args.pulumi_aws,
            version,
            refs=_refs(args.ref),
            pulumi_aws_ref=args.pulumi_aws_ref,
            previous=_previous(args.output),
        )
    except (OSError, ValueError) as exc:
        print(f"replace_table: error: {exc}", file=sys.stderr)
        return 2
    args.output.write_text(render(table, version, args.terraform_provider_aws_ref), encoding="utf-8")
    print(f"replace_table: {len(table)} types written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
