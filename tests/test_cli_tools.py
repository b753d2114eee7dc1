"""The evaluation and export commands on a small run made here (and PETS09 gt if present)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linewatch.cli import app
from linewatch.records import ObjectClass, TrackPoint
from linewatch.tracklog import TrackLogWriter

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PETS_GT = SHARED / "data/pets09-s2l1/gt.txt"


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    with TrackLogWriter(run / "tracks.parquet") as log:
        for f in range(5):
            pts = [
                TrackPoint(
                    "cam",
                    tid,
                    f / 10,
                    f,
                    (10.0 * tid + f, 20.0, 10.0 * tid + f + 8, 40.0),
                    ObjectClass.PERSON,
                    0.9,
                )
                for tid in (1, 2)
            ]
            log.step("cam", f / 10, pts, [])
        log.step("cam", 0.4, [], [1, 2])
    return run


def test_export_mot_then_eval_tracks_against_itself(tmp_path: Path) -> None:
    run = _run(tmp_path)
    mot = tmp_path / "tracks.txt"
    r = CliRunner().invoke(app, ["export", "mot", str(run), "--out", str(mot)])
    assert r.exit_code == 0, r.output
    rows = [line.split(",") for line in mot.read_text().splitlines()]
    assert len(rows) == 10 and rows[0][:2] == ["1", "1"]
    assert float(rows[0][4]) == pytest.approx(8.0) and float(rows[0][5]) == pytest.approx(20.0)
    # the run scored against its own export is perfect
    r = CliRunner().invoke(app, ["eval", "tracks", str(run), "--gt", str(mot), "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert m["idf1"] == pytest.approx(1.0) and m["hota"] == pytest.approx(1.0)


def test_eval_tracks_input_errors(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["eval", "tracks", str(tmp_path / "x"), "--gt", str(tmp_path)])
    assert r.exit_code == 2


@pytest.mark.skipif(not PETS_GT.is_file(), reason="../shared/data/pets09-s2l1 is absent")
def test_eval_tracks_gt_against_itself() -> None:
    r = CliRunner().invoke(app, ["eval", "tracks", str(PETS_GT), "--gt", str(PETS_GT), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["idf1"] == pytest.approx(1.0)
