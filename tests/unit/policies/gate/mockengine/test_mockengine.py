"""The mock-engine harness: project and stack config as the CLI reads them, capture, and errors."""

from pathlib import Path

import pytest

from policies.gate.mockengine import (
    PLACEHOLDER_SECRET_PREFIX,
    ProgramError,
    ProjectError,
    load_project,
    load_stack_config,
    run_program,
)

PROGRAM = """
import pulumi
import pulumi_aws as aws
from helper import label

cfg = pulumi.Config()


class Group(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("test:index:Group", name, None, opts)
        self.vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block="10.0.0.0/16", opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})


group = Group("net")
zones = aws.get_availability_zones()
for i in range(cfg.require_int("subnets")):
    aws.ec2.Subnet(f"s{i}", vpc_id=group.vpc.id, cidr_block=f"10.0.{i}.0/24",
                   availability_zone=zones.names[i], tags={"Name": label(i)})
db = aws.rds.Instance("db", engine="postgres", instance_class="db.t4g.micro", allocated_storage=20,
                      username="app", password=cfg.require_secret("dbPassword"))
if cfg.get_bool("fail"):
    raise ValueError("stacks/Pulumi.dev.yaml: demo:fail asks the program to fail")
pulumi.export("endpoint", db.endpoint)
pulumi.export("region", aws.get_region().region)
"""


@pytest.fixture
def program(tmp_path: Path) -> Path:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "Pulumi.yaml").write_text(
        "name: demo\nruntime:\n  name: python\nmain: src/\nstackConfigDir: stacks\n"
        "config:\n  demo:subnets:\n    type: integer\n    description: how many\n    default: 2\n"
        "  fail:\n    type: boolean\n    default: false\n"
    )
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  demo:dbPassword:\n    secure: AAABBBCCC\n"
    )
    (tmp_path / "src" / "__main__.py").write_text(PROGRAM)
    (tmp_path / "src" / "helper.py").write_text("def label(i):\n    return f'subnet-{i}'\n")
    return tmp_path


def test_stack_config_merges_defaults_and_hides_secure_values(program: Path) -> None:
    project = load_project(program)
    config = load_stack_config(project, "dev")
    assert project.main_dir == program / "src"
    assert config.values["demo:subnets"] == 2
    assert config.values["demo:fail"] is False
    assert config.values["demo:dbPassword"] == PLACEHOLDER_SECRET_PREFIX + "dbPassword"
    assert "AAABBBCCC" not in str(config.values)
    assert config.secret_keys == {"demo:dbPassword"}


def test_run_captures_types_parents_dependencies_and_secrets(program: Path) -> None:
    run = run_program(program, "dev")
    subnets = sorted(run.of_type("aws:ec2/subnet:Subnet"), key=lambda s: s.name)
    assert [s.inputs["availabilityZone"] for s in subnets] == ["eu-west-1a", "eu-west-1b"]
    vpc = run.one("aws:ec2/vpc:Vpc")
    group = run.one("test:index:Group")
    assert vpc.parent == group.urn and not group.custom and vpc.custom
    assert all(vpc.urn in s.dependencies for s in subnets)
    db = run.one("aws:rds/instance:Instance")
    assert db.inputs["allocatedStorage"] == 20 and isinstance(db.inputs["allocatedStorage"], int)
    assert db.secret_paths == ("password",)
    assert run.outputs["region"] == "eu-west-1"
    assert run.outputs["endpoint"].endswith(".eu-west-1.rds.amazonaws.com:5432")


def test_overrides_win_and_program_modules_are_imported_afresh(program: Path) -> None:
    assert len(run_program(program, "dev").of_type("aws:ec2/subnet:Subnet")) == 2
    (program / "src" / "helper.py").write_text("def label(i):\n    return f'changed-{i}'\n")
    run = run_program(program, "dev", config_overrides={"subnets": 3})
    subnets = sorted(run.of_type("aws:ec2/subnet:Subnet"), key=lambda s: s.name)
    assert [s.inputs["tags"]["Name"] for s in subnets] == ["changed-0", "changed-1", "changed-2"]


def test_a_failing_program_is_a_program_error_with_its_message(program: Path) -> None:
    with pytest.raises(ProgramError, match="demo:fail asks the program to fail"):
        run_program(program, "dev", config_overrides={"demo:fail": True})


def test_a_wrong_keyword_is_a_program_error(program: Path) -> None:
    main = program / "src" / "__main__.py"
    main.write_text(main.read_text().replace("cidr_block=f", "cidr_blok=f"))
    with pytest.raises(ProgramError, match="unexpected keyword argument 'cidr_blok'"):
        run_program(program, "dev")


def test_a_declared_type_is_enforced(program: Path) -> None:
    (program / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  demo:subnets: two\n")
    with pytest.raises(ProjectError, match="demo:subnets is declared as integer"):
        load_stack_config(load_project(program), "dev")


def test_missing_project_file_and_bad_yaml_are_project_errors(tmp_path: Path, program: Path) -> None:
    with pytest.raises(ProjectError, match="no Pulumi.yaml"):
        load_project(tmp_path / "nowhere")
    (program / "stacks" / "Pulumi.dev.yaml").write_text("config: [unclosed\n")
    with pytest.raises(ProjectError, match="not valid YAML"):
        load_stack_config(load_project(program), "dev")


def test_a_stack_without_a_file_runs_on_declared_defaults(program: Path) -> None:
    config = load_stack_config(load_project(program), "ci")
    assert config.path is None and config.values["demo:subnets"] == 2


def test_recorded_ids_are_the_ids_dependents_receive(program: Path) -> None:
    run = run_program(program, "dev")
    vpc = run.one("aws:ec2/vpc:Vpc")
    assert vpc.outputs["id"].startswith("vpc-")
    assert {s.inputs["vpcId"] for s in run.of_type("aws:ec2/subnet:Subnet")} == {vpc.outputs["id"]}


def test_main_may_name_a_python_file(program: Path) -> None:
    (program / "src" / "__main__.py").rename(program / "src" / "stack.py")
    project_file = program / "Pulumi.yaml"
    project_file.write_text(project_file.read_text().replace("main: src/", "main: src/stack.py"))
    run = run_program(program, "dev")
    assert len(run.of_type("aws:ec2/subnet:Subnet")) == 2
    project_file.write_text(project_file.read_text().replace("src/stack.py", "src/"))
    with pytest.raises(ProjectError, match="neither a .py file nor a directory with __main__.py"):
        load_project(program)
