"""The run as a preview: unknown outputs stay unknown and reach the record as UNKNOWN, callbacks over
them do not run and are counted, stack references, remote components and unanswered invokes are
reported, the engine's refusals fail the run, failures point at the program's line, and a run
round-trips through JSON."""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import re
import textwrap
import typing
from pathlib import Path
from typing import Any

import pulumi
import pytest

from policies.gate.mockengine import ProgramError, ProgramRun, run_program
from policies.gate.mockengine.records import UNKNOWN
from policies.gate.mockengine.run import UNANSWERED_MARK, _stand_in


def _program(tmp_path: Path, source: str, stack_config: str = "config:\n  aws:region: eu-west-1\n") -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_config)
    (tmp_path / "__main__.py").write_text(textwrap.dedent(source))
    return tmp_path


COMPUTED = """
import pulumi
import pulumi_aws as aws

api = aws.apigateway.RestApi("api", body="{}")
stage = aws.apigateway.Stage("s", rest_api=api.id, deployment="d", stage_name="v1")
arn = stage.execution_arn.apply(lambda a: a + "*/*")
arn.apply(lambda a: aws.sqs.Queue("made-in-apply"))
aws.lambda_.Permission("p", action="lambda:InvokeFunction", function="f", principal="apigateway.amazonaws.com",
                       source_arn=arn)
pulumi.export("joined", pulumi.Output.concat("x", stage.execution_arn))
"""


def test_a_computed_output_is_unknown_in_a_preview_and_callbacks_over_it_do_not_run(tmp_path: Path) -> None:
    run = run_program(_program(tmp_path, COMPUTED), "dev", preview=True)
    permission = run.one("aws:lambda/permission:Permission")
    assert permission.inputs["sourceArn"] == UNKNOWN
    assert run.unknown_inputs[permission.urn] == ["sourceArn"]
    assert not run.of_type("aws:sqs/queue:Queue")
    # The program's two callbacks; Output.concat's own join is the SDK's and is not counted.
    assert run.unrun_callbacks == 2
    assert run.preview is True


def test_as_an_update_the_same_program_sees_none_and_runs_every_callback(tmp_path: Path) -> None:
    with pytest.raises(ProgramError, match="NoneType") as failed:
        run_program(_program(tmp_path, COMPUTED), "dev")
    # The failure points at the program's own line, not at the SDK's frames.
    assert failed.value.where == (str(tmp_path / "__main__.py"), 7)


def test_a_callback_over_a_value_the_program_set_runs_and_what_it_creates_is_captured(tmp_path: Path) -> None:
    source = """
    import pulumi_aws as aws
    topic = aws.sns.Topic("t", name="orders")
    topic.name.apply(lambda n: aws.sqs.Queue("q-" + n))
    """
    run = run_program(_program(tmp_path, source), "dev", preview=True)
    assert run.one("aws:sqs/queue:Queue").name == "q-orders"
    assert run.unrun_callbacks == 0 and not run.unknown_inputs


STACK_REFERENCE = """
import pulumi
import pulumi_aws as aws

ref = pulumi.StackReference("acme/network/prod")
vpc = ref.get_output("vpcId")
ids = ref.require_output("subnetIds")
details = ref.get_output_details("vpcId")
aws.ec2.SecurityGroup("sg", vpc_id=vpc, description="d")
ids.apply(lambda xs: [aws.ec2.NetworkInterface(f"eni{i}", subnet_id=s) for i, s in enumerate(xs)])
pulumi.export("region", ref.outputs.apply(lambda o: o["region"]))
pulumi.export("known", pulumi.Output.from_input(details).apply(lambda d: d.value))
"""


def test_stack_reference_outputs_are_unknown_unless_supplied(tmp_path: Path) -> None:
    program = _program(tmp_path, STACK_REFERENCE)
    run = run_program(program, "dev", preview=True)
    assert run.one("aws:ec2/securityGroup:SecurityGroup").inputs["vpcId"] == UNKNOWN
    assert not run.of_type("aws:ec2/networkInterface:NetworkInterface")
    assert run.stack_references == [{"name": "acme/network/prod", "supplied": False}]
    assert run.outputs["known"] is None

    supplied = {"acme/network/prod": {"vpcId": "vpc-123", "subnetIds": ["subnet-a", "subnet-b"], "region": "eu"}}
    run = run_program(program, "dev", preview=True, stack_references=supplied)
    assert run.one("aws:ec2/securityGroup:SecurityGroup").inputs["vpcId"] == "vpc-123"
    assert sorted(r.inputs["subnetId"] for r in run.of_type("aws:ec2/networkInterface:NetworkInterface")) == [
        "subnet-a",
        "subnet-b",
    ]
    assert run.outputs["region"] == "eu" and run.outputs["known"] == "vpc-123"
    assert run.stack_references == [{"name": "acme/network/prod", "supplied": True}]


def test_a_required_output_missing_from_the_supplied_stack_fails_as_under_the_cli(tmp_path: Path) -> None:
    with pytest.raises(ProgramError, match="subnetIds"):
        run_program(
            _program(tmp_path, STACK_REFERENCE), "dev", preview=True,
            stack_references={"acme/network/prod": {"vpcId": "vpc-1", "region": "eu"}},
        )


def test_a_remote_component_has_unknown_outputs_and_is_recorded_as_remote(tmp_path: Path) -> None:
    source = """
    import pulumi
    import pulumi_aws as aws

    class Vpc(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("awsx:ec2:Vpc", name, {"cidrBlock": "10.0.0.0/16", "natGateways": None,
                             "vpcId": None}, None, remote=True)

    vpc = Vpc("main")
    aws.ec2.SecurityGroup("sg", vpc_id=vpc.vpcId, description="d")
    vpc.natGateways.apply(lambda gws: [aws.ec2.Eip(f"e{i}") for i, _ in enumerate(gws)])
    """
    run = run_program(_program(tmp_path, source), "dev", preview=True)
    component = run.one("awsx:ec2:Vpc")
    assert component.remote and not component.custom
    assert run.one("aws:ec2/securityGroup:SecurityGroup").inputs["vpcId"] == UNKNOWN
    assert run.unrun_callbacks == 1 and not run.of_type("aws:ec2/eip:Eip")


def test_unanswered_invokes_are_named_and_what_depends_on_them_is_unknown(tmp_path: Path) -> None:
    source = """
    import pulumi_aws as aws
    version = aws.rds.get_engine_version_output(engine="postgres")
    pair = aws.ec2.get_key_pair(key_name="deployer")
    aws.ec2.Instance("vm", ami="ami-1", instance_type="t3.micro", key_name=pair.key_name,
                     tags={"engine": version.version, "fingerprint": "fp:" + pair.fingerprint})
    aws.ec2.get_ami(most_recent=True, owners=["amazon"])
    """
    run = run_program(_program(tmp_path, source), "dev", preview=True)
    vm = run.one("aws:ec2/instance:Instance")
    assert vm.inputs["keyName"] == UNKNOWN
    assert vm.inputs["tags"] == {"engine": UNKNOWN, "fingerprint": UNKNOWN}
    assert sorted(run.unknown_inputs[vm.urn]) == ["keyName", "tags.engine", "tags.fingerprint"]
    assert run.unanswered_invokes == [
        {"token": "aws:ec2/getKeyPair:getKeyPair", "count": 1},
        {"token": "aws:rds/getEngineVersion:getEngineVersion", "count": 1},
    ]


def test_a_duplicate_urn_fails_the_run_as_the_engine_does(tmp_path: Path) -> None:
    source = """
    import pulumi_aws as aws
    aws.sqs.Queue("jobs")
    aws.sqs.Queue("jobs")
    """
    with pytest.raises(ProgramError) as failed:
        run_program(_program(tmp_path, source), "dev", preview=True)
    assert re.fullmatch(
        r"Duplicate resource URN 'urn:pulumi:dev::demo::\S*aws:sqs/queue:Queue::jobs'; try giving it a unique name",
        str(failed.value),
    )
    assert failed.value.where == (str(tmp_path / "__main__.py"), 4)


def test_a_failure_in_a_module_of_the_program_points_at_that_module(tmp_path: Path) -> None:
    program = _program(tmp_path, "import helper\nhelper.build()\n")
    (program / "helper.py").write_text("def build():\n    settings = {}\n    return settings['size']\n")
    with pytest.raises(ProgramError, match="KeyError") as failed:
        run_program(program, "dev", preview=True)
    assert failed.value.where == (str(program / "helper.py"), 3)


def test_a_resource_passed_as_an_input_reaches_the_provider_as_its_id(tmp_path: Path) -> None:
    source = """
    import pulumi_aws as aws
    role = aws.iam.Role("r", assume_role_policy="{}")
    aws.iam.RolePolicyAttachment("a", role=role, policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    """
    for _ in range(5):
        run = run_program(_program(tmp_path, source), "dev", preview=True)
        role = run.one("aws:iam/role:Role")
        attachment = run.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        assert attachment.inputs["role"] == role.urn
        assert attachment.outputs["role"] == role.outputs["id"]


def test_a_run_round_trips_through_json(tmp_path: Path) -> None:
    run = run_program(_program(tmp_path, STACK_REFERENCE), "dev", preview=True)
    # Everything but the stack config (a set of secret keys and the file's path) is plain JSON data.
    # Tuples come back as lists; nothing needs a custom encoder (no Unknown object, no set).
    plain = {k: v for k, v in dataclasses.asdict(run).items() if k != "config"}
    back = json.loads(json.dumps(plain))
    assert back["resources"][0]["inputs"] == plain["resources"][0]["inputs"]
    assert back["outputs"] == plain["outputs"] == {"region": UNKNOWN, "known": None}
    assert {f.name for f in dataclasses.fields(ProgramRun)} >= {
        "unrun_callbacks",
        "unanswered_invokes",
        "stack_references",
        "unknown_inputs",
    }
    assert plain["unrun_callbacks"] == 2 and plain["stack_references"][0]["supplied"] is False


def test_a_method_call_on_a_remote_component_is_unknown_and_named(tmp_path: Path) -> None:
    source = """
    import pulumi
    import pulumi_aws as aws

    class Cluster(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("eks:index:Cluster", name, {"kubeconfig": None}, None, remote=True)

        def get_kubeconfig(self):
            return pulumi.runtime.call("eks:index:Cluster/getKubeconfig", {"__self__": self}, self)

    Cluster("apps").get_kubeconfig().apply(lambda k: aws.ssm.Parameter("kc", type="String", value=k))
    """
    run = run_program(_program(tmp_path, source), "dev", preview=True)
    assert run.unanswered_invokes == [{"token": "eks:index:Cluster/getKubeconfig", "count": 1}]
    assert run.unrun_callbacks == 1 and not run.of_type("aws:ssm/parameter:Parameter")


def test_a_custom_resource_with_a_malformed_type_token_is_refused(tmp_path: Path) -> None:
    source = """
    import pulumi

    class Thing(pulumi.CustomResource):
        def __init__(self, name):
            super().__init__("acme:Thing", name, {})

    Thing("t")
    """
    refused = r"Type 'acme:Thing' is not a valid type token \(must have format '\*:\*:\*'\)"
    with pytest.raises(ProgramError, match=refused):
        run_program(_program(tmp_path, source), "dev", preview=True)


# The stand-in a plain invoke the gate cannot answer returns: the result type's shape, every string a
# marker naming the invoke and the property.



@pulumi.output_type
class _Leaf:
    def __init__(self, arn: str) -> None:
        pulumi.set(self, "arn", arn)

    @property
    @pulumi.getter
    def arn(self) -> str:
        return typing.cast(str, pulumi.get(self, "arn"))


@pulumi.output_type
class _Outer:
    def __init__(self, leaf: _Leaf) -> None:
        pulumi.set(self, "leaf", leaf)

    @property
    @pulumi.getter
    def leaf(self) -> _Leaf:
        return typing.cast(_Leaf, pulumi.get(self, "leaf"))


@pulumi.output_type
class _Top:
    def __init__(self, outer: _Outer) -> None:
        pulumi.set(self, "outer", outer)

    @property
    @pulumi.getter
    def outer(self) -> _Outer:
        return typing.cast(_Outer, pulumi.get(self, "outer"))


def test_an_unanswered_invokes_stand_in_has_the_result_types_shape() -> None:
    token = "aws:ec2/getAmi:getAmi"
    assert _stand_in(str, token, "image_id") == f"{UNANSWERED_MARK}{token}:image_id" == (
        "unanswered-invoke:aws:ec2/getAmi:getAmi:image_id")
    assert _stand_in(bool, token, "x") is False
    assert _stand_in(int, token, "x") == 0 and type(_stand_in(int, token, "x")) is int
    assert _stand_in(float, token, "x") == 0
    for empty_list in (list, list[str], typing.List[str], typing.Sequence[str], collections.abc.Sequence[str]):  # noqa: UP006
        assert _stand_in(empty_list, token, "x") == [], empty_list
    for empty_map in (dict, dict[str, str], typing.Dict[str, str], typing.Mapping[str, int]):  # noqa: UP006
        assert _stand_in(empty_map, token, "x") == {}, empty_map
    assert _stand_in(typing.Any, token, "x") is None
    assert _stand_in(typing.Optional[str], token, "x") is None  # noqa: UP045 - the SDK's own spelling
    assert _stand_in(_Leaf, token, "") == {"arn": f"{UNANSWERED_MARK}{token}:arn"}
    assert _stand_in(_Leaf, token, "outer") == {"arn": f"{UNANSWERED_MARK}{token}:outer.arn"}
    # Nested output types are followed three levels down, then left None.
    assert _stand_in(_Leaf, token, "p", depth=2) == {"arn": f"{UNANSWERED_MARK}{token}:p.arn"}
    assert _stand_in(_Leaf, token, "p", depth=3) is None
    assert _stand_in(_Outer, token, "", depth=1) == {"leaf": {"arn": f"{UNANSWERED_MARK}{token}:leaf.arn"}}
    assert _stand_in(_Outer, token, "", depth=2) == {"leaf": None}
    # From the top, three levels of output types are filled in.
    assert _stand_in(_Top, token, "") == {"outer": {"leaf": {"arn": f"{UNANSWERED_MARK}{token}:outer.leaf.arn"}}}


def test_an_error_the_program_logs_fails_the_run_and_a_warning_does_not(tmp_path: Path) -> None:
    # The CLI fails an update whose program logged an error (`pulumi.log.error`), whatever else ran.
    (tmp_path / "error").mkdir()
    (tmp_path / "warn").mkdir()
    failing = _program(tmp_path / "error", 'import pulumi\npulumi.log.warn("w")\npulumi.log.error("first")\n'
                       'pulumi.log.error("second")\n')
    with pytest.raises(ProgramError) as raised:
        run_program(failing, "dev", preview=True)
    assert str(raised.value) == "first"
    warned = _program(tmp_path / "warn", 'import pulumi\npulumi.log.warn("only a warning")\npulumi.export("x", 1)\n')
    assert run_program(warned, "dev", preview=True).outputs == {"x": 1}


# Where a failure is placed, and what a failed run leaves behind.


def _raised(path: Path, source: str) -> BaseException:
    """What running `source` as the file `path` raises."""
    import runpy

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    try:
        runpy.run_path(str(path))
    except Exception as exc:
        return exc
    raise AssertionError("the source did not raise")


def test_an_exception_chain_follows_causes_then_contexts_once_each() -> None:
    from policies.gate.mockengine.run import exception_chain

    first, cause, context = KeyError("a"), ValueError("b"), TypeError("c")
    first.__cause__, first.__context__ = cause, context
    assert list(exception_chain(first)) == [first, cause]
    cause.__context__ = context
    assert list(exception_chain(first)) == [first, cause, context]
    context.__context__ = first  # a loop
    assert list(exception_chain(first)) == [first, cause, context]
    assert list(exception_chain(context)) == [context, first, cause]


def test_an_engine_refusal_is_found_however_deep_it_was_wrapped() -> None:
    from policies.gate.mockengine.run import _engine_refusal

    refusal = ProgramError("Duplicate resource URN")
    wrapped = RuntimeError("grpc")
    wrapped.__context__ = refusal
    outer = Exception("sdk")
    outer.__cause__ = wrapped
    assert _engine_refusal(outer) is refusal
    assert _engine_refusal(refusal) is refusal
    assert _engine_refusal(RuntimeError("plain")) is None


def _module(path: Path, source: str) -> Any:
    """`source` written to `path` and loaded from there under a name no other module has (sys.path and
    sys.modules untouched), so its frames carry that file name."""
    import importlib.util
    import uuid

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(f"frame_probe_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_programs_frame_is_the_innermost_in_the_project_outside_installed_code(tmp_path: Path) -> None:
    from policies.gate.mockengine.run import _program_frame

    project = tmp_path / "proj"
    helpers = _module(project / "helpers.py", "def check(n):\n    if n < 1:\n        raise ValueError('n')\n")
    lib = _module(project / ".venv" / "lib" / "site-packages" / "lib.py", "def call(f, n):\n    return f(n)\n")
    util = _module(tmp_path / "shared" / "util.py", "def boom():\n    raise KeyError('x')\n")
    main = _module(project / "main.py", "def run(lib, util):\n    lib.call(lambda n: util.boom(), 0)\n")
    with pytest.raises(ValueError) as checked:
        lib.call(helpers.check, 0)
    # The library in the project's virtualenv is not the program: its innermost frame is.
    assert _program_frame(checked.value.__traceback__, project) == (str(project / "helpers.py"), 3)
    with pytest.raises(KeyError) as boomed:
        main.run(lib, util)
    # A frame outside the project is not the program's either, even innermost.
    assert _program_frame(boomed.value.__traceback__, project) == (str(project / "main.py"), 2)
    assert _program_frame(boomed.value.__traceback__, tmp_path / "elsewhere") is None
    # A directory that only starts like the project's is not it.
    assert _program_frame(boomed.value.__traceback__, Path(str(project)[:-1])) is None
    # Innermost in the project's virtualenv: the program's frame that called it.
    failing = _module(project / ".venv" / "lib" / "site-packages" / "fails.py", "def now():\n    raise OSError(5)\n")
    caller = _module(project / "caller.py", "def go(lib):\n    lib.now()\n")
    with pytest.raises(OSError) as failed:
        caller.go(failing)
    assert _program_frame(failed.value.__traceback__, project) == (str(project / "caller.py"), 2)


def test_a_failure_is_placed_at_the_recorded_frame_else_in_what_raised_it(tmp_path: Path) -> None:
    from policies.gate.mockengine.run import _WHERE, _user_frame

    program_error = _raised(tmp_path / "main.py", "raise ValueError('bad size')\n")
    wrapper = RuntimeError("the SDK's wrapper")
    assert _user_frame(wrapper, tmp_path) is None
    wrapper.__cause__ = program_error
    assert _user_frame(wrapper, tmp_path) == (str(tmp_path / "main.py"), 1)
    wrapper.__cause__, wrapper.__context__ = None, program_error
    assert _user_frame(wrapper, tmp_path) == (str(tmp_path / "main.py"), 1)
    setattr(wrapper, _WHERE, (str(tmp_path / "cb.py"), 7))
    assert _user_frame(wrapper, tmp_path) == (str(tmp_path / "cb.py"), 7)


def test_one_resource_is_found_by_type_and_name_or_the_lookup_says_how_many(tmp_path: Path) -> None:
    two_queues = _program(tmp_path, """
        import pulumi_aws as aws
        aws.sqs.Queue("a")
        aws.sqs.Queue("b")
    """)
    run = run_program(two_queues, "dev", preview=True)
    assert run.one("aws:sqs/queue:Queue", "b").name == "b"
    with pytest.raises(LookupError) as many:
        run.one("aws:sqs/queue:Queue")
    assert str(many.value) == "expected one aws:sqs/queue:Queue named None, found 2"
    with pytest.raises(LookupError, match="^expected one aws:sqs/queue:Queue named 'c', found 0$"):
        run.one("aws:sqs/queue:Queue", "c")


def test_a_failed_run_is_settled_its_tasks_finished_its_errors_read_and_its_outputs_let_go() -> None:
    import asyncio
    import gc

    from pulumi.runtime import settings as runtime_settings

    from policies.gate.mockengine.run import settle_failed_run

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        unread: list[str] = []
        loop.set_exception_handler(lambda _loop, context: unread.append(context["message"]))
        finished = asyncio.Event()

        async def in_flight() -> None:
            await asyncio.sleep(0)
            finished.set()

        task = loop.create_task(in_flight())
        failed = loop.create_future()
        failed.set_exception(ValueError("a registration failed"))
        cancelled = loop.create_future()
        cancelled.cancel()
        runtime_settings.SETTINGS.outputs.add(failed)
        settle_failed_run()
        assert task.done() and finished.is_set()
        assert not runtime_settings.SETTINGS.outputs
        del failed
        gc.collect()
        assert unread == [], "a failed future's exception was left unread"
        assert cancelled.cancelled()
    finally:
        loop.close()
        asyncio.set_event_loop(asyncio.new_event_loop())


def test_a_provider_sees_secrets_unwrapped_and_resources_as_their_id_else_urn() -> None:
    from pulumi.runtime import rpc

    from policies.gate.mockengine.run import _provider_view

    sig = rpc._special_sig_key
    secret = {sig: rpc._special_secret_sig, "value": {"password": "pw"}}
    role = {sig: rpc._special_resource_sig, "urn": "urn:role", "id": "role-123"}
    component = {sig: rpc._special_resource_sig, "urn": "urn:component", "id": ""}
    view = _provider_view({"db": secret, "roles": [role, component, "plain"], "n": 3})
    assert view == {"db": {"password": "pw"}, "roles": ["role-123", "urn:component", "plain"], "n": 3}


def test_aliases_reach_the_record_as_old_urns_and_specs() -> None:
    from pulumi.runtime.proto import alias_pb2, resource_pb2

    from policies.gate.mockengine.run import _aliases

    spec = alias_pb2.Alias.Spec(name="old", type="aws:s3/bucket:Bucket", stack="dev", project="shop",
                                parentUrn="urn:parent")
    request = resource_pb2.RegisterResourceRequest(
        aliasURNs=["urn:first"], aliases=[alias_pb2.Alias(urn="urn:second"), alias_pb2.Alias(spec=spec),
                                          alias_pb2.Alias(spec=alias_pb2.Alias.Spec(noParent=True))]
    )
    assert _aliases(request) == [
        "urn:first",
        "urn:second",
        {"name": "old", "type": "aws:s3/bucket:Bucket", "stack": "dev", "project": "shop",
         "parentUrn": "urn:parent", "noParent": False},
        {"name": "", "type": "", "stack": "", "project": "", "parentUrn": "", "noParent": True},
    ]
    assert _aliases(resource_pb2.RegisterResourceRequest()) == []


def test_a_value_json_cannot_hold_reaches_the_engine_as_its_text() -> None:
    from policies.gate.mockengine.run import _struct, _struct_to_python

    assert _struct_to_python(_struct({"path": Path("/srv/app"), "port": 5432})) == {"path": "/srv/app", "port": 5432}


def test_a_secret_stack_output_is_kept_as_its_value(tmp_path: Path) -> None:
    secret = _program(tmp_path, """
        import pulumi
        pulumi.export("password", pulumi.Output.secret("pw"))
        pulumi.export("nested", {"token": pulumi.Output.secret("t"), "plain": 1})
    """)
    assert run_program(secret, "dev", preview=True).outputs == {"password": "pw", "nested": {"token": "t", "plain": 1}}


def test_unwrapping_records_where_secrets_and_unknowns_were() -> None:
    from pulumi.runtime import rpc

    from policies.gate.mockengine.run import _unwrap

    sig = rpc._special_sig_key

    def secret(value: Any) -> dict[str, Any]:
        return {sig: rpc._special_secret_sig, "value": value}

    secrets: list[str] = []
    unknowns: list[str] = []
    value = {"a": secret({"b": UNKNOWN}), "l": [1, secret("x"), f"{UNANSWERED_MARK}aws:x:y:id"], "n": None}
    assert _unwrap(value, "", secrets, unknowns) == {"a": {"b": UNKNOWN}, "l": [1, "x", UNKNOWN], "n": None}
    assert secrets == ["a", "l[1]"]
    assert unknowns == ["a.b", "l[2]"]
    secrets.clear()
    unknowns.clear()
    assert _unwrap(secret(UNKNOWN), "", secrets, unknowns) == UNKNOWN
    assert (secrets, unknowns) == (["."], ["."])
    assert _unwrap({"tags": [secret("t")]}, "props", secrets, unknowns) == {"tags": ["t"]}
    assert secrets == [".", "props.tags[0]"]


def test_refused_registrations_are_placed_where_the_program_declared_them(tmp_path: Path) -> None:
    def line_of(program: Path, text: str) -> int:
        lines = (program / "__main__.py").read_text().splitlines()
        return next(n for n, line in enumerate(lines, 1) if text in line)

    malformed = _program(tmp_path / "malformed", """
    import pulumi

    class Thing(pulumi.CustomResource):
        def __init__(self, name):
            super().__init__("acme:Thing", name, {})

    Thing("t")
    """) if (tmp_path / "malformed").mkdir() is None else None
    with pytest.raises(ProgramError) as refused:
        run_program(malformed, "dev", preview=True)
    assert refused.value.where == (str(malformed / "__main__.py"), line_of(malformed, 'Thing("t")'))


def test_top_level_resources_are_children_of_the_stack_and_their_urns_leave_its_type_out(tmp_path: Path) -> None:
    run = run_program(_program(tmp_path, """
    import pulumi
    import pulumi_aws as aws

    class Web(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:web:Web", name)
            aws.sqs.Queue("inner", opts=pulumi.ResourceOptions(parent=self))

    aws.sqs.Queue("q")
    Web("w")
    """), "dev", preview=True)
    queue = run.one("aws:sqs/queue:Queue", "q")
    assert queue.urn == "urn:pulumi:dev::demo::aws:sqs/queue:Queue::q"
    assert queue.parent == "urn:pulumi:dev::demo::pulumi:pulumi:Stack::demo-dev"
    inner = run.one("aws:sqs/queue:Queue", "inner")
    assert inner.urn == "urn:pulumi:dev::demo::acme:web:Web$aws:sqs/queue:Queue::inner"
    assert inner.parent == "urn:pulumi:dev::demo::acme:web:Web::w"


def test_a_source_position_is_a_local_file_and_a_line_from_1() -> None:
    from pulumi.runtime.proto import resource_pb2, source_pb2

    from policies.gate.mockengine.run import _source_position

    def at(uri: str, line: int) -> Any:
        return _source_position(resource_pb2.RegisterResourceRequest(
            sourcePosition=source_pb2.SourcePosition(uri=uri, line=line)))

    assert at("file:///srv/app/__main__.py", 1) == ("/srv/app/__main__.py", 1)
    assert at("file:///srv/app/main%20file.py", 12) == ("/srv/app/main file.py", 12)
    assert at("file:///srv/app/__main__.py", 0) is None
    assert at("https://example.invalid/main.py", 3) is None
    assert _source_position(resource_pb2.RegisterResourceRequest()) is None


def test_program_code_is_outside_the_sdk_and_the_provider_packages() -> None:
    from policies.gate.mockengine.run import _is_program_code

    assert _is_program_code("/proj/__main__.py")
    assert _is_program_code("/proj/pulumi_helpers.py")  # the program's own module, named so
    assert not _is_program_code("/venv/lib/site-packages/pulumi_aws/s3/bucket.py")
    assert not _is_program_code("/venv/lib/site-packages/pulumi_eks/nodegroup/group.py")
    assert not _is_program_code("/venv/lib/site-packages/pulumi_random/__init__.py")
    assert not _is_program_code(pulumi.__file__)


def test_a_registration_is_recorded_with_its_options_provider_place_and_outputs(tmp_path: Path) -> None:
    program = _program(tmp_path, """
    import pulumi
    import pulumi_aws as aws

    prov = aws.Provider("p", region="eu-west-1")
    b = aws.s3.Bucket("b", tags={"a": "1"}, opts=pulumi.ResourceOptions(
        provider=prov, protect=True, ignore_changes=["tags"], delete_before_replace=True,
        retain_on_delete=True, additional_secret_outputs=["arn"], aliases=[pulumi.Alias(name="old")]))
    q = aws.sqs.Queue("q", opts=pulumi.ResourceOptions(deleted_with=b))
    """)
    run = run_program(program, "dev", preview=True)
    bucket, queue = run.one("aws:s3/bucket:Bucket", "b"), run.one("aws:sqs/queue:Queue", "q")
    assert bucket.custom and bucket.protect and not queue.protect
    assert bucket.provider == "urn:pulumi:dev::demo::pulumi:providers:aws::p::p-id" and queue.provider is None
    assert bucket.inputs == {"tags": {"a": "1"}}
    assert bucket.options["ignoreChanges"] == ["tags"]
    assert (bucket.options["deleteBeforeReplace"], bucket.options["retainOnDelete"]) == (True, True)
    assert bucket.options["additionalSecretOutputs"] == ["arn"]
    assert bucket.options["deletedWith"] is None
    assert bucket.options["aliases"][0] == {"name": "old", "type": "", "stack": "", "project": "", "parentUrn": "",
                                            "noParent": False}
    assert queue.options == {"ignoreChanges": [], "deleteBeforeReplace": False, "retainOnDelete": False,
                             "additionalSecretOutputs": [], "deletedWith": bucket.urn, "aliases": []}
    lines = (program / "__main__.py").read_text().splitlines()
    assert bucket.source == (str(program / "__main__.py"), next(n for n, t in enumerate(lines, 1) if '"b"' in t))
    assert queue.source == (str(program / "__main__.py"), next(n for n, t in enumerate(lines, 1) if '"q"' in t))
    assert {"arn", "bucket", "id"} <= set(bucket.outputs) and bucket.outputs["bucket"]
    assert {"arn", "url", "id"} <= set(queue.outputs)
