"""Calibration tooling: reprojection reports, the fit from MOT world positions, the drawing."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from linewatch.annotate import LINE_COLOUR
from linewatch.calibrate import (
    draw_calibration,
    draw_grid,
    fit_from_mot_world,
    format_report,
    read_frame,
    reprojection_report,
    site_extent,
    spread_indices,
)
from linewatch.cli import app
from linewatch.config import SiteConfig, parse_config
from linewatch.geometry import Homography

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PETS_GT = SHARED / "data" / "pets09-s2l1" / "gt.txt"

# image px -> site m: 10 px per metre, site Y up (image y down)
IMG = [[0, 0], [200, 0], [200, 100], [0, 100]]
SITE = [[0, 0], [20, 0], [20, -10], [0, -10]]
TILTED = np.array([[0.05, 0.01, -3.0], [0.002, -0.2, 40.0], [0.0002, 0.004, 1.0]])


def site_cfg(source: str = "clip.mp4", calibrated: bool = True) -> SiteConfig:
    cam: dict[str, object] = {"id": "cam1", "source": source}
    if calibrated:
        cam["calibration"] = {"image": IMG, "site": SITE}
    lines: list[dict[str, object]] = [
        {"id": "img", "camera": "cam1", "points": [[20, 95], [60, 95]]},
    ]
    if calibrated:
        lines.append({"id": "fence", "points": [[12.5, -9], [12.5, -1]]})
    return parse_config({"cameras": [cam], "lines": lines}, base_dir=None)


# --------------------------------------------------------------------------- reports
def test_reprojection_report_in_metres_and_pixels() -> None:
    truth = Homography(TILTED)
    img = np.array([[100, 300], [500, 320], [480, 560], [90, 570], [300, 420]], dtype=float)
    site = truth.to_site(img)
    site[4] += (0.0, 1.0)  # one pair is 1 m off
    h = Homography.fit(img, site)
    rep = reprojection_report(h, img, site)
    err_m = np.array([p.error_m for p in rep.points])
    err_px = np.array([p.error_px for p in rep.points])
    assert int(np.argmax(err_m)) == 4 and err_m[4] > 0.2
    # independent recomputation of both error kinds
    np.testing.assert_allclose(err_m, np.linalg.norm(h.to_site(img) - site, axis=1))
    np.testing.assert_allclose(err_px, np.linalg.norm(h.to_image(site) - img, axis=1))
    assert rep.metres.rms == pytest.approx(float(np.sqrt(np.mean(err_m**2))))
    assert rep.pixels.median == pytest.approx(float(np.median(err_px)))
    assert rep.metres.max == pytest.approx(float(err_m.max()))
    text = format_report(rep)
    assert len(text.splitlines()) == 1 + 5 + 1 and "RMS" in text
    exact = reprojection_report(truth, img[:4], truth.to_site(img[:4]))
    assert exact.metres.max < 1e-9 and exact.pixels.max < 1e-6


def test_spread_indices_pick_points_far_apart() -> None:
    xs, ys = np.meshgrid(np.arange(5.0), np.arange(4.0))
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
    idx = spread_indices(pts, 4)
    assert len(set(idx)) == 4
    picked = pts[idx]
    # the first two span the set's diameter, and all four are well apart
    assert np.linalg.norm(picked[0] - picked[1]) == pytest.approx(5.0)
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(picked) for b in picked[i + 1 :]]
    assert min(gaps) >= 3.0
    assert spread_indices(pts[:3], 8) == [0, 1, 2]


def _write_mot(path: Path, h: Homography, noise: float = 0.0) -> None:
    rng = np.random.default_rng(3)
    rows = []
    for tid in range(1, 11):
        start = rng.uniform([50, 250], [700, 550])
        for f in range(1, 21):
            foot = start + f * rng.normal(0, 2, 2)
            w = rng.uniform(20, 40)
            ht = 2.5 * w
            wx, wy = h.to_site(foot) + rng.normal(0, noise, 2)
            rows.append(f"{f},{tid},{foot[0] - w / 2},{foot[1] - ht},{w},{ht},1,{wx},{wy},0")
    path.write_text("\n".join(rows) + "\n")


def test_fit_from_mot_world_recovers_a_known_homography(tmp_path: Path) -> None:
    truth = Homography(TILTED)
    gt = tmp_path / "gt.txt"
    _write_mot(gt, truth)
    h, rep = fit_from_mot_world(gt)
    assert rep.holdout_m.n > 0 and rep.holdout_m.max < 1e-4
    assert set(rep.fit_ids).isdisjoint(rep.holdout_ids)
    assert set(rep.fit_ids) | set(rep.holdout_ids) == set(range(1, 11))
    probe = np.array([[300.0, 400.0], [600.0, 500.0]])
    np.testing.assert_allclose(h.to_site(probe), truth.to_site(probe), atol=1e-4)
    _write_mot(gt, truth, noise=0.05)
    _, few = fit_from_mot_world(gt, max_pairs=6)
    assert few.fit.metres.n == 6
    assert few.holdout_m.median < 0.2  # 5 cm noise on the fitting pairs
    with pytest.raises(ValueError, match="at least 4"):
        fit_from_mot_world(gt, max_pairs=3)


@pytest.mark.shared
def test_pets_ground_plane_fit_and_units() -> None:
    if not PETS_GT.is_file():
        pytest.skip(f"real data not available: {PETS_GT} is absent")
    for pairs in (None, 6):
        h, rep = fit_from_mot_world(PETS_GT, max_pairs=pairs)
        assert rep.holdout_m.n > 1000
        assert rep.holdout_m.median <= 0.3, (pairs, rep.holdout_m)
    # worldX/worldY are metres: people are 1.5-2 m tall through the fitted homography, and
    # walk about 1 m/s at the sequence's real rate of 7 fps
    rows = np.loadtxt(PETS_GT, delimiter=",")
    foot = np.stack([rows[:, 2] + rows[:, 4] / 2, rows[:, 3] + rows[:, 5]], axis=1)
    heights = [h.scale_at(f) * ht for f, ht in zip(foot[::10], rows[::10, 5], strict=True)]
    assert 1.5 < float(np.median(heights)) < 2.0
    speeds = []
    for tid in np.unique(rows[:, 1]):
        tr = rows[rows[:, 1] == tid]
        tr = tr[np.argsort(tr[:, 0])]
        if len(tr) > 7:
            step = np.linalg.norm(tr[7:, 7:9] - tr[:-7, 7:9], axis=1)
            speeds.append(np.median(step / ((tr[7:, 0] - tr[:-7, 0]) / 7.0)))
    assert 0.6 < float(np.median(speeds)) < 1.8


# --------------------------------------------------------------------------- drawing
def near_colour(img: np.ndarray, y: int, x: int, colour: tuple[int, int, int]) -> bool:
    """Some pixel within 2 px of (x, y) has the colour (anti-aliased lines)."""
    patch = img[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].reshape(-1, 3).astype(int)
    return bool(np.any(np.abs(patch - np.array(colour)).max(axis=1) <= 8))


def test_grid_lines_land_where_the_site_metres_are() -> None:
    h = Homography.fit(IMG, SITE)
    img = np.zeros((100, 200, 3), dtype=np.uint8)
    draw_grid(img, h, minor=1.0, major=5.0, around=SITE)
    major = img[15, 50].astype(int)  # x = 5 m
    minor = img[15, 30].astype(int)  # x = 3 m
    between = img[15, 55].astype(int)  # x = 5.5 m
    assert major.min() > 200
    assert 40 < minor.max() < major.min()
    assert between.max() == 0
    assert img[50, 175].min() > 200  # y = -5 m, the horizontal major line


def test_site_extent_is_cut_near_the_calibration_points() -> None:
    h = Homography(TILTED)
    free = site_extent(h, (768, 576))
    cut = site_extent(h, (768, 576), around=[[0, 0], [2, 0], [2, 2], [0, 2]])
    assert free is not None and cut is not None
    assert cut[0] >= -6 and cut[2] <= 8 and cut[1] >= -6 and cut[3] <= 8
    assert (cut[2] - cut[0]) <= (free[2] - free[0])


def test_draw_calibration_draws_lines_zones_and_returns_the_report() -> None:
    frame = np.zeros((100, 200, 3), dtype=np.uint8)
    out, rep = draw_calibration(frame, site_cfg(), "cam1")
    assert rep is not None and rep.metres.max < 1e-9
    assert frame.max() == 0  # the input is not drawn on
    assert near_colour(out, 40, 125, LINE_COLOUR)  # the site line at x = 12.5 m
    assert near_colour(out, 95, 40, LINE_COLOUR)  # the image line
    assert not near_colour(out, 40, 110, LINE_COLOUR)
    bare, none = draw_calibration(frame, site_cfg(calibrated=False), "cam1")
    assert none is None
    assert near_colour(bare, 95, 40, LINE_COLOUR)
    assert not near_colour(bare, 40, 125, LINE_COLOUR)  # a site line needs the calibration
    assert bare[15, 50].max() == 0  # no grid without a calibration


# --------------------------------------------------------------------------- frames and CLI
def _clip(path: Path, n: int = 6) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 200, 100, "yuv420p"
        s.options = {"g": "5", "bf": "0", "preset": "ultrafast"}
        for i in range(n):
            img = np.full((100, 200, 3), 30 * i, dtype=np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def test_read_frame_and_cli_calibrate(tmp_path: Path) -> None:
    _clip(tmp_path / "clip.mp4")
    cfg_path = tmp_path / "site.yaml"
    cfg_path.write_text(
        "cameras:\n  - id: cam1\n    source: clip.mp4\n"
        f"    calibration: {{image: {IMG}, site: {SITE}}}\n"
        "lines:\n  - {id: fence, points: [[12.5, -9], [12.5, -1]]}\n"
    )
    from linewatch.config import load_config

    cfg = load_config(cfg_path)
    frame = read_frame(cfg, "cam1", 4)
    assert frame.index == 4 and abs(int(frame.image[5, 5, 0]) - 120) < 12
    with pytest.raises(ValueError, match="ends before frame 9"):
        read_frame(cfg, "cam1", 9)
    png = tmp_path / "check.png"
    res = CliRunner().invoke(
        app, ["calibrate", str(cfg_path), "--camera", "cam1", "--out", str(png), "--frame", "2"]
    )
    assert res.exit_code == 0, res.output
    assert "RMS" in res.stdout and len(res.stdout.strip().splitlines()) == 6
    drawn = cv2.imread(str(png))
    assert drawn is not None and drawn.shape == (100, 200, 3)
    assert near_colour(drawn, 40, 125, LINE_COLOUR)
    js = CliRunner().invoke(
        app, ["calibrate", str(cfg_path), "-c", "cam1", "-o", str(png), "--json"]
    )
    assert js.exit_code == 0 and '"rms"' in js.stdout
    for bad in (["--camera", "nope"], ["--camera", "cam1", "--frame", "50"]):
        res = CliRunner().invoke(app, ["calibrate", str(cfg_path), "--out", str(png), *bad])
        assert res.exit_code == 2, res.output
