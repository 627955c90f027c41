"""The mock engine reads every asset and archive a program registers, where and as the engine does."""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path

import pytest

from policies.gate.__main__ import main as gate_main
from policies.gate.mockengine import ProgramError, assets, run_program

PROJECT = "name: assets-fixture\nruntime: python\nmain: src/\n"


def program(tmp_path: Path, body: str) -> Path:
    (tmp_path / "src").mkdir(parents=True, exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text(PROJECT)
    (tmp_path / "src" / "__main__.py").write_text(
        "import os\nimport pulumi\nimport pulumi_aws as aws\n\n" + textwrap.dedent(body)
    )
    return tmp_path


LAYER = 'aws.lambda_.LayerVersion("layer", layer_name="deps", code=pulumi.FileArchive("build/layer"))\n'


def gate(capsys: pytest.CaptureFixture[str], project: Path) -> tuple[int, str]:
    status = gate_main(["--stack", "dev", "--program", str(project)])
    return status, capsys.readouterr().err


def test_a_missing_file_archive_is_exit_2_naming_resource_property_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = gate(capsys, program(tmp_path, LAYER))
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert 'aws:lambda/layerVersion:LayerVersion "layer"' in lines[0]
    assert "property code:" in lines[0]
    assert f"couldn't read archive path {tmp_path / 'src' / 'build' / 'layer'}" in lines[0]


def test_a_present_file_archive_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = program(tmp_path, LAYER)
    (project / "src" / "build" / "layer" / "python").mkdir(parents=True)
    (project / "src" / "build" / "layer" / "python" / "deps.py").write_text("X = 1\n")
    status, err = gate(capsys, project)
    assert status == 0, err


def test_relative_paths_are_read_from_the_program_directory_not_the_project_root_or_cwd(tmp_path: Path) -> None:
    # main: src/ makes src/ the engine's working directory; the program's own chdir changes nothing.
    project = program(tmp_path, 'os.chdir("/")\n' + LAYER)
    (project / "build" / "layer").mkdir(parents=True)
    with pytest.raises(ProgramError, match=r"couldn't read archive path .*/src/build/layer"):
        run_program(project, "dev")


def test_asset_archive_members_and_nested_archives_are_read(tmp_path: Path) -> None:
    project = program(
        tmp_path,
        """
        aws.lambda_.Function(
            "fn",
            role="arn:aws:iam::123456789012:role/r",
            runtime="python3.12",
            handler="app.handler",
            code=pulumi.AssetArchive({
                "app.py": pulumi.StringAsset("def handler(e, c):\\n    return {}\\n"),
                "lib": pulumi.AssetArchive({"util.py": pulumi.FileAsset("util.py")}),
            }),
        )
        """,
    )
    with pytest.raises(
        ProgramError, match=r"property code: archive member 'lib': archive member 'util.py': cannot read"
    ):
        run_program(project, "dev")
    (project / "src" / "util.py").write_text("U = 1\n")
    run_program(project, "dev")


def test_a_file_asset_on_a_directory_is_refused(tmp_path: Path) -> None:
    project = program(tmp_path, 'aws.s3.BucketObject("obj", bucket="b", key="k", source=pulumi.FileAsset("data"))\n')
    (project / "src" / "data").mkdir()
    with pytest.raises(
        ProgramError, match=r'BucketObject "obj": property source: asset path .*/src/data is a directory'
    ):
        run_program(project, "dev")


def test_remote_assets_are_not_fetched_but_unknown_schemes_fail(tmp_path: Path) -> None:
    remote = 'aws.s3.BucketObject("obj", bucket="b", key="k", source=pulumi.RemoteAsset("https://example.invalid/a"))\n'
    run_program(program(tmp_path / "remote", remote), "dev")
    ftp = 'aws.s3.BucketObject("obj", bucket="b", key="k", source=pulumi.RemoteAsset("ftp://example.invalid/a"))\n'
    with pytest.raises(ProgramError, match=r"property source: unrecognized or unsupported URI scheme 'ftp'"):
        run_program(program(tmp_path / "ftp", ftp), "dev")


def test_nested_properties_secrets_and_hashes(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    zipped = tmp_path / "bundle.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("x.txt", "x")
    sig = assets.SIG_KEY
    props = {
        "code": {sig: assets.ARCHIVE_SIG, "path": "bundle.zip"},
        "env": {"files": [{sig: assets.ASSET_SIG, "path": "a.txt"}]},
        "secret": {sig: "1b47061264138c4ac30d75fd1eb44270", "value": {sig: assets.ASSET_SIG, "uri": a_uri(tmp_path)}},
        "hashed": {sig: assets.ASSET_SIG, "path": "missing", "hash": "00"},
    }
    first = assets.read_registered("t", "n", props, tmp_path)
    assert set(first) == {"code", "env.files[0]", "secret"}
    (tmp_path / "a.txt").write_text("two")
    second = assets.read_registered("t", "n", props, tmp_path)
    assert second["env.files[0]"] != first["env.files[0]"] and second["code"] == first["code"]
    props["env"]["files"].append({sig: assets.ASSET_SIG, "path": "gone.txt"})
    with pytest.raises(assets.AssetError, match=r'^t "n": property env.files\[1\]: cannot read .*gone.txt'):
        assets.read_registered("t", "n", props, tmp_path)


def test_an_asset_that_has_its_hash_is_passed_over_and_the_rest_still_read(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    sig = assets.SIG_KEY
    props = {
        "hashed": {sig: assets.ASSET_SIG, "path": "missing", "hash": "00"},
        "after": {sig: assets.ASSET_SIG, "path": "a.txt"},
    }
    assert set(assets.read_registered("t", "n", props, tmp_path)) == {"after"}


def test_a_plain_map_keeps_a_key_named_value_in_the_property_path(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    sig = assets.SIG_KEY
    props = {
        "plain": {"value": {sig: assets.ASSET_SIG, "path": "a.txt"}},
        "secret": {sig: "1b47061264138c4ac30d75fd1eb44270", "value": {sig: assets.ASSET_SIG, "path": "a.txt"}},
    }
    assert set(assets.read_registered("t", "n", props, tmp_path)) == {"plain.value", "secret"}


@pytest.mark.parametrize(("signature", "kind"), [(assets.ASSET_SIG, "assets"), (assets.ARCHIVE_SIG, "archives")])
def test_an_unreadable_asset_or_archive_says_which_the_engine_reads(tmp_path: Path, signature: str, kind: str) -> None:
    props = {"code": {assets.SIG_KEY: signature, "path": "gone"}}
    with pytest.raises(assets.AssetError) as raised:
        assets.read_registered("t", "n", props, tmp_path)
    assert f"(the engine reads {kind} relative to the program directory {tmp_path} when" in str(raised.value)


def a_uri(directory: Path) -> str:
    return (directory / "a.txt").as_uri()


def test_a_directory_archive_skips_bookkeeping_and_reads_every_file(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    (layer / ".pulumi").mkdir(parents=True)
    (layer / ".pulumi" / "ignored").write_text("x")
    (layer / "m.py").write_text("M = 1\n")
    value = {assets.SIG_KEY: assets.ARCHIVE_SIG, "path": "layer"}
    before = assets.read_registered("t", "n", {"code": value}, tmp_path)
    (layer / ".pulumi" / "ignored").write_text("changed")
    assert assets.read_registered("t", "n", {"code": value}, tmp_path) == before
    (layer / "m.py").write_text("M = 2\n")
    assert assets.read_registered("t", "n", {"code": value}, tmp_path) != before
    with pytest.raises(assets.AssetError, match="neither a recognized archive type nor a directory"):
        assets.read_registered("t", "n", {"code": {**value, "path": "layer/m.py"}}, tmp_path)


def test_a_failed_registration_does_not_leak_into_the_next_run(tmp_path: Path) -> None:
    broken = program(tmp_path / "broken", LAYER)
    with pytest.raises(ProgramError, match="couldn't read archive path"):
        run_program(broken, "dev")
    fine = program(tmp_path / "fine", 'aws.s3.Bucket("b")\n')
    assert [r.name for r in run_program(fine, "dev").resources if r.type == "aws:s3/bucket:Bucket"] == ["b"]


# ----------------------------------------------------------------------------- assets="lenient" (--against-rev's base)


def test_lenient_reading_records_missing_paths_and_digests_the_rest(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    sig = assets.SIG_KEY
    props = {
        "layer": {sig: assets.ARCHIVE_SIG, "path": "build/layer"},
        "file": {sig: assets.ASSET_SIG, "path": "gone.txt"},
        "zip": {sig: assets.ARCHIVE_SIG, "path": "dist/app.zip"},
        "member": {sig: assets.ARCHIVE_SIG, "assets": {"m.py": {sig: assets.ASSET_SIG, "path": "m.py"}}},
        "present": {sig: assets.ASSET_SIG, "path": "a.txt"},
    }
    missing: list[str] = []
    digests = assets.read_registered("t", "n", props, tmp_path, missing)
    assert set(digests) == {"present"}
    assert missing == [
        f't "n": property layer: couldn\'t read archive path {tmp_path / "build/layer"}: no such file or directory',
        f't "n": property file: cannot read {tmp_path / "gone.txt"}: No such file or directory',
        f't "n": property zip: cannot read {tmp_path / "dist/app.zip"}: No such file or directory',
        f't "n": property member: archive member \'m.py\': cannot read {tmp_path / "m.py"}: No such file or directory',
    ]
    # Strict reading fails on the first of them, as the engine does.
    with pytest.raises(assets.AssetError, match="property layer: couldn't read archive path"):
        assets.read_registered("t", "n", props, tmp_path)


def test_lenient_reading_still_refuses_what_exists_but_cannot_be_read(tmp_path: Path) -> None:
    # Only a path that is not there is a build output git does not keep; a directory given as a file
    # asset, a file given as a directory archive or an unknown scheme fail in the base run too.
    (tmp_path / "data").mkdir()
    (tmp_path / "f.txt").write_text("x")
    sig = assets.SIG_KEY
    for value, message in (
        ({sig: assets.ASSET_SIG, "path": "data"}, "is a directory"),
        ({sig: assets.ASSET_SIG, "path": "f.txt/inner"}, "Not a directory"),
        ({sig: assets.ARCHIVE_SIG, "path": "f.txt"}, "neither a recognized archive type nor a directory"),
        ({sig: assets.ASSET_SIG, "uri": "ftp://example.invalid/a"}, "unsupported URI scheme"),
        ({sig: assets.ARCHIVE_SIG, "assets": {"x": "text"}}, "it is not an asset or archive"),
    ):
        missing: list[str] = []
        with pytest.raises(assets.AssetError, match=message):
            assets.read_registered("t", "n", {"p": value}, tmp_path, missing)
        assert missing == []


def test_a_lenient_run_goes_on_past_a_missing_archive_and_reports_it(tmp_path: Path) -> None:
    project = program(tmp_path, LAYER + 'aws.s3.Bucket("b")\n')
    run = run_program(project, "dev", assets="lenient")
    assert [r.name for r in run.resources if r.type == "aws:s3/bucket:Bucket"] == ["b"]
    assert run.missing_assets == [
        f'aws:lambda/layerVersion:LayerVersion "layer": property code: couldn\'t read archive path '
        f"{tmp_path / 'src' / 'build' / 'layer'}: no such file or directory"
    ]
    # The default stays as strict as the engine, and a present archive is no note.
    with pytest.raises(ProgramError, match="couldn't read archive path"):
        run_program(project, "dev")
    (project / "src" / "build" / "layer").mkdir(parents=True)
    assert run_program(project, "dev", assets="lenient").missing_assets == []
    assert run_program(project, "dev").missing_assets == []


def test_a_components_missing_output_asset_is_recorded_too(tmp_path: Path) -> None:
    body = (
        'c = pulumi.ComponentResource("my:c:C", "c")\n'
        'c.register_outputs({"bundle": pulumi.FileArchive("out/bundle.zip")})\n'
    )
    run = run_program(program(tmp_path, body), "dev", assets="lenient")
    assert run.missing_assets == [
        'outputs of "urn:pulumi:dev::assets-fixture::my:c:C::c": property bundle: cannot read '
        f"{tmp_path / 'src' / 'out' / 'bundle.zip'}: No such file or directory"
    ]


def test_an_unknown_assets_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="assets must be 'strict' or 'lenient', not 'loose'"):
        run_program(program(tmp_path, 'aws.s3.Bucket("b")\n'), "dev", assets="loose")


def test_a_directory_is_walked_in_order_past_bookkeeping_and_links_to_directories(tmp_path: Path) -> None:
    root = tmp_path / "layer"
    (root / "sub").mkdir(parents=True)
    (root / ".pulumi").mkdir()
    (root / ".pulumi" / "state").write_text("x")
    for name in ("b.txt", "a.txt", "sub/c.txt", "sub/z.txt", "sub/.pulumi"):
        (root / name).write_text(name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "outside.txt").write_text("o")
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    (root / "alias.txt").symlink_to(root / "a.txt")
    walked = [p.relative_to(root).as_posix() for p in assets._directory_files(root)]
    # A file named like the bookkeeping directory is skipped, and the files after it are still read.
    assert walked == ["a.txt", "alias.txt", "b.txt", "sub/c.txt", "sub/z.txt"]


def test_a_directory_that_cannot_be_walked_is_unreadable_naming_it(tmp_path: Path) -> None:
    with pytest.raises(assets._Unreadable) as raised:
        list(assets._directory_files(tmp_path / "gone"))
    assert str(raised.value) == f"cannot read {tmp_path / 'gone'}: No such file or directory"


def test_file_uris_name_a_local_file_on_this_host_only(tmp_path: Path) -> None:
    assert assets._local(f"file://localhost{tmp_path}/a.txt") == tmp_path / "a.txt"
    assert assets._local(f"file://{tmp_path}/a.txt") == tmp_path / "a.txt"
    assert assets._local("https://example.invalid/a.zip") is None
    with pytest.raises(assets._Unreadable) as raised:
        assets._local("file://build-host/srv/a.txt")
    assert str(raised.value) == "file:// host 'build-host' not supported (only localhost) in file://build-host/srv/a.txt"


def test_an_absolute_path_is_read_where_it_is(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    absolute = {assets.SIG_KEY: assets.ASSET_SIG, "path": str(tmp_path / "a.txt")}
    relative = {assets.SIG_KEY: assets.ASSET_SIG, "path": "a.txt"}
    elsewhere = tmp_path / "program"
    elsewhere.mkdir()
    assert assets.read_registered("t", "n", {"p": absolute}, elsewhere) == assets.read_registered(
        "t", "n", {"p": relative}, tmp_path
    )


def test_an_archive_uri_is_read_when_local_left_alone_when_remote_and_refused_when_not_an_archive(
    tmp_path: Path,
) -> None:
    import hashlib

    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(b"zip bytes")

    def archive(uri: str) -> dict[str, str]:
        return assets.read_registered("t", "n", {"code": {assets.SIG_KEY: assets.ARCHIVE_SIG, "uri": uri}}, tmp_path)

    assert archive(bundle.as_uri()) == {"code": hashlib.sha256(b"zip bytes").hexdigest()}
    # A remote archive is not fetched (preview does not either): judged on its URI alone.
    assert archive("https://example.invalid/bundle.zip") == {"code": hashlib.sha256().hexdigest()}
    with pytest.raises(assets.AssetError) as refused:
        archive("https://example.invalid/page.html")
    assert str(refused.value).startswith(
        't "n": property code: file at URL https://example.invalid/page.html is not a recognized archive format'
    )
    with pytest.raises(assets.AssetError, match=r"property code: cannot read .*gone\.zip"):
        archive((tmp_path / "gone.zip").as_uri())


def test_a_text_asset_is_digested_by_its_text() -> None:
    import hashlib

    def text(value: str) -> dict[str, str]:
        return assets.read_registered("t", "n", {"p": {assets.SIG_KEY: assets.ASSET_SIG, "text": value}}, Path("."))

    assert text("print(1)\n") == {"p": hashlib.sha256(b"print(1)\n").hexdigest()}
    assert text("") == {"p": hashlib.sha256(b"").hexdigest()}


def test_an_archive_member_that_is_neither_asset_nor_archive_is_refused_naming_it(tmp_path: Path) -> None:
    value = {assets.SIG_KEY: assets.ARCHIVE_SIG, "assets": {"app.py": {"text": "x"}}}
    with pytest.raises(assets.AssetError) as refused:
        assets.read_registered("t", "n", {"code": value}, tmp_path)
    assert str(refused.value).startswith(
        "t \"n\": property code: archive member 'app.py': it is not an asset or archive"
    )
