"""The table generator reads ForceNew / RequiresReplace() / CustomizeDiff the way the provider declares
them; the snippets are modelled on terraform-provider-aws files (sqs/queue.go: a package-level schema
variable and names.Attr constants; rds/instance.go: MaxItems-1 blocks with nested ForceNew;
efs/file_system.go and docdb/cluster.go: SchemaFunc; elasticache/replication_group.go: customdiff.ForceNewIf;
elasticache/serverless_cache.go: framework list attributes) and on pulumi-aws provider/resource_overrides.go."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from policies.tools import replace_table

# terraform-plugin-sdk v2, laid out as sqs/queue.go: the schema is a package-level variable that the
# resource function names; one attribute's nested element schema must not count for its parent.
SDK_SOURCE = """
package widget

var (
    widgetSchema = map[string]*schema.Schema{
        names.AttrName: {
            Type:     schema.TypeString,
            Optional: true,
            Computed: true,
            ForceNew: true,
        },
        "size_gb": {
            Type:     schema.TypeInt,
            Optional: true,
            DiffSuppressFunc: func(k, old, new string, d *schema.ResourceData) bool {
                return old == "{"
            },
        },
        "storage_encrypted": {
            Type:        schema.TypeBool,
            Description: "a } brace in a string",
            ForceNew:    true,
        },
        names.AttrTags: tftags.TagsSchema(),
    }
)

func resourceWidget() *schema.Resource {
    return &schema.Resource{
        CustomizeDiff: resourceWidgetCustomizeDiff,
        Schema:        widgetSchema,
    }
}
"""

# rds/instance.go: a MaxItems-1 block that forces as a whole, one whose members force, a list of
# several whose member forces, and a ForceNew-free block; then a state upgrader's smaller old schema.
BLOCKS_SOURCE = """
func ResourceWidget() *schema.Resource {
    return &schema.Resource{
        Schema: map[string]*schema.Schema{
            "restore_to_point_in_time": {
                Type:     schema.TypeList,
                Optional: true,
                MaxItems: 1,
                ForceNew: true,
                Elem: &schema.Resource{
                    Schema: map[string]*schema.Schema{
                        "restore_time": {Type: schema.TypeString, Optional: true},
                    },
                },
            },
            "s3_import": {
                Type:     schema.TypeList,
                Optional: true,
                MaxItems: 1,
                Elem: &schema.Resource{
                    Schema: map[string]*schema.Schema{
                        "bucket_name": {
                            Type:     schema.TypeString,
                            Required: true,
                            ForceNew: true,
                        },
                        "ingestion_role": {Type: schema.TypeString, Required: true},
                    },
                },
            },
            "shape": {
                Type:     schema.TypeList,
                Optional: true,
                Elem: &schema.Resource{
                    Schema: map[string]*schema.Schema{
                        "corner": {Type: schema.TypeString, ForceNew: true},
                    },
                },
            },
            "lifecycle_policy": {
                Type:     schema.TypeList,
                Optional: true,
                MaxItems: 3,
                Elem: &schema.Resource{
                    Schema: map[string]*schema.Schema{
                        "transition_to_ia": {Type: schema.TypeString, Optional: true},
                    },
                },
            },
            "kms_key_id": {
                Type:     schema.TypeString,
                Optional: true,
                ForceNew: true,
            },
        },
        CustomizeDiff: customdiff.All(
            customdiff.ForceNewIfChange("allocated_storage", func(_ context.Context, old, new, meta any) bool {
                return new.(int) < old.(int)
            }),
            customdiff.ForceNewIf("node_group_configuration", func(ctx context.Context, d *schema.ResourceDiff,
                meta any) bool {
                return true
            }),
        ),
    }
}

func resourceWidgetV0() *schema.Resource {
    return &schema.Resource{
        Schema: map[string]*schema.Schema{
            "legacy": {Type: schema.TypeString, ForceNew: true},
        },
    }
}
"""

# efs/file_system.go: the schema returned by SchemaFunc.
SCHEMA_FUNC_SOURCE = """
func resourceWidget() *schema.Resource {
    return &schema.Resource{
        SchemaFunc: func() map[string]*schema.Schema {
            return map[string]*schema.Schema{
                names.AttrEncrypted: {
                    Type:     schema.TypeBool,
                    Optional: true,
                    ForceNew: true,
                },
                "throughput_mode": {Type: schema.TypeString, Optional: true},
            }
        },
    }
}
"""

FRAMEWORK_SOURCE = """
func (r *widgetResource) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
    resp.Schema = schema.Schema{
        Attributes: map[string]schema.Attribute{
            "kms_key_id": schema.StringAttribute{
                Optional: true,
                PlanModifiers: []planmodifier.String{
                    stringplanmodifier.RequiresReplace(),
                },
            },
            names.AttrEngine: schema.StringAttribute{
                PlanModifiers: []planmodifier.String{
                    stringplanmodifier.RequiresReplaceIfConfigured(),
                },
            },
            "major_engine_version": schema.StringAttribute{
                PlanModifiers: []planmodifier.String{
                    stringplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.StringRequest,
                        resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
                        resp.RequiresReplace = true
                    }, "", ""),
                },
            },
            "description": schema.StringAttribute{
                Optional: true,
            },
        },
    }
}
"""

CONSTS = (
    'const (\n\tAttrName = "name"\n\tAttrEncrypted = "encrypted"\n\tAttrEngine = "engine"\n\tAttrTags = "tags"\n)\n'
)

# pulumi-aws provider/resource_overrides.go: a field auto-named by a helper, one by a DefaultInfo,
# a renamed list, and another resource's auto-name that must not leak.
OVERRIDES = """
"aws_widget": {
    Fields: map[string]*tfbridge.SchemaInfo{
        "identifier": {
            Default: &tfbridge.DefaultInfo{
                AutoNamed: true,
                ComputeDefault: func(ctx context.Context, opts tfbridge.ComputeDefaultOptions) (any, error) {
                    return tfbridge.ComputeAutoNameDefault(ctx, tfbridge.AutoNameOptions{}, opts)
                },
            },
        },
        "bucket": tfbridge.AutoNameTransform("bucket", 63, func(name string) string {
            return strings.ToLower(name)
        }),
        "shape": {Name: "shapeList"},
        "instance_class": {
            Type: "string",
        },
    },
},
"aws_other": {
    Fields: map[string]*tfbridge.SchemaInfo{
        "other_name": tfbridge.AutoName("otherName", 255, "-"),
    },
},
"""


def test_sdk_force_new_in_a_schema_variable_with_constants_and_braces_in_strings():
    assert replace_table.forcing_attributes(SDK_SOURCE) == ["names.AttrName", '"storage_encrypted"']


def test_nested_blocks_conditions_and_the_resource_schema_not_its_upgraders():
    found = replace_table.forcing(BLOCKS_SOURCE)
    assert [(a.keys, a.many) for a in found.always] == [
        (('"restore_to_point_in_time"',), (False,)),
        (('"s3_import"', '"bucket_name"'), (False, False)),
        (('"shape"', '"corner"'), (True, False)),
        (('"kms_key_id"',), (False,)),
    ]
    assert found.conditional == {
        '"allocated_storage"': "CustomizeDiff customdiff.ForceNewIfChange",
        '"node_group_configuration"': "CustomizeDiff customdiff.ForceNewIf",
    }
    assert found.many['"lifecycle_policy"'] is True and found.many['"s3_import"'] is False


def test_schema_func_and_framework_plan_modifiers():
    assert replace_table.forcing_attributes(SCHEMA_FUNC_SOURCE) == ["names.AttrEncrypted"]
    found = replace_table.forcing(FRAMEWORK_SOURCE)
    assert [a.keys[0] for a in found.always] == ['"kms_key_id"', "names.AttrEngine"]
    assert found.conditional == {'"major_engine_version"': "plan modifier RequiresReplaceIf"}


def test_a_file_without_a_schema_is_refused():
    with pytest.raises(ValueError, match="no schema map found"):
        replace_table.forcing("package widget\n")


def test_paths_are_the_bridges_names():
    consts = replace_table.attribute_names(CONSTS)
    assert consts["names.AttrEncrypted"] == "encrypted"
    found = replace_table.forcing(BLOCKS_SOURCE)
    paths = [replace_table.pulumi_path(a, consts, {}) for a in found.always]
    assert paths == ["restoreToPointInTime", "s3Import.bucketName", "shapes[].corner", "kmsKeyId"]
    renamed = [replace_table.pulumi_path(a, consts, {"shape": "shapeList"}) for a in found.always]
    assert renamed[2] == "shapeList[].corner"
    assert [replace_table.plural(n) for n in ("policy", "key", "box", "branch", "azs", "day")] == [
        "policies",
        "keys",
        "boxes",
        "branches",
        "azs",
        "days",
    ]
    with pytest.raises(ValueError, match=r"names\.AttrKMSKeyID is not in names/attr_consts_gen\.go"):
        replace_table.resolve("names.AttrKMSKeyID", consts)


def test_auto_names_and_renames_of_one_resource():
    info = replace_table.bridge_info(OVERRIDES, "aws_widget")
    assert info.auto_named == {"identifier", "bucket"}
    assert dict(info.renames) == {"shape": "shapeList"}
    assert replace_table.auto_named(OVERRIDES, "aws_other") == {"other_name"}
    assert replace_table.auto_named(OVERRIDES, "aws_missing") == set()
    assert replace_table.auto_named('"aws_bare": {Tok: awsResource(m, "Bare")},', "aws_bare") == set()


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    tpa = tmp_path / "tpa"
    (tpa / "names").mkdir(parents=True)
    (tpa / "names" / "attr_consts_gen.go").write_text(CONSTS)
    (tpa / "internal" / "service" / "sqs").mkdir(parents=True)
    (tpa / "internal" / "service" / "sqs" / "queue.go").write_text(
        SDK_SOURCE.replace("storage_encrypted", "fifo_queue")
    )
    (tpa / "internal" / "service" / "rds").mkdir(parents=True)
    (tpa / "internal" / "service" / "rds" / "instance.go").write_text(
        BLOCKS_SOURCE.replace('"kms_key_id": {', '"identifier": {')
    )
    pulumi_aws = tmp_path / "pulumi-aws"
    (pulumi_aws / "provider").mkdir(parents=True)
    (pulumi_aws / "provider" / "resource_overrides.go").write_text(OVERRIDES.replace("aws_widget", "aws_db_instance"))
    return tpa, pulumi_aws


def test_build_derives_each_given_type_and_names_its_sources(tmp_path: Path):
    tpa, pulumi_aws = _tree(tmp_path)
    previous = {
        "aws:kms/key:Key": {"replaceOn": ["keyUsage"], "autoNamed": [], "source": "internal/service/kms/key.go@a"}
    }
    table = replace_table.build(
        tpa,
        "c0ffee",
        pulumi_aws,
        "7.0.0",
        refs={"internal/service/rds/instance.go": "0ld"},
        pulumi_aws_ref="beef",
        previous=previous,
    )
    queue = table["aws:sqs/queue:Queue"]
    assert queue["replaceOn"] == ["name", "fifoQueue"]
    assert queue["autoNamed"] == ["name"]  # the bridge's default for an optional name
    assert queue["source"] == (
        "internal/service/sqs/queue.go@c0ffee; names/attr_consts_gen.go@c0ffee; "
        "pulumi-aws provider/resource_overrides.go@beef"
    )
    db = table["aws:rds/instance:Instance"]
    assert db["replaceOn"] == ["restoreToPointInTime", "s3Import.bucketName", "shapeList[].corner", "identifier"]
    assert db["replaceIf"] == {
        "allocatedStorage": "CustomizeDiff customdiff.ForceNewIfChange",
        "nodeGroupConfiguration": "CustomizeDiff customdiff.ForceNewIf",
    }
    assert db["autoNamed"] == ["identifier"]  # bucket is auto-named but does not force here
    assert db["source"].startswith("internal/service/rds/instance.go@0ld; ")
    # A type whose file is not given keeps its previous entry, marked; others are left out.
    assert (
        table["aws:kms/key:Key"]["source"]
        == "transcribed (kept from the previous table): internal/service/kms/key.go@a"
    )
    assert table["aws:kms/key:Key"]["replaceOn"] == ["keyUsage"]
    assert "aws:dynamodb/table:Table" not in table
    assert set(replace_table.KUBERNETES) <= set(table)


def test_render_records_versions_and_which_entries_are_derived(tmp_path: Path):
    tpa, pulumi_aws = _tree(tmp_path)
    table = replace_table.build(
        tpa, "v9.9.9", pulumi_aws, "7.0.0", previous={"aws:kms/key:Key": {"replaceOn": ["x"], "source": "transcribed"}}
    )
    module = tmp_path / "replacements_written.py"
    module.write_text(replace_table.render(table, "7.0.0", "v9.9.9"))
    spec = importlib.util.spec_from_file_location("replacements_written", module)
    assert spec is not None and spec.loader is not None
    written = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(written)
    namespace = vars(written)
    assert namespace["PULUMI_AWS_VERSION"] == "7.0.0"
    assert namespace["TERRAFORM_PROVIDER_AWS_REF"] == "v9.9.9"
    assert namespace["TRANSCRIBED"] == ["aws:kms/key:Key"]
    assert "aws:sqs/queue:Queue" in namespace["DERIVED"] and "aws:kms/key:Key" not in namespace["DERIVED"]
    assert namespace["REPLACE_ON"] == table


def test_main_writes_the_table_and_keeps_what_it_cannot_derive(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    tpa, pulumi_aws = _tree(tmp_path)
    out = tmp_path / "replacements.py"
    out.write_text('REPLACE_ON = {"aws:kms/key:Key": {"replaceOn": ["keyUsage"], "source": "kms/key.go@a"}}\n')
    args = ["--terraform-provider-aws", str(tpa), "--terraform-provider-aws-ref", "c0ffee"]
    status = replace_table.main(
        [*args, "--pulumi-aws", str(pulumi_aws), "--pulumi-aws-version", "7.1.0", "--output", str(out)]
    )
    assert status == 0
    err = capsys.readouterr().err
    assert "aws:kms/key:Key: source not given; previous entry kept" in err
    assert "aws:dynamodb/table:Table: source not given; left out" in err
    text = out.read_text()
    assert "PULUMI_AWS_VERSION = '7.1.0'" in text and "transcribed (kept from the previous table): kms/key.go@a" in text
    # Bad input is one line and status 2.
    assert replace_table.main([*args, "--ref", "no-equals", "--output", str(out)]) == 2
    assert "--ref 'no-equals': expected PATH=COMMIT" in capsys.readouterr().err
    assert replace_table.main([*args, "--pulumi-aws", str(tmp_path), "--output", str(out)]) == 2
    assert "none of provider/resource_overrides.go, provider/resources.go" in capsys.readouterr().err


def test_a_schema_split_across_files_is_read_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # rds/cluster.go names a schema function that lives in cluster_schema.go (the files are joined).
    tpa = tmp_path / "tpa"
    (tpa / "names").mkdir(parents=True)
    (tpa / "names" / "attr_consts_gen.go").write_text(CONSTS)
    service = tpa / "internal" / "service" / "widget"
    service.mkdir(parents=True)
    (service / "widget.go").write_text(
        "func resourceWidget() *schema.Resource {\n    return &schema.Resource{SchemaFunc: widgetSchema}\n}\n"
    )
    (service / "widget_schema.go").write_text(SCHEMA_FUNC_SOURCE.replace("resourceWidget", "widgetSchemaHolder"))
    monkeypatch.setattr(
        replace_table,
        "AWS_TYPES",
        {"aws:widget/widget:Widget": ("aws_widget", ("widget/widget.go", "widget/widget_schema.go"))},
    )
    table = replace_table.build(tpa, "c0ffee", None, "7.0.0")
    entry = table["aws:widget/widget:Widget"]
    assert entry["replaceOn"] == ["encrypted"]
    assert entry["source"] == (
        "internal/service/widget/widget.go@c0ffee; internal/service/widget/widget_schema.go@c0ffee; "
        "names/attr_consts_gen.go@c0ffee"
    )


def test_rune_literals_and_framework_list_blocks():
    source = """
    var s = map[string]*schema.Schema{
        "separator": {
            Type: schema.TypeString,
            ValidateFunc: func(v any, k string) ([]string, []error) {
                if strings.ContainsRune(v.(string), '{') || strings.ContainsRune(v.(string), '\\'') {
                    return nil, nil
                }
                return nil, nil
            },
        },
        "zone": {Type: schema.TypeString, ForceNew: true},
    }
    """
    assert replace_table.forcing_attributes(source) == ['"zone"']
    assert replace_table._is_many("schema.ListNestedBlock{") is True
    assert replace_table._is_many("schema.SetAttribute{ MaxItems: 1,") is False
    assert replace_table._is_many("Type: schema.TypeString,") is False
    assert replace_table.plural("mesh") == "meshes"


# docdb/cluster.go: SchemaFunc returns the schema map; its CustomizeDiff forces a replacement only when
# a block is removed.
DOCDB_SCHEMA_FUNC_SOURCE = """
func resourceCluster() *schema.Resource {
    return &schema.Resource{
        SchemaFunc: func() map[string]*schema.Schema {
            return map[string]*schema.Schema{
                names.AttrClusterIdentifier: {
                    Type:          schema.TypeString,
                    Optional:      true,
                    Computed:      true,
                    ForceNew:      true,
                    ConflictsWith: []string{"cluster_identifier_prefix"},
                },
                "master_user_secret": {
                    Type:     schema.TypeList,
                    Computed: true,
                    Elem: &schema.Resource{
                        Schema: map[string]*schema.Schema{
                            names.AttrKMSKeyID: {Type: schema.TypeString, Computed: true},
                        },
                    },
                },
                "serverless_v2_scaling_configuration": {
                    Type:     schema.TypeList,
                    Optional: true,
                    MaxItems: 1,
                    Elem: &schema.Resource{
                        Schema: map[string]*schema.Schema{
                            "min_capacity": {Type: schema.TypeFloat, Required: true},
                        },
                    },
                },
            }
        },
        CustomizeDiff: customdiff.All(
            customdiff.ForceNewIfChange("serverless_v2_scaling_configuration", func(_ context.Context,
                old, new, meta any) bool {
                return old != nil && new == nil
            }),
        ),
    }
}
"""


def test_a_schema_func_is_read_as_the_map_it_returns():
    # The function's own `func() map[string]*schema.Schema {` is not the schema: its body starts with
    # `return`, and reading it as one only worked while no key preceded the returned map.
    body = replace_table._outermost_maps(DOCDB_SCHEMA_FUNC_SOURCE)[0]
    assert body.lstrip().startswith("names.AttrClusterIdentifier")
    found = replace_table.forcing(DOCDB_SCHEMA_FUNC_SOURCE)
    assert [a.keys for a in found.always] == [("names.AttrClusterIdentifier",)]
    assert found.conditional == {'"serverless_v2_scaling_configuration"': "CustomizeDiff customdiff.ForceNewIfChange"}
    assert found.many == {
        "names.AttrClusterIdentifier": False,
        '"master_user_secret"': True,
        '"serverless_v2_scaling_configuration"': False,
    }


# elasticache/serverless_cache.go: a framework attribute's list or set type comes before its brace.
SERVERLESS_CACHE_SOURCE = """
func (r *serverlessCacheResource) Schema(ctx context.Context, request resource.SchemaRequest,
    response *resource.SchemaResponse) {
    response.Schema = schema.Schema{
        Attributes: map[string]schema.Attribute{
            names.AttrName: schema.StringAttribute{
                Required: true,
                PlanModifiers: []planmodifier.String{
                    stringplanmodifier.RequiresReplace(),
                },
            },
            "snapshot_arns_to_restore": schema.ListAttribute{
                CustomType:  fwtypes.ListOfARNType,
                ElementType: fwtypes.ARNType,
                Optional:    true,
                PlanModifiers: []planmodifier.List{
                    listplanmodifier.RequiresReplace(),
                },
            },
            names.AttrSubnetIDs: schema.SetAttribute{
                CustomType:  fwtypes.SetOfStringType,
                ElementType: types.StringType,
                Optional:    true,
                Computed:    true,
                PlanModifiers: []planmodifier.Set{
                    setplanmodifier.UseStateForUnknown(),
                    setplanmodifier.RequiresReplace(),
                },
            },
        },
    }
}
"""


def test_a_framework_list_attribute_is_a_list_the_bridge_pluralises():
    found = replace_table.forcing(SERVERLESS_CACHE_SOURCE)
    assert [(a.keys, a.many) for a in found.always] == [
        (("names.AttrName",), (False,)),
        (('"snapshot_arns_to_restore"',), (True,)),
        (("names.AttrSubnetIDs",), (True,)),
    ]
    consts = {"names.AttrName": "name", "names.AttrSubnetIDs": "subnet_ids"}
    assert [replace_table.pulumi_path(a, consts, {}) for a in found.always] == [
        "name",
        "snapshotArnsToRestores",
        "subnetIds",
    ]


def test_a_customize_diff_step_in_another_file_is_conditional(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # elasticache/cluster.go names customizeDiffEngineVersionForceNewOnDowngrade, which lives in
    # engine_version.go and calls diff.ForceNew(names.AttrEngineVersion).
    tpa = tmp_path / "tpa"
    (tpa / "names").mkdir(parents=True)
    (tpa / "names" / "attr_consts_gen.go").write_text('const (\n\tAttrEngineVersion = "engine_version"\n)\n')
    service = tpa / "internal" / "service" / "widget"
    service.mkdir(parents=True)
    (service / "cluster.go").write_text(
        'var s = map[string]*schema.Schema{\n    "cluster_id": {Type: schema.TypeString, ForceNew: true},\n'
        "    names.AttrEngineVersion: {Type: schema.TypeString, Optional: true},\n}\n"
    )
    (service / "engine_version.go").write_text(
        "func engineVersionForceNewOnDowngrade(diff forceNewDiffer) error {\n"
        "    return diff.ForceNew(names.AttrEngineVersion)\n}\n"
    )
    overrides = tmp_path / "pa" / "provider"
    overrides.mkdir(parents=True)
    (overrides / "resource_overrides.go").write_text(
        '"aws_widget_cluster": {\n    Fields: map[string]*tfbridge.SchemaInfo{\n'
        '        "cluster_id": tfbridge.AutoNameTransform("clusterId", 50, func(name string) string {\n'
        "            return strings.ToLower(name)\n        }),\n    },\n},\n"
    )
    monkeypatch.setattr(
        replace_table,
        "AWS_TYPES",
        {"aws:widget/cluster:Cluster": ("aws_widget_cluster", ("widget/cluster.go", "widget/engine_version.go"))},
    )
    entry = replace_table.build(tpa, "c0ffee", tmp_path / "pa", "7.0.0")["aws:widget/cluster:Cluster"]
    assert entry["replaceOn"] == ["clusterId"]
    assert entry["replaceIf"] == {"engineVersion": "CustomizeDiff ResourceDiff.ForceNew"}
    assert entry["autoNamed"] == ["clusterId"]


def test_a_condition_on_the_first_item_of_a_block_names_the_bridges_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # elasticsearch/domain.go: customdiff.ForceNewIf("encrypt_at_rest.0.enabled", ...) on a MaxItems-1
    # block, which the bridge makes an object; in a list of several the path reads every item.
    tpa = tmp_path / "tpa"
    (tpa / "names").mkdir(parents=True)
    (tpa / "names" / "attr_consts_gen.go").write_text('const (\n\tAttrEnabled = "enabled"\n)\n')
    service = tpa / "internal" / "service" / "widget"
    service.mkdir(parents=True)
    (service / "domain.go").write_text(
        """
        CustomizeDiff: customdiff.Sequence(
            customdiff.ForceNewIf("encrypt_at_rest.0.enabled", func(_ context.Context, d *schema.ResourceDiff,
                meta any) bool {
                return true
            }),
            customdiff.ForceNewIf("rule.0.enabled", func(_ context.Context, d *schema.ResourceDiff, meta any) bool {
                return true
            }),
        ),
        Schema: map[string]*schema.Schema{
            "domain_name": {Type: schema.TypeString, Required: true, ForceNew: true},
            "encrypt_at_rest": {
                Type:     schema.TypeList,
                Optional: true,
                MaxItems: 1,
                Elem: &schema.Resource{
                    Schema: map[string]*schema.Schema{
                        names.AttrEnabled: {Type: schema.TypeBool, Required: true},
                    },
                },
            },
            "rule": {
                Type:     schema.TypeList,
                Optional: true,
                Elem: &schema.Resource{
                    Schema: map[string]*schema.Schema{
                        names.AttrEnabled: {Type: schema.TypeBool, Required: true},
                    },
                },
            },
        },
        """
    )
    monkeypatch.setattr(replace_table, "AWS_TYPES", {"aws:widget/domain:Domain": ("aws_widget", ("widget/domain.go",))})
    entry = replace_table.build(tpa, "c0ffee", None, "7.0.0")["aws:widget/domain:Domain"]
    assert entry["replaceIf"] == {
        "encryptAtRest.enabled": "CustomizeDiff customdiff.ForceNewIf",
        "rules[].enabled": "CustomizeDiff customdiff.ForceNewIf",
    }
