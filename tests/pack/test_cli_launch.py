"""The policy pack launched exactly as the Pulumi CLI launches it, from the checkout and as published.

What the CLI does, and where it says so (pulumi/pulumi at 1b5949891b, pulumi v3.259):
- The Python host runs an analyzer as `<virtualenv>/bin/python -u -m pulumi.policy <engine> <pack dir>`
  with the pack directory as working directory (sdk/python/cmd/pulumi-language-python/main.go
  RunPlugin, lines 1611-1617 and 1638-1639). The virtualenv is the one PulumiPolicy.yaml names,
  resolved against the pack directory (main.go parseOptions 241-247; sdk/go/common/resource/plugin/
  plugin.go 536-541 and 566; sdk/python/toolchain/pip.go resolveVirtualEnvironmentPath 583-591).
- The environment is the CLI's own, "activated" for that virtualenv: PATH gets its bin first,
  VIRTUAL_ENV points at it, PYTHONHOME goes (sdk/python/toolchain/toolchain.go ActivateVirtualEnv
  176-207, used by pip.go Command 178-193). The test starts from its own environment without
  PYTHONPATH and VIRTUAL_ENV, so nothing of this checkout leaks onto the pack's import path.
- A policy proxy answers the engine first and starts the pack with PULUMI_ORGANIZATION,
  PULUMI_PROJECT, PULUMI_STACK, PULUMI_DRY_RUN and PULUMI_CONFIG from the stack configuration, reads
  the port from the pack's first stdout line and forwards ConfigureStack (main.go 1644-1675;
  sdk/policy_proxy.go AwaitConfiguration 95-101, Attach 104-170).
- The engine then calls GetAnalyzerInfo, reconciles the policy config file with the pack's policies
  (each policy's level and schema defaults, then `all`, then each policy's own entry;
  pkg/resource/analyzer/config.go parsePolicyPackConfig 93-158, createConfigWithDefaults 276-302,
  ReconcilePolicyPackConfig 307-335, applyConfig 337-372; pkg/engine/update.go 1006-1041) and sends
  the result with Configure (sdk/go/common/resource/plugin/analyzer_plugin.go Configure 611-658).
- `pulumi policy publish` uploads the pack directory's files except those matched by .gitignore
  files in it, below it or above it, and .git (pkg/backend/httpstate/policypack.go Publish 440;
  sdk/go/common/util/archive/archive.go addDirectoryToTar 174-295). An install unpacks them into
  `~/.pulumi/policies/<org>/pulumi-analyzer-<name>-v<version>/` and builds the virtualenv there from
  that directory's requirements.txt (policypack.go installRequiredPolicy 499-577;
  sdk/go/common/workspace/plugins.go GetPolicyPath; pip.go InstallDependencies 441-559, of which
  the test leaves out only the upgrade of pip, setuptools and wheel).

Every run is compared with the offline gate judging the same resources with the same policy config,
so the gate and the CLI cannot drift apart unnoticed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pathspec
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2_grpc

from policies.gate import config as gate_config
from policies.gate.evaluate import evaluate
from policies.gate.records import Resource
from policies.pack import PACK_ENFORCEMENT, PACK_NAME, POLICIES

pytestmark = pytest.mark.pack

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "policies"
STACKS = ("dev", "staging", "prod", "dev-eks")
PROJECT = "stateless-stack"
ORG = "acme"
LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
LEVEL_ENUM = {name: value for value, name in LEVELS.items()}
START_TIMEOUT = 90


# ----------------------------------------------------------------------------- what the CLI does


def pack_manifest(pack_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text(encoding="utf-8"))


def pack_virtualenv(pack_dir: Path) -> Path:
    options = pack_manifest(pack_dir)["runtime"]["options"]
    venv = Path(options["virtualenv"])
    return venv if venv.is_absolute() else pack_dir / venv


def published_files(pack_dir: Path) -> list[Path]:
    """The files `pulumi policy publish` puts into the tarball, relative to the pack directory."""

    def ignorer(gitignore: Path) -> tuple[Path, pathspec.PathSpec]:
        return gitignore.parent, pathspec.GitIgnoreSpec.from_lines(gitignore.read_text(encoding="utf-8").splitlines())

    def ignored(path: Path, ignorers: list[tuple[Path, pathspec.PathSpec]]) -> bool:
        return any(spec.match_file(path.relative_to(base).as_posix()) for base, spec in ignorers)

    root = pack_dir.resolve()
    above = [ignorer(p / ".gitignore") for p in root.parents if (p / ".gitignore").is_file()]
    found: list[Path] = []

    def walk(directory: Path, ignorers: list[tuple[Path, pathspec.PathSpec]]) -> None:
        if (directory / ".gitignore").is_file():
            ignorers = [*ignorers, ignorer(directory / ".gitignore")]
        for entry in sorted(directory.iterdir()):
            if entry.name == ".git":
                continue
            if entry.is_dir():
                walk(entry, ignorers)
            elif entry.is_file() and not ignored(entry, ignorers):
                found.append(entry.relative_to(root))

    walk(root, above)
    return found


def activated_env(venv: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.update(extra)
    return env


def parse_policy_config(doc: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """policy name -> (enforcement level or "", properties), as the CLI reads a config file."""
    result: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, value in doc.items():
        if name == "environments":
            continue
        if isinstance(value, str):
            assert value in LEVEL_ENUM, f"{name}: {value!r} is not an enforcement level"
            level, props = value, {}
        else:
            assert isinstance(value, dict), f"{name}: must be a string or object"
            props = dict(value)
            level = props.pop("enforcementLevel", "")
            assert level == "" or level in LEVEL_ENUM, f"{name}: {level!r} is not an enforcement level"
        if level or props:
            result[name] = (level, props)
    return result


def reconcile_like_the_cli(
    info: analyzer_pb2.AnalyzerInfo, given: Mapping[str, tuple[str, dict[str, Any]]]
) -> dict[str, tuple[str, dict[str, Any]]]:
    result: dict[str, tuple[str, dict[str, Any]]] = {}
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema.properties)
        defaults = {k: v["default"] for k, v in schema.items() if "default" in v}
        result[policy.name] = (LEVELS[policy.enforcementLevel], defaults)
    all_level = given.get("all", ("", {}))[0]
    if all_level:
        result = {name: (all_level, props) for name, (_, props) in result.items()}
    for name, (level, props) in given.items():
        current_level, current_props = result.get(name, ("", {}))
        result[name] = (level or current_level, {**current_props, **props})
    return result


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """The engine end of the address the CLI passes: records what the pack logs."""

    def __init__(self) -> None:
        self.logs: list[tuple[int, str]] = []

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        self.logs.append((request.severity, request.message))
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        from pulumi.runtime.proto import engine_pb2

        return engine_pb2.GetRootResourceResponse(urn="")

    def SetRootResource(self, request: Any, context: Any) -> Any:
        from pulumi.runtime.proto import engine_pb2

        return engine_pb2.SetRootResourceResponse()


@dataclass
class RunningPack:
    analyzer: analyzer_pb2_grpc.AnalyzerStub
    process: subprocess.Popen[bytes]
    stderr: Path
    engine: FakeEngine


@pytest.fixture
def engine() -> Iterator[tuple[str, FakeEngine]]:
    fake = FakeEngine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", fake
    finally:
        server.stop(0)


def _first_line(stream: Any, timeout: float) -> bytes:
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0] if line else b""


@contextlib.contextmanager
def launch(pack_dir: Path, stack: str, engine: tuple[str, FakeEngine], tmp_path: Path) -> Iterator[RunningPack]:
    address, fake = engine
    venv = pack_virtualenv(pack_dir)
    python = venv / "bin" / "python"
    assert python.is_file(), f"{python} is missing: `make install` builds the pack's virtualenv"
    stack_config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
    env = activated_env(
        venv,
        {
            "PULUMI_ORGANIZATION": ORG,
            "PULUMI_PROJECT": PROJECT,
            "PULUMI_STACK": stack,
            "PULUMI_DRY_RUN": "true",
            "PULUMI_CONFIG": json.dumps(
                {k: v if isinstance(v, str) else json.dumps(v) for k, v in stack_config.items()}
            ),
        },
    )
    stderr = tmp_path / f"pack-{stack}.stderr"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(python), "-u", "-m", "pulumi.policy", address, str(pack_dir)],
            cwd=pack_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        first = _first_line(process.stdout, START_TIMEOUT)
        assert first.strip().isdigit(), f"no port on the pack's first stdout line: {first!r}\n{stderr.read_text()}"
        channel = grpc.insecure_channel(f"127.0.0.1:{int(first)}")
        try:
            analyzer = analyzer_pb2_grpc.AnalyzerStub(channel)
            analyzer.ConfigureStack(
                analyzer_pb2.AnalyzerStackConfigureRequest(
                    stack=stack, project=PROJECT, organization=ORG, dry_run=True, tags={"team": "platform"}
                ),
                timeout=30,
            )
            yield RunningPack(analyzer, process, stderr, fake)
        finally:
            channel.close()
    finally:
        process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


# ----------------------------------------------------------------------------- the two layouts


@pytest.fixture(scope="module")
def published_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    manifest = pack_manifest(PACK_DIR)
    home = tmp_path_factory.mktemp("pulumi-home")
    target = home / "policies" / ORG / f"pulumi-analyzer-{PACK_NAME}-v{manifest['version']}"
    for rel in published_files(PACK_DIR):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PACK_DIR / rel, target / rel)
    venv = pack_virtualenv(target)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", "requirements.txt"],
        cwd=target,
        env=activated_env(venv, {}),
        check=True,
        timeout=600,
    )
    return target


@pytest.fixture(params=["checkout", "published"])
def pack_dir(request: pytest.FixtureRequest) -> Path:
    if request.param == "checkout":
        return PACK_DIR
    return request.getfixturevalue("published_pack")


def test_publish_uploads_the_pack_and_requirements_but_no_virtualenv_or_bytecode() -> None:
    files = {p.as_posix() for p in published_files(PACK_DIR)}
    for needed in ("PulumiPolicy.yaml", "__main__.py", "__init__.py", "pack.py", "requirements.txt"):
        assert needed in files
    assert {p.name for p in (PACK_DIR / "rules").glob("*.py")} <= {f.split("/", 1)[1] for f in files if "/" in f}
    venv = pack_virtualenv(PACK_DIR).relative_to(PACK_DIR).as_posix()
    assert not [f for f in files if f.startswith(f"{venv}/") or "__pycache__" in f or f.endswith(".pyc")]


def test_the_manifest_names_a_virtualenv_and_a_version() -> None:
    manifest = pack_manifest(PACK_DIR)
    assert manifest["description"]
    assert manifest["runtime"]["name"] == "python"
    assert manifest["runtime"]["options"]["toolchain"] == "pip"
    assert manifest["runtime"]["options"]["virtualenv"]
    # The CLI reports this version rather than the SDK's placeholder (analyzer_plugin.go 554-558).
    assert str(manifest["version"]).count(".") == 2


# ----------------------------------------------------------------------------- resources to judge


def rds(name: str, *, protect: bool = False, **overrides: Any) -> Resource:
    props = {
        "engine": "postgres",
        "instanceClass": "db.t4g.medium",
        "storageEncrypted": True,
        "publiclyAccessible": False,
        "backupRetentionPeriod": 30,
        "manageMasterUserPassword": True,
        "multiAz": True,
        "deletionProtection": True,
        "skipFinalSnapshot": False,
        **overrides,
    }
    return resource("aws:rds/instance:Instance", name, props, protect=protect)


def resource(
    type_: str, name: str, props: dict[str, Any], *, stack: str = "dev", protect: bool = False
) -> Resource:
    return Resource(
        urn=f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}",
        type=type_,
        name=name,
        inputs=props,
        outputs={},
        parent=None,
        dependencies=(),
        property_dependencies={},
        provider=None,
        protect=protect,
        options={},
    )


RESOURCES = [
    # Protected: stacks whose policy config asks for it (stateful-resources-protected) pass it too.
    rds("db-ok", protect=True),
    rds("db-short-backups", backupRetentionPeriod=3),
    rds("db-single-az", multiAz=False, deletionProtection=False),
    resource("aws:lb/targetGroup:TargetGroup", "tg-ok", {"port": 8000, "protocol": "HTTP"}),
    resource(
        "aws:lb/targetGroup:TargetGroup",
        "tg-sticky",
        {"port": 8000, "protocol": "HTTP", "stickiness": {"enabled": True, "type": "lb_cookie"}},
    ),
]
BUCKET = {"bucket": "receipts"}
COMPLIANT_STACK = [
    resource("aws:s3/bucket:Bucket", "receipts", BUCKET),
    resource(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "receipts-pab",
        {
            "bucket": "receipts",
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
    ),
    resource(
        "aws:s3/bucketVersioning:BucketVersioning",
        "receipts-versioning",
        {"bucket": "receipts", "versioningConfiguration": {"status": "Enabled"}},
    ),
    resource(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "receipts-sse",
        {"bucket": "receipts", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
    ),
]
BARE_BUCKET_STACK = [resource("aws:s3/bucket:Bucket", "receipts", BUCKET)]


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(props))
    return s


def analyze(pack: RunningPack, r: Resource) -> set[tuple[str, str, str, str]]:
    # The engine sends the resource's options with each Analyze call (pkg/resource/deploy/step_executor
    # / analyzer_plugin.go Analyze: AnalyzerResourceOptions), protect among them.
    request = analyzer_pb2.AnalyzeRequest(
        type=r.type,
        properties=_struct(r.inputs),
        urn=r.urn,
        name=r.name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=r.protect),
    )
    response = pack.analyzer.Analyze(request, timeout=60)
    return {(d.policyName, LEVELS[d.enforcementLevel], d.message, d.urn or r.urn) for d in response.diagnostics}


def analyze_stack(pack: RunningPack, resources: list[Resource], stack: str) -> set[tuple[str, str, str, str]]:
    root = f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{stack}"
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[analyzer_pb2.AnalyzerResource(type="pulumi:pulumi:Stack", urn=root, name=f"{PROJECT}-{stack}")]
        + [
            analyzer_pb2.AnalyzerResource(
                type=r.type, properties=_struct(r.inputs), urn=r.urn, name=r.name, parent=root
            )
            for r in resources
        ]
    )
    response = pack.analyzer.AnalyzeStack(request, timeout=60)
    return {(d.policyName, LEVELS[d.enforcementLevel], d.message, d.urn) for d in response.diagnostics}


def analyze_all(pack: RunningPack, resources: list[Resource], stack: str) -> set[tuple[str, str, str, str]]:
    """What the CLI asks of the pack for a run: Analyze per resource as it is registered, then AnalyzeStack."""
    return set().union(*(analyze(pack, r) for r in resources), analyze_stack(pack, resources, stack))


def gate_verdict(resources: list[Resource], settings: Any, stack: str) -> set[tuple[str, str, str, str]]:
    """What the gate reports that the pack reports too: a waived finding is shown by the gate only."""
    described = {p.name: p.description for p in POLICIES}
    return {
        (v.policy, v.enforcement, f"{described[v.policy]}\n{v.message}", v.urn)
        for v in evaluate(resources, POLICIES, settings, PROJECT, stack)
        if v.waived is None
    }


def cli_validation_errors(
    info: analyzer_pb2.AnalyzerInfo, reconciled: Mapping[str, tuple[str, dict[str, Any]]]
) -> list[str]:
    """The CLI's check of the reconciled config: every policy with a config schema, its properties
    against {"type": "object", "properties", "required"} (pkg/resource/analyzer/config.go
    validatePolicyPackConfig 183-207, validatePolicyConfig 210-229, convertSchema 261-272; gojsonschema,
    draft 4-7 keywords)."""
    import jsonschema

    errors = []
    for policy in info.policies:
        if not policy.HasField("configSchema"):
            continue
        schema: dict[str, Any] = {"type": "object"}
        properties = json_format.MessageToDict(policy.configSchema.properties)
        if properties:
            schema["properties"] = properties
        if policy.configSchema.required:
            schema["required"] = list(policy.configSchema.required)
        props = reconciled.get(policy.name, ("", {}))[1]
        errors += [f"{policy.name}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(props)]
    return errors


# ----------------------------------------------------------------------------- the launch


@pytest.mark.parametrize("stack", STACKS)
def test_the_cli_launch_judges_like_the_gate(
    pack_dir: Path, stack: str, engine: tuple[str, FakeEngine], tmp_path: Path
) -> None:
    policy_file = ROOT / "stacks" / f"policy.{stack}.json"
    given = parse_policy_config(json.loads(policy_file.read_text(encoding="utf-8")))
    settings = gate_config.reconcile(
        POLICIES, PACK_ENFORCEMENT, gate_config.read_policy_config(policy_file), str(policy_file)
    )

    with launch(pack_dir, stack, engine, tmp_path) as pack:
        info = pack.analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)
        assert info.name == PACK_NAME and info.supportsConfig
        assert [(p.name, LEVELS[p.enforcementLevel]) for p in info.policies] == [
            (p.name, p.enforcement_level.value) for p in POLICIES
        ]

        reconciled = reconcile_like_the_cli(info, given)
        # The gate reconciles the same file to the same levels and properties.
        assert {n: (lvl, props) for n, (lvl, props) in reconciled.items() if n != "all"} == {
            name: (s.enforcement.value, s.properties) for name, s in settings.items()
        }
        pack.analyzer.Configure(
            analyzer_pb2.ConfigureAnalyzerRequest(
                policyConfig={
                    name: analyzer_pb2.PolicyConfig(enforcementLevel=LEVEL_ENUM[lvl], properties=_struct(props))
                    for name, (lvl, props) in reconciled.items()
                }
            ),
            timeout=60,
        )

        seen = set().union(*(analyze(pack, r) for r in RESOURCES))
        assert seen == gate_verdict(RESOURCES, settings, stack)
        assert not [d for d in seen if d[3].endswith(("::db-ok", "::tg-ok"))]
        sticky = [d for d in seen if d[0] == "no-sticky-sessions"]
        assert [(d[1], d[3].rsplit("::", 1)[1]) for d in sticky] == [(reconciled["no-sticky-sessions"][0], "tg-sticky")]
        # The minimum retention reaches the pack through Configure: 3 days passes dev and fails prod.
        short = any(d[0] == "rds-backups-enabled" and d[3].endswith("::db-short-backups") for d in seen)
        assert short == (reconciled["rds-backups-enabled"][1]["minRetentionDays"] > 3)

        assert analyze_stack(pack, COMPLIANT_STACK, stack) == set()
        bare = analyze_all(pack, BARE_BUCKET_STACK, stack)
        assert bare == gate_verdict(BARE_BUCKET_STACK, settings, stack)
        assert {(d[0], d[1]) for d in bare} >= {
            ("s3-public-access-block", reconciled["s3-public-access-block"][0]),
            ("s3-versioning", reconciled["s3-versioning"][0]),
        }

        assert pack.process.poll() is None, pack.stderr.read_text()
        assert "error" not in pack.stderr.read_text().lower()
        assert [m for sev, m in pack.engine.logs if sev >= 3] == []


def test_a_pack_that_imports_from_the_checkout_fails_when_published(
    published_pack: Path, engine: tuple[str, FakeEngine], tmp_path: Path
) -> None:
    # What the pack looked like before it was self-contained: the launch must catch it. The copy
    # borrows the published virtualenv through an absolute `virtualenv` (pip.go 583-591).
    broken = tmp_path / published_pack.name
    for rel in published_files(published_pack):
        (broken / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(published_pack / rel, broken / rel)
    manifest = pack_manifest(broken)
    manifest["runtime"]["options"]["virtualenv"] = str(pack_virtualenv(published_pack))
    (broken / "PulumiPolicy.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    pack_py = broken / "pack.py"
    pack_py.write_text(pack_py.read_text(encoding="utf-8").replace("from .rules import", "from policies.rules import"))
    with pytest.raises(AssertionError, match="No module named 'policies'"), launch(broken, "dev", engine, tmp_path):
        pass


# ----------------------------------------------------------------------------- waivers

WAIVED_STACK = "prod"
WAIVERS = {
    # A live waiver: the sticky target group is accepted, by a glob over its logical name.
    "no-sticky-sessions": {"waivers": [{"resource": "tg-st*", "reason": "legacy client, reviewed"}]},
    # An expired one: the finding is back, saying so.
    "rds-multi-az": {"waivers": [{"resource": "db-single-az", "reason": "migration window", "expires": "2020-01-31"}]},
    # A stack policy's finding, waived by a glob over the resource's URN.
    "s3-versioning": {
        "waivers": [
            {
                "resource": f"urn:pulumi:*::{PROJECT}::aws:s3/bucket:Bucket::receipts",
                "reason": "scratch bucket, rebuilt from the queue",
                "expires": "2999-12-31",
            }
        ]
    },
}


def test_a_waiver_is_honoured_by_the_pack_as_the_cli_launches_it_and_by_the_gate(
    pack_dir: Path, engine: tuple[str, FakeEngine], tmp_path: Path
) -> None:
    doc = json.loads((ROOT / "stacks" / f"policy.{WAIVED_STACK}.json").read_text(encoding="utf-8"))
    for name, entry in WAIVERS.items():
        current = doc.get(name)
        doc[name] = {**({"enforcementLevel": current} if isinstance(current, str) else current or {}), **entry}
    policy_file = tmp_path / f"policy.{WAIVED_STACK}.json"
    policy_file.write_text(json.dumps(doc), encoding="utf-8")
    settings = gate_config.reconcile(
        POLICIES, PACK_ENFORCEMENT, gate_config.read_policy_config(policy_file), str(policy_file)
    )

    with launch(pack_dir, WAIVED_STACK, engine, tmp_path) as pack:
        info = pack.analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)
        reconciled = reconcile_like_the_cli(info, parse_policy_config(doc))
        # The CLI accepts the waivers (each policy's schema declares them) and refuses one without a reason.
        assert cli_validation_errors(info, reconciled) == []
        unreasoned = {
            **reconciled,
            "no-sticky-sessions": (reconciled["no-sticky-sessions"][0], {"waivers": [{"resource": "x"}]}),
        }
        assert cli_validation_errors(info, unreasoned) == ["no-sticky-sessions: 'reason' is a required property"]
        pack.analyzer.Configure(
            analyzer_pb2.ConfigureAnalyzerRequest(
                policyConfig={
                    name: analyzer_pb2.PolicyConfig(enforcementLevel=LEVEL_ENUM[lvl], properties=_struct(props))
                    for name, (lvl, props) in reconciled.items()
                }
            ),
            timeout=60,
        )
        seen = set().union(*(analyze(pack, r) for r in RESOURCES))
        assert seen == gate_verdict(RESOURCES, settings, WAIVED_STACK)
        assert not [d for d in seen if d[0] == "no-sticky-sessions"]
        (expired,) = [d for d in seen if d[0] == "rds-multi-az"]
        assert expired[1] == "mandatory" and expired[3].endswith("::db-single-az")
        assert expired[2].endswith("(waiver expired on 2020-01-31: migration window)")

        bare = analyze_all(pack, BARE_BUCKET_STACK, WAIVED_STACK)
        assert bare == gate_verdict(BARE_BUCKET_STACK, settings, WAIVED_STACK)
        assert "s3-public-access-block" in {d[0] for d in bare} and "s3-versioning" not in {d[0] for d in bare}
        assert pack.process.poll() is None, pack.stderr.read_text()
        assert "error" not in pack.stderr.read_text().lower()

    # The gate shows what the pack left out, as waived, and the expired finding counts.
    judged = evaluate(RESOURCES + BARE_BUCKET_STACK, POLICIES, settings, PROJECT, WAIVED_STACK)
    waived = {(v.policy, v.name, v.waived.reason) for v in judged if v.waived is not None}
    assert waived == {
        ("no-sticky-sessions", "tg-sticky", "legacy client, reviewed"),
        ("s3-versioning", "receipts", "scratch bucket, rebuilt from the queue"),
    }
