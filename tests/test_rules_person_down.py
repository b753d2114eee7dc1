"""Person down: posture, stillness, time to assistance (same and other cameras)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_rules_helpers import (
    IMAGE_TO_SITE,
    calibration,
    config,
    engine_for,
    homography,
    image_track,
    linear,
    site_track,
    times,
)

from linewatch.config import SiteConfig
from linewatch.geometry import Homography
from linewatch.records import Event, ObjectClass, TrackPoint
from linewatch.rules.person_down import posture

H = homography(IMAGE_TO_SITE)  # 10 px per metre
STANDING = (6.0, 17.0)  # box width, height in pixels: 0.6 m x 1.7 m
LYING = (17.0, 5.0)


def cfg(**down: object) -> SiteConfig:
    cal = calibration(IMAGE_TO_SITE)
    return config(
        cameras=[
            {"id": "cam1", "source": "a.mp4", "calibration": cal},
            {"id": "cam2", "source": "b.mp4", "calibration": cal},
            {"id": "cam3", "source": "c.mp4"},
        ],
        rules={
            "person_down": {"min_seconds": 5.0, **down},
            "speed": {"enabled": False},
            "pursuit": {"enabled": False},
        },
    )


def shaped(points: list[TrackPoint], size: tuple[float, float]) -> list[TrackPoint]:
    """The same foot points with boxes of ``size`` (w, h) pixels."""
    out = []
    for p in points:
        fx, fy = p.foot
        w, h = size
        out.append(replace(p, box=(fx - w / 2, fy - h, fx + w / 2, fy)))
    return out


def faller(
    tid: int = 1,
    camera: str = "cam1",
    down_at: float = 2.0,
    up_at: float | None = None,
    end: float = 30.0,
    where: tuple[float, float] = (10.0, 10.0),
) -> list[TrackPoint]:
    """Walks east at 1.4 m/s, lies down still at ``where`` at ``down_at`` (gets up at
    ``up_at`` and walks on)."""
    ts = times(int(end * 10) + 1)
    pts = []
    for t in ts:
        if t < down_at:
            pos, size = (where[0] - 1.4 * (down_at - t), where[1]), STANDING
        elif up_at is None or t < up_at:
            pos, size = where, LYING
        else:
            pos, size = (where[0] + 1.4 * (t - up_at), where[1]), STANDING
        pts += shaped(site_track([pos], [t], track_id=tid, camera=camera), size)
    return pts


def helper(
    tid: int,
    start: tuple[float, float],
    to: tuple[float, float],
    t0: float,
    t1: float,
    camera: str = "cam1",
) -> list[TrackPoint]:
    n = round((t1 - t0) * 10) + 1
    return shaped(site_track(linear(start, to, n), times(n, t0=t0), tid, camera), STANDING)


def run(c: SiteConfig, tracks: list[list[TrackPoint]], finish: bool = True) -> list[Event]:
    """Interleave all cameras' points by time; each track ends after its last point."""
    engine = engine_for(c)
    pts = sorted((p for tr in tracks for p in tr), key=lambda p: p.t)
    last = {(tr[-1].camera, tr[-1].track_id): tr[-1].t for tr in tracks}
    events: list[Event] = []
    for p in pts:
        ended = [p.track_id] if last[(p.camera, p.track_id)] == p.t else []
        events += engine.step(p.camera, p.t, [p], ended)
    if finish:
        events += engine.finish()
        assert all(v == 0 for v in engine.state_size().values()), engine.state_size()
    return [e for e in events if e.kind == "person_down"]


# --------------------------------------------------------------------------- posture
def test_box_posture_in_site_terms() -> None:
    foot = (300.0, 400.0)
    standing = (foot[0] - 3, foot[1] - 17, foot[0] + 3, foot[1])
    lying = (foot[0] - 8.5, foot[1] - 5, foot[0] + 8.5, foot[1])
    p = site_track([H.to_site(foot)], [0.0])[0]
    assert posture(replace(p, box=standing), H).lying is False
    post = posture(replace(p, box=lying), H)
    assert post.lying is True and post.method == "box"
    assert post.width_m == pytest.approx(1.7) and post.height_m == pytest.approx(0.5)
    # three people merged into one wide box are wider than tall, but not lying
    group = (foot[0] - 15, foot[1] - 17, foot[0] + 15, foot[1])
    assert posture(replace(p, box=group), H).lying is False


def test_box_posture_with_perspective() -> None:
    # far away (top of the image) a pixel covers more ground: same pixel box, same answer
    img = np.array([[0, 200], [640, 200], [640, 480], [0, 480]], dtype=float)
    site = np.array([[-20, 60], [20, 60], [4, 5], [-4, 5]], dtype=float)
    h = Homography.fit(img, site)
    for foot in [(320.0, 470.0), (320.0, 230.0)]:
        s = float(h.scale_at(foot))
        w_px, h_px = 0.5 / s, 1.7 / s  # a standing person there
        p = TrackPoint(
            "cam1",
            1,
            0.0,
            0,
            (foot[0] - w_px / 2, foot[1] - h_px, foot[0] + w_px / 2, foot[1]),
            ObjectClass.PERSON,
            0.9,
        )
        assert posture(p, h).lying is False
        lying = replace(p, box=(foot[0] - h_px / 2, foot[1] - w_px, foot[0] + h_px / 2, foot[1]))
        assert posture(lying, h).lying is True


def test_keypoints_override_the_box() -> None:
    p = shaped(site_track([(10.0, 10.0)], [0.0]), STANDING)[0]
    kps = [(0.0, 0.0, 0.0)] * 17
    kps[5], kps[6] = (100.0, 300.0, 0.9), (102.0, 305.0, 0.9)  # shoulders
    kps[11], kps[12] = (140.0, 302.0, 0.9), (141.0, 306.0, 0.9)  # hips: torso horizontal
    post = posture(replace(p, keypoints=tuple(kps)), H)
    assert post.lying is True and post.method == "keypoints"
    kps[11], kps[12] = (100.0, 340.0, 0.9), (102.0, 342.0, 0.9)  # torso vertical
    assert posture(replace(p, keypoints=tuple(kps)), H).lying is False
    kps[11], kps[12] = (100.0, 340.0, 0.1), (102.0, 342.0, 0.1)  # hips unsure: the box decides
    assert posture(replace(p, keypoints=tuple(kps)), H).method == "box"


# --------------------------------------------------------------------------- episodes
def test_down_then_helped_then_up() -> None:
    # down at t=2 at (10, 10); a helper walks from (20, 10) at 1 m/s from t=6: within 2 m
    # of the person at t=14
    tracks = [faller(up_at=20.0), helper(2, (20, 10), (11, 10), 6.0, 15.0)]
    (ev,) = run(cfg(), tracks)
    a = ev.attributes
    assert ev.track_ids == (1,) and ev.location == pytest.approx((10.0, 10.0))
    assert a["t_down"] == pytest.approx(2.0, abs=0.15)
    assert a["assisted"] is True and a["helper"] == {
        "camera": "cam1",
        "track_id": 2,
        "distance_m": pytest.approx(2.0, abs=0.1),
    }
    assert a["t_assistance"] == pytest.approx(14.0, abs=0.11)
    waited = a["t_assistance"] - a["t_down"]
    assert a["time_to_assistance_seconds"] == pytest.approx(waited, abs=1e-3)
    assert a["got_up"] is True and a["ended_by"] == "got_up"
    assert ev.t_end == pytest.approx(20.0, abs=0.6)
    assert ev.provenance is not None and len(ev.provenance.observations) == 3


def test_no_one_came() -> None:
    (ev,) = run(cfg(), [faller(end=40.0), helper(2, (30, 30), (25, 30), 0.0, 40.0)])
    assert ev.attributes["assisted"] is False
    assert ev.attributes["ended_by"] == "footage_end"
    assert ev.attributes["duration_down_seconds"] == pytest.approx(38.0, abs=0.15)


def test_not_down_when_moving_standing_or_briefly() -> None:
    ts = times(300)
    crawling = shaped(site_track([(0.8 * t, 0.0) for t in ts], ts), LYING)  # ~3 km/h
    standing = shaped(site_track([(5.0, 5.0)] * 300, ts, track_id=2), STANDING)
    brief = faller(3, down_at=2.0, up_at=5.0, end=15.0)  # 3 s < min_seconds
    assert run(cfg(), [crawling, standing, brief]) == []
    assert len(run(cfg(min_seconds=2.0), [faller(3, down_at=2.0, up_at=5.0, end=15.0)])) == 1


def test_down_person_lost_by_the_detector_then_helped() -> None:
    # the detector stops seeing the lying person at t=12; a helper arrives at t=25
    down = faller(end=12.0)
    (ev,) = run(cfg(), [down, helper(2, (22, 10), (11, 10), 14.0, 25.0)])
    a = ev.attributes
    assert a["assisted"] is True and a["ended_by"] == "track_end"
    assert a["last_seen_down"] == pytest.approx(12.0)
    assert a["t_assistance"] == pytest.approx(24.0, abs=0.11)


def test_lost_and_nobody_within_the_wait() -> None:
    evs = run(cfg(max_wait_seconds=5.0), [faller(end=12.0), helper(2, (22, 10), (11, 10), 14, 25)])
    (ev,) = evs
    assert ev.attributes["assisted"] is False and ev.attributes["ended_by"] == "max_wait"


def test_helper_on_another_camera_and_the_down_persons_double() -> None:
    double = shaped(site_track([(10.2, 10.1)] * 200, times(200, t0=3.0), 1, "cam2"), LYING)
    other = helper(7, (20, 10), (11, 10), 6.0, 15.0, camera="cam2")
    evs = run(cfg(), [faller(end=30.0), double, other])
    (ev,) = evs  # one person, one finding: cam2's view of him is listed, not reported
    assert ev.camera == "cam1" and ev.track_ids == (1,)
    assert ev.attributes["also_seen_by"] == [{"camera": "cam2", "track_id": 1}]
    assert ev.attributes["helper"]["camera"] == "cam2"
    assert ev.attributes["helper"]["track_id"] == 7  # not the double (track 1 of cam2)
    assert ev.attributes["t_assistance"] == pytest.approx(14.0, abs=0.11)


def test_two_cameras_two_people_down_apart_are_two_findings() -> None:
    apart = shaped(site_track([(13.0, 10.0)] * 200, times(200, t0=3.0), 1, "cam2"), LYING)
    evs = run(cfg(), [faller(end=30.0), apart])
    assert sorted(e.camera for e in evs) == ["cam1", "cam2"]
    assert all("also_seen_by" not in e.attributes for e in evs)


def test_a_view_reports_on_its_own_when_the_first_camera_never_confirmed() -> None:
    # cam1 sees him lying for 3 s only (then loses him: under min_seconds), cam2 from 3 s on
    # for 20 s: cam2's episode started as a view of cam1's, and is the one reported
    brief = faller(end=5.0)
    long = shaped(site_track([(10.2, 10.1)] * 200, times(200, t0=3.0), 1, "cam2"), LYING)
    (ev,) = run(cfg(), [brief, long])
    assert ev.camera == "cam2" and "also_seen_by" not in ev.attributes


def test_uncalibrated_camera_is_noted_and_gives_nothing() -> None:
    c = cfg()
    assert any("person_down" in n and "cam3" in n for n in engine_for(c).notes)
    ts = times(200)
    lying = shaped(image_track([(300.0, 300.0)] * 200, ts, camera="cam3"), LYING)
    assert run(c, [lying]) == []


def test_a_box_settling_by_a_pixel_far_away_does_not_delay_t_down() -> None:
    """Far from the camera a pixel spans 0.4 m here: the lying box's bottom edge settling
    by one pixel 0.7 s after the fall moves the foot point 0.4 m. That is measurement, not
    motion: t_down stays at the fall (the rest radius is 1.5 px of ground there, 0.6 m,
    not 0.25 m). The price: the last 0.6 m of his walk count as at rest, so t_down may come
    up to 0.6 m / 1.4 m/s early."""
    coarse = np.array([[0.4, 0.0, 0.0], [0.0, -0.4, 200.0], [0.0, 0.0, 1.0]])
    hc = homography(coarse)
    c = config(
        cameras=[{"id": "cam1", "source": "a.mp4", "calibration": calibration(coarse)}],
        rules={
            "person_down": {"min_seconds": 5.0},
            "speed": {"enabled": False},
            "pursuit": {"enabled": False},
        },
    )
    pts = []
    for i, t in enumerate(times(201)):
        if t < 2.0:
            pos, (w, h) = (10.0 - 1.4 * (2.0 - t), 10.0), (1.5, 4.25)  # 0.6 x 1.7 m
        else:
            pos, (w, h) = ((10.0, 10.0) if t < 2.7 else (10.0, 9.6)), (4.25, 1.25)
        (p,) = site_track([pos], [t], h=hc)
        fx, fy = p.foot
        pts.append(replace(p, frame=i, box=(fx - w / 2, fy - h, fx + w / 2, fy)))
    assert hc.resolution_at(pts[-1].foot) == pytest.approx(0.4)
    (ev,) = run(c, [pts])
    assert ev.attributes["t_down"] == pytest.approx(2.0, abs=0.5)
