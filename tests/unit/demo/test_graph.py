"""DOT generation from captured resources: nodes, component clusters, dependency edges."""

import re
from pathlib import Path

import pytest

from demo.graph import GraphError, build_graph, main, render, short_type, to_dot
from policies.gate.mockengine import Resource

STACK = "urn:pulumi:prod::stateless-stack::pulumi:pulumi:Stack::stateless-stack-prod"


def res(name, type_, *, parent=STACK, deps=(), prop_deps=None, custom=True):
    urn = f"urn:pulumi:prod::stateless-stack::{type_}::{name}"
    return Resource(
        urn=urn,
        type=type_,
        name=name,
        inputs={},
        parent=parent,
        dependencies=tuple(deps),
        property_dependencies=prop_deps or {},
        custom=custom,
        provider=None,
    )


@pytest.fixture
def resources():
    stack = res("stateless-stack-prod", "pulumi:pulumi:Stack", parent=None, custom=False)
    provider = res("default_7_51_0", "pulumi:providers:aws")
    network = res("main", "stateless:network:Network", custom=False)
    vpc = res("main-vpc", "aws:ec2/vpc:Vpc", parent=network.urn)
    subnet = res("main-subnet-a", "aws:ec2/subnet:Subnet", parent=network.urn, deps=[vpc.urn])
    db = res("db", "stateless:database:Database", custom=False, deps=[network.urn])
    rds = res(
        "db-instance", "aws:rds/instance:Instance", parent=db.urn, prop_deps={"dbSubnetGroupName": (subnet.urn,)}
    )
    bucket = res("receipts", "aws:s3/bucket:Bucket")
    return [stack, provider, network, vpc, subnet, db, rds, bucket]


def test_custom_resources_are_nodes_and_components_are_clusters(resources):
    graph = build_graph(resources)
    names = {graph.labels[u][0] for u in graph.nodes}
    assert names == {"main-vpc", "main-subnet-a", "db-instance", "receipts"}
    assert {graph.labels[u][0] for u in graph.clusters} == {"main", "db"}


def test_stack_and_providers_are_hidden_and_children_are_lifted_to_top_level(resources):
    graph = build_graph(resources)
    bucket = next(u for u in graph.nodes if u.endswith("::receipts"))
    assert graph.parent[bucket] is None
    assert not any("pulumi:providers" in u or "pulumi:pulumi:Stack" in u for u in graph.labels)


def test_parents_nest_children_in_their_component(resources):
    graph = build_graph(resources)
    vpc = next(u for u in graph.nodes if u.endswith("::main-vpc"))
    assert graph.parent[vpc] is not None and graph.parent[vpc].endswith("::main")


def test_dependencies_and_property_dependencies_become_edges(resources):
    graph = build_graph(resources)
    pairs = {(graph.labels[a][0], graph.labels[b][0]) for a, b in graph.edges}
    assert ("main-vpc", "main-subnet-a") in pairs  # dependencies
    assert ("main-subnet-a", "db-instance") in pairs  # property dependencies
    assert ("main", "db") in pairs  # component on component


def test_dot_declares_clusters_nodes_and_compound_edges(resources):
    dot = to_dot(build_graph(resources), title="prod")
    assert dot.count("subgraph cluster_") == 2
    assert re.search(r'label="main-vpc\\nec2\.Vpc"', dot)
    assert "compound=true" in dot
    # The component-to-component edge is drawn between the cluster borders.
    assert re.search(r"a\d+ -> a\d+ \[ltail=cluster_\d+, lhead=cluster_\d+\];", dot)
    # Every node is declared inside the cluster of its component.
    network_block = dot.split('label="main (Network)"')[1].split("}")[0]
    assert "main-vpc" in network_block and "main-subnet-a" in network_block and "receipts" not in network_block


def test_labels_with_quotes_are_escaped():
    dot = to_dot(build_graph([res('odd"name', "aws:s3/bucket:Bucket")]))
    assert 'label="odd\\"name\\ns3.Bucket"' in dot


def test_short_type_names():
    assert short_type("aws:ec2/subnet:Subnet") == "ec2.Subnet"
    assert short_type("kubernetes:apps/v1:Deployment") == "apps.Deployment"
    assert short_type("stateless:edge:Edge") == "Edge"
    assert short_type("odd") == "odd"


def test_dot_accepts_the_generated_text_and_renders_svg(resources, tmp_path: Path):
    out = render(to_dot(build_graph(resources), title="t"), tmp_path / "g.svg")
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "ec2.Vpc" in text and "rds.Instance" in text


def test_unknown_format_is_refused(tmp_path: Path):
    with pytest.raises(GraphError, match="unknown output format 'gif'"):
        render("digraph {}", tmp_path / "g.gif")


def test_cli_draws_a_program_and_reports_a_broken_one(tmp_path: Path, capsys):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: tiny\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi, pulumi_aws as aws\n"
        "class Net(pulumi.ComponentResource):\n"
        "    def __init__(self, name):\n"
        "        super().__init__('tiny:net:Net', name, None)\n"
        "        child = pulumi.ResourceOptions(parent=self)\n"
        "        self.vpc = aws.ec2.Vpc(f'{name}-vpc', cidr_block='10.0.0.0/16', opts=child)\n"
        "        self.register_outputs({})\n"
        "net = Net('net')\n"
        "aws.ec2.Subnet('sub', vpc_id=net.vpc.id, cidr_block='10.0.1.0/24')\n"
        "if pulumi.Config().get_bool('fail'):\n"
        "    raise ValueError('stacks/Pulumi.broken.yaml: tiny:fail is set')\n"
    )
    (tmp_path / "stacks" / "Pulumi.broken.yaml").write_text("config:\n  tiny:fail: true\n")
    assert main(["--stack", "dev", "--program", str(tmp_path), "--output", str(tmp_path / "g.dot")]) == 0
    dot = (tmp_path / "g.dot").read_text()
    assert "subgraph cluster_0" in dot and "net-vpc" in dot and re.search(r"n\d+ -> n\d+;", dot)
    assert "2 resources, 1 components, 1 edges" in capsys.readouterr().out

    assert main(["--stack", "broken", "--program", str(tmp_path), "--output", str(tmp_path / "x.dot")]) == 2
    assert "stack broken: stacks/Pulumi.broken.yaml: tiny:fail is set" in capsys.readouterr().err
    assert not (tmp_path / "x.dot").exists()


def test_the_dot_does_not_depend_on_registration_order(resources):
    assert to_dot(build_graph(resources)) == to_dot(build_graph(list(reversed(resources))))
