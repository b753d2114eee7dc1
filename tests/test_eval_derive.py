"""Ground-truth events derived from MOT ground-truth tracks by the rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from linewatch.cli import app
from linewatch.config import SiteConfig, parse_config
from linewatch.eval.derive import derive_events, load_mot_rows, track_points
from linewatch.eval.events import evaluate_events

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PETS_GT = SHARED / "data" / "pets09-s2l1" / "gt.txt"

# image px -> site m: x / 10 east, -y / 10 north
CAL = {
    "image": [[0, 0], [100, 0], [100, 100], [0, 100]],
    "site": [[0, 0], [10, 0], [10, -10], [0, -10]],
}


def config(calibrated: bool = True, fps: float | None = 10.0, two: bool = False) -> SiteConfig:
    cam: dict[str, Any] = {"id": "cam1", "source": "x.mp4"}
    if fps is not None:
        cam["fps"] = fps
    if calibrated:
        cam["calibration"] = CAL
    cams = [cam, {"id": "cam2", "source": "y.mp4", "calibration": CAL}] if two else [cam]
    if not calibrated and not two:
        cams.append({"id": "other", "source": "z.mp4", "calibration": CAL})
    return parse_config(
        {
            "cameras": cams,
            "lines": [
                {
                    "id": "gate",
                    "points": [[5, -20], [5, 5]],
                    "sides": {"left": "west", "right": "east"},
                }
            ],
            "zones": [{"id": "yard", "points": [[6, -8], [20, -8], [20, -2], [6, -2]]}],
        }
    )


def walker(tid: int, x0: float, dx: float, foot_y: float, frames: range, conf: float = 1.0):
    """MOT15 rows of a person whose foot moves dx px per frame; world = the calibration's."""
    rows = []
    for f in frames:
        x = x0 + dx * (f - frames.start)
        rows.append([f, tid, x - 5, foot_y - 20, 10, 20, conf, x / 10, -foot_y / 10, 0])
    return rows


def test_a_walker_crossing_the_line_and_entering_the_zone() -> None:
    rows = np.array(walker(7, 10, 2, 50, range(1, 42)))  # foot x 10 -> 90 px, t = 0 .. 4 s
    events = derive_events(rows, config())
    kinds = [(e.kind, e.subject, e.direction) for e in events]
    assert ("crossing", "gate", "west->east") in kinds
    crossing = next(e for e in events if e.kind == "crossing")
    assert crossing.t_start == pytest.approx(2.0)  # foot x = 50 px (5 m) at frame 21
    assert crossing.track_ids == (7,)
    enter = next(e for e in events if e.kind == "zone_enter")
    assert enter.t_start == pytest.approx(2.5, abs=0.11)  # x = 6 m at frame 26
    # the track ends after its last row, inside the zone: the stay is closed there
    exit_ = next(e for e in events if e.kind == "zone_exit")
    assert exit_.t_end == pytest.approx(4.0, abs=0.11)
    assert {e.kind for e in events} <= {"crossing", "incursion", "zone_enter", "zone_exit"}


def test_tracks_end_after_their_last_row() -> None:
    rows = np.array(walker(1, 10, 2, 50, range(1, 6)) + walker(2, 10, 2, 70, range(3, 10)))
    steps = track_points(rows, "cam1", 10.0)
    assert [round(t, 3) for t, _, _ in steps] == [round(f / 10, 3) for f in range(9)]
    ended = {i: s[2] for i, s in enumerate(steps) if s[2]}
    assert ended == {4: [1], 8: [2]}
    assert all(p.site is None for _, pts, _ in steps for p in pts)  # no homography given
    assert steps[0][1][0].box == (5.0, 30.0, 15.0, 50.0) and steps[0][1][0].frame == 0


def test_world_positions_replace_the_projection() -> None:
    rows = np.array(walker(3, 10, 2, 50, range(1, 42)))
    rows[:, 7] = rows[::-1, 7]  # the world path runs the other way
    events = derive_events(rows, config(), world=True)
    crossing = [e for e in events if e.kind == "crossing"]
    assert [e.direction for e in crossing] == ["east->west"]


def test_world_mode_calibrates_an_uncalibrated_camera_from_the_truth() -> None:
    rows = np.array(walker(1, 10, 2, 50, range(1, 42)) + walker(2, 90, -2, 80, range(1, 42)))
    cfg = config(calibrated=False)  # (a site line needs some calibrated camera: "other")
    assert derive_events(rows, cfg, camera="cam1") == []  # a site line needs a calibration
    derived = derive_events(rows, cfg, camera="cam1", world=True)
    got = sorted(e.direction or "" for e in derived if e.kind == "crossing")
    assert got == ["east->west", "west->east"]


def test_conf_zero_rows_are_kept_unless_asked() -> None:
    rows = np.array(walker(1, 10, 2, 50, range(1, 42)) + walker(2, 90, -2, 80, range(1, 42), 0.0))
    assert len([e for e in derive_events(rows, config()) if e.kind == "crossing"]) == 2
    only = [e for e in derive_events(rows, config(), evaluated_only=True) if e.kind == "crossing"]
    assert [e.track_ids for e in only] == [(1,)]


def test_frame_rate_comes_from_the_camera_or_the_caller() -> None:
    rows = np.array(walker(7, 10, 2, 50, range(1, 42)))
    at_5 = next(e for e in derive_events(rows, config(), fps=5.0) if e.kind == "crossing")
    assert at_5.t_start == pytest.approx(4.0)
    with pytest.raises(ValueError, match="fps"):
        derive_events(rows, config(fps=None))
    with pytest.raises(ValueError, match="several cameras"):
        derive_events(rows, config(two=True))
    two = next(
        e for e in derive_events(rows, config(two=True), camera="cam1") if e.kind == "crossing"
    )
    assert two.camera == "cam1" and two.t_start == pytest.approx(2.0)


def test_unknown_camera_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not in the config"):
        derive_events(np.zeros((0, 10)), config(), camera="nope")
    with pytest.raises(FileNotFoundError):
        load_mot_rows(tmp_path / "none.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="7 columns"):
        load_mot_rows(bad)


def test_cli_derive_writes_the_events(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    gt.write_text(
        "\n".join(",".join(f"{v:g}" for v in r) for r in walker(7, 10, 2, 50, range(1, 42)))
    )
    cfg = tmp_path / "site.yaml"
    cfg.write_text(
        json.dumps(
            {
                "cameras": [{"id": "cam1", "source": "x.mp4", "fps": 10, "calibration": CAL}],
                "lines": [{"id": "gate", "points": [[5, -20], [5, 5]]}],
            }
        )
    )
    out = tmp_path / "events.json"
    res = CliRunner().invoke(
        app, ["eval", "derive", "--gt-tracks", str(gt), "--config", str(cfg), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    written = json.loads(out.read_text())
    assert [(e["kind"], e["subject"], e["t_start"]) for e in written] == [("crossing", "gate", 2.0)]
    res = CliRunner().invoke(app, ["eval", "derive", "--gt-tracks", str(gt), "--config", str(cfg)])
    assert res.exit_code == 0 and json.loads(res.stdout) == written
    missing = CliRunner().invoke(
        app, ["eval", "derive", "--gt-tracks", str(tmp_path / "no.txt"), "--config", str(cfg)]
    )
    assert missing.exit_code == 2


# --------------------------------------------------------------------------- PETS09-S2L1
PETS_LINES = [
    {"id": "south_y11", "points": [[-16, -11], [-2, -11]]},
    {"id": "north_y1", "points": [[-12, -1], [-3, -1]]},
    {"id": "east_x1", "points": [[-1, -12], [-1, -5]]},
]
PETS_CAL = {  # 6 gt foot points and their worldX/worldY
    "image": [[15.835, 202.584], [716.06, 574.88], [464.76, 203.26], [242.9335, 574.5],
              [717.623, 308.04], [239.73, 270.808]],
    "site": [[-6.541, 7.6544], [-17.08, -16.247], [-1.8179, -4.7477], [-19.689, -11.475],
             [-7.6933, -13.356], [-9.4906, -3.2483]],
}  # fmt: skip


@pytest.mark.shared
def test_pets_truth_against_itself_and_projection_against_world() -> None:
    if not PETS_GT.is_file():
        pytest.skip(f"real data not available: {PETS_GT} is absent")
    cfg = parse_config(
        {
            "cameras": [{"id": "v1", "source": "vtest.avi", "fps": 7, "calibration": PETS_CAL}],
            "lines": PETS_LINES,
        }
    )
    projected = [e.to_dict() for e in derive_events(PETS_GT, cfg, kinds=["crossing"])]
    assert len(projected) >= 20  # the lines are where people walk
    assert evaluate_events(projected, projected).overall.f1 == 1.0
    world = [e.to_dict() for e in derive_events(PETS_GT, cfg, world=True, kinds=["crossing"])]
    m = evaluate_events(world, projected, tolerance_s=1.0)
    # the 6-point calibration reproduces the gt ground positions to a few cm
    assert m.overall.f1 >= 0.95
    assert m.overall.timing["median"] is not None and m.overall.timing["median"] < 0.15
