"""Chain of custody: the manifest covers sources, run files, evidence and report, and
``verify_run`` names exactly the file that changed, went missing or was added."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_evidence import Run, make_run

from linewatch.evidence import EvidenceOptions, write_evidence
from linewatch.manifest import ManifestError, sha256_file, verify_run, write_manifest
from linewatch.report import build_report


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("custody")
    run = make_run(root, n_frames=30)
    write_evidence(run.run_dir, EvidenceOptions(pre_roll=0.5, post_roll=0.5))
    build_report(run.run_dir)
    return root


@pytest.fixture
def run(pristine: Path, tmp_path: Path) -> Run:
    """A private copy of the built run (sources are absolute: point them at the copy)."""
    root = tmp_path / "copy"
    shutil.copytree(pristine, root)
    cfg = root / "run" / "config.yaml"
    cfg.write_text(cfg.read_text().replace(str(pristine.resolve()), str(root.resolve())))
    write_manifest(root / "run")
    return Run(root / "run", root / "footage.mp4", [])


def _flip_one_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def test_manifest_lists_every_kind_of_file(run: Run) -> None:
    doc = json.loads((run.run_dir / "manifest.json").read_text())
    entries = {e["path"]: e for e in doc["files"]}
    roles = {e["role"] for e in doc["files"]}
    assert roles == {"source", "run", "evidence", "report"}
    assert entries[str(run.video.resolve())]["sha256"] == sha256_file(run.video)
    for name in (
        "config.yaml",
        "run.json",
        "events.db",
        "tracks.parquet",
        "tracks.steps.parquet",
        "report/index.html",
        "report/report.json",
    ):
        assert entries[name]["sha256"] == sha256_file(run.run_dir / name), name
    evidence = sorted(
        p.relative_to(run.run_dir).as_posix() for p in (run.run_dir / "evidence").iterdir()
    )
    assert len(evidence) == 6 and all(e in entries for e in evidence)
    assert "manifest.json" not in entries  # it cannot hold its own hash


def test_untouched_run_verifies(run: Run) -> None:
    result = verify_run(run.run_dir)
    assert result.ok and not result.changed and not result.missing and not result.added
    assert result.manifest_sha256 == sha256_file(run.run_dir / "manifest.json")
    assert "intact" in result.lines()[-1]


@pytest.mark.parametrize(
    "target",
    [
        "source",
        "evidence/still",
        "evidence/clip",
        "report/index.html",
        "report/figure",
        "events.db",
        "tracks.parquet",
        "config.yaml",
    ],
)
def test_one_byte_change_is_named(run: Run, target: str) -> None:
    d = run.run_dir
    if target == "source":
        path = run.video
    elif target == "evidence/still":
        path = next(d.glob("evidence/*.jpg"))
    elif target == "evidence/clip":
        path = next(d.glob("evidence/*.mp4"))
    elif target == "report/figure":
        path = d / "report" / "timeline.png"
    else:
        path = d / target
    _flip_one_byte(path)
    result = verify_run(d)
    expected = str(path.resolve()) if target == "source" else path.relative_to(d).as_posix()
    assert not result.ok
    assert result.changed == [expected] and not result.missing and not result.added
    assert any(line.startswith(f"CHANGED: {expected}") for line in result.lines())


def test_missing_and_added_files_are_named(run: Run) -> None:
    d = run.run_dir
    gone = next(d.glob("evidence/*.mp4"))
    gone.unlink()
    (d / "report" / "extra.html").write_text("<p>planted</p>")
    (d / "evidence" / "sub").mkdir()
    (d / "evidence" / "sub" / "x.jpg").write_bytes(b"\xff\xd8")
    result = verify_run(d)
    assert result.missing == [gone.relative_to(d).as_posix()]
    assert sorted(result.added) == ["evidence/sub/x.jpg", "report/extra.html"]
    assert result.changed == [] and not result.ok


def test_missing_source_is_named(run: Run) -> None:
    run.video.unlink()
    assert verify_run(run.run_dir).missing == [str(run.video.resolve())]


def test_no_manifest_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"no manifest\.json"):
        verify_run(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(ManifestError, match="not a linewatch manifest"):
        verify_run(tmp_path)


def test_verify_command_exit_codes(run: Run, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from linewatch.cli import app

    cli = CliRunner()
    ok = cli.invoke(app, ["verify", str(run.run_dir)])
    assert ok.exit_code == 0 and "intact" in ok.output
    _flip_one_byte(next(run.run_dir.glob("evidence/*.jpg")), offset=200)
    bad = cli.invoke(app, ["verify", str(run.run_dir), "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["changed"][0].startswith("evidence/")
    assert cli.invoke(app, ["verify", str(tmp_path / "nothing")]).exit_code == 2
