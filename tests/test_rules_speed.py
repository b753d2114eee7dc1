"""Speed: robust estimates, limits per class, absurd values rejected, uncalibrated cameras."""

from __future__ import annotations

import numpy as np
import pytest
from test_rules_helpers import (
    IMAGE_TO_SITE,
    calibration,
    config,
    engine_for,
    image_track,
    linear,
    run_frames,
    site_track,
    times,
)

from linewatch.config import SiteConfig
from linewatch.records import Event, ObjectClass
from linewatch.rules.kinematics import RecentPath, theil_sen_velocity


def cfg(**speed: object) -> SiteConfig:
    return config(
        cameras=[
            {"id": "cam1", "source": "a.mp4", "calibration": calibration(IMAGE_TO_SITE)},
            {"id": "cam2", "source": "b.mp4"},
        ],
        rules={"speed": speed},
    )


def speed_events(c: SiteConfig, tracks: list[list], camera: str = "cam1") -> list[Event]:
    evs = run_frames(engine_for(c), camera, tracks, kind=None)
    return [e for e in evs if e.kind in ("speeding", "track_speed")]


def test_theil_sen_ignores_one_wild_point() -> None:
    t = np.arange(10) / 10.0
    xy = np.c_[2.0 * t, -1.0 * t]
    xy[4] += [30.0, 30.0]
    vx, vy = theil_sen_velocity(t, xy)  # type: ignore[misc]
    assert (vx, vy) == pytest.approx((2.0, -1.0))
    assert theil_sen_velocity(t[:1], xy[:1]) is None


def test_recent_path_is_bounded_by_time() -> None:
    path = RecentPath(2.0)
    for k in range(1000):
        path.add(k / 10, float(k), 0.0)
    assert len(path) == 21  # the last 2 s at 10 fps
    assert path.speed(1.0) == pytest.approx(10.0)
    assert path.speed_at(99.0, 1.0) == pytest.approx(10.0)
    assert path.speed_at(50.0, 1.0) is None  # forgotten


def test_summary_of_a_constant_speed_track() -> None:
    # 18 km/h = 5 m/s east at 12.5 fps for 4 s
    ts = times(51, fps=12.5)
    tr = site_track([(5.0 * t, 3.0) for t in ts], ts, cls=ObjectClass.BICYCLE)
    (ev,) = speed_events(cfg(), [tr])
    assert ev.kind == "track_speed"
    assert ev.attributes["max_kmh"] == pytest.approx(18.0, abs=0.01)
    assert ev.attributes["mean_kmh"] == pytest.approx(18.0, abs=0.01)
    assert ev.attributes["class"] == "bicycle" and ev.attributes["rejected"] == 0
    assert ev.provenance is not None and ev.provenance.params["window_seconds"] == 1.0


def test_one_jump_does_not_make_a_speed_record() -> None:
    ts = times(40)
    path = [(1.4 * t, 0.0) for t in ts]  # ~5 km/h walk
    path[20] = (path[20][0] + 25.0, 10.0)  # the box jumped to something else for one frame
    (ev,) = speed_events(cfg(), [site_track(path, ts)])
    assert ev.attributes["max_kmh"] < 6.0


def test_speeding_episode_per_class_limit() -> None:
    # a car at 20 km/h, then 50 km/h for 3 s, then 20 km/h again
    ts = times(91)
    v = [20 if t < 3 or t >= 6 else 50 for t in ts]
    xs = np.concatenate([[0.0], np.cumsum(np.array(v[1:]) / 3.6 * 0.1)])
    car = site_track([(x, 0.0) for x in xs], ts, cls=ObjectClass.VEHICLE)
    walker = site_track(linear((0, 5), (20, 5), 91), ts, track_id=2)  # 8 km/h, no limit
    evs = speed_events(cfg(limits_kmh={"vehicle": 30}, summaries=False), [car, walker])
    (ep,) = evs
    assert ep.kind == "speeding" and ep.track_ids == (1,)
    assert ep.attributes["max_kmh"] == pytest.approx(50.0, abs=0.5)
    assert ep.attributes["limit_kmh"] == 30
    # the window (1 s) smears the steps: start/end within half a window of the truth
    assert ep.t_start == pytest.approx(3.0, abs=0.5)
    assert ep.t_end == pytest.approx(6.0, abs=0.5)


def test_absurd_speeds_are_rejected() -> None:
    # a "person" moving at 200 km/h: a tracking error, not a sprinter
    ts = times(30)
    tr = site_track([(200 / 3.6 * t, 0.0) for t in ts], ts)
    evs = speed_events(cfg(limits_kmh={"person": 10}), [tr])
    assert evs == []  # no speeding and no summary: every estimate was rejected
    car = site_track([(200 / 3.6 * t, 0.0) for t in ts], ts, cls=ObjectClass.VEHICLE)
    (ev,) = speed_events(cfg(), [car])
    assert ev.attributes["max_kmh"] == pytest.approx(200.0, abs=0.1)


def test_uncalibrated_camera_gives_no_speed_and_says_so() -> None:
    c = cfg()
    engine = engine_for(c)
    assert any("cam2" in n and "speed" in n for n in engine.notes)
    tr = image_track(linear((0, 100), (600, 100), 31), times(31), camera="cam2")
    assert speed_events(c, [tr], camera="cam2") == []


def test_state_dropped_after_tracks_end() -> None:
    engine = engine_for(cfg())
    ts = times(20)
    for k in range(5):
        tr = site_track([(t, float(k)) for t in ts], ts, track_id=k)
        for p in tr:
            engine.step("cam1", p.t, [p], [])
        engine.step("cam1", ts[-1], [], [k])
    assert engine.state_size()["speed"] == 0
