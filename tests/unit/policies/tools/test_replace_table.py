"""The table generator reads ForceNew / RequiresReplace() the way the provider declares them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from policies.tools import replace_table

# A resource schema written the way terraform-plugin-sdk v2 resources declare theirs: top-level
# attributes, one with a nested element schema whose own ForceNew must not count for its parent.
SDK_SOURCE = """
package widget

var widgetSchema = map[string]*schema.Schema{
    names.AttrName: {
        Type:     schema.TypeString,
        Optional: true,
        Computed: true,
        ForceNew: true,
    },
    "size_gb": {
        Type:     schema.TypeInt,
        Optional: true,
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
    "storage_encrypted": {
        Type:        schema.TypeBool,
        Description: "a } brace in a string",
        ForceNew:    true,
    },
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
            "description": schema.StringAttribute{
                Optional: true,
            },
        },
    }
}
"""


def test_sdk_force_new_top_level_attributes():
    assert replace_table.forcing_attributes(SDK_SOURCE) == ["names.AttrName", '"storage_encrypted"']


def test_framework_requires_replace():
    assert replace_table.forcing_attributes(FRAMEWORK_SOURCE) == ['"kms_key_id"']


def test_names_and_auto_names():
    consts = replace_table.attribute_names('const (\n\tAttrName = "name"\n\tAttrARN = "arn"\n)\n')
    assert consts == {"names.AttrName": "name", "names.AttrARN": "arn"}
    assert replace_table.camel("storage_encrypted") == "storageEncrypted"
    resources_go = (
        '"aws_widget": {\n\tFields: map[string]*tfbridge.SchemaInfo{\n'
        '\t\t"identifier": tfbridge.AutoNameTransform("identifier", 63, nil),\n\t},\n},'
    )
    assert replace_table.auto_named(resources_go, "aws_widget") == {"identifier"}


def test_build_writes_a_table_that_records_its_versions(tmp_path: Path):
    tpa = tmp_path / "tpa"
    (tpa / "names").mkdir(parents=True)
    (tpa / "names" / "attr_consts_gen.go").write_text('const (\n\tAttrName = "name"\n)\n')
    (tpa / "internal" / "service" / "sqs").mkdir(parents=True)
    (tpa / "internal" / "service" / "sqs" / "queue.go").write_text(
        SDK_SOURCE.replace("storage_encrypted", "fifo_queue")
    )
    table = replace_table.build(tpa, "v9.9.9", None, "7.0.0")
    assert table["aws:sqs/queue:Queue"]["replaceOn"] == ["name", "fifoQueue"]
    assert table["aws:sqs/queue:Queue"]["autoNamed"] == ["name"]
    text = replace_table.render(table, "7.0.0", "v9.9.9")
    module = tmp_path / "replacements_written.py"
    module.write_text(text)
    spec = importlib.util.spec_from_file_location("replacements_written", module)
    assert spec is not None and spec.loader is not None
    written = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(written)
    namespace = vars(written)
    assert namespace["PULUMI_AWS_VERSION"] == "7.0.0"
    assert namespace["TERRAFORM_PROVIDER_AWS_REF"] == "v9.9.9"
