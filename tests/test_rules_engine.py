"""The rule engine: routing by camera, back-filled points, state eviction."""

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
from linewatch.rules.engine import RuleEngine

NS = {"left": "north", "right": "south"}


def site_config(**rules: object) -> SiteConfig:
    return config(
        cameras=[
            {"id": "cam1", "source": "a.mp4", "calibration": calibration(IMAGE_TO_SITE)},
            {"id": "cam2", "source": "b.mp4"},
        ],
        lines=[
            {"id": "fence", "points": [[0, 0], [10, 0]], "sides": NS},
            {"id": "gate", "camera": "cam2", "points": [[100, 300], [500, 300]], "sides": NS},
        ],
        rules=rules,
    )


def test_routes_site_and_image_lines_to_their_cameras() -> None:
    engine = engine_for(site_config())
    a = site_track(linear((5, 3), (5, -3), 7), times(7), track_id=1)
    ev1 = run_frames(engine, "cam1", [a])
    assert [(e.subject, e.camera, e.direction) for e in ev1] == [("fence", "cam1", "north->south")]
    # cam2 is uncalibrated: the site line does not apply, its own image line (pixels) does
    b = image_track(linear((300, 200), (300, 400), 11), times(11), track_id=1, camera="cam2")
    ev2 = run_frames(engine, "cam2", [b])
    assert [(e.subject, e.camera, e.direction) for e in ev2] == [("gate", "cam2", "north->south")]
    assert ev2[0].attributes["units"] == "px"


def test_backfilled_points_are_used() -> None:
    engine = engine_for(site_config())
    pts = site_track(linear((5, 3), (5, -3), 7), times(7), track_id=4)
    # the tracker confirms the track at t=0.4 and hands over its earlier points then
    assert engine.step("cam1", 0.0, [], []) == []
    events = engine.step("cam1", 0.4, pts[:5], [])
    events += engine.step("cam1", 0.5, [pts[5]], [])
    events += engine.step("cam1", 0.6, [pts[6]], [4])
    events = [e for e in events if e.kind == "crossing"]
    assert len(events) == 1
    assert events[0].t_start == pytest.approx(0.3)


def test_state_is_empty_after_all_tracks_end() -> None:
    engine = engine_for(site_config())
    tracks = [
        site_track(linear((k, 3), (k, -3), 7), times(7, t0=0.05 * k), track_id=k)
        for k in range(1, 9)
    ]
    events = run_frames(engine, "cam1", tracks)
    assert len(events) == 8
    assert all(v == 0 for v in engine.state_size().values()), engine.state_size()


def test_finish_ends_live_tracks() -> None:
    engine = engine_for(site_config())
    pts = site_track(linear((5, 3), (5, -3), 7), times(7), track_id=1)
    for p in pts:
        engine.step("cam1", p.t, [p], [])
    assert engine.state_size()["live"] == 1
    engine.finish()
    assert all(v == 0 for v in engine.state_size().values())


def test_disabled_crossing_gives_no_events() -> None:
    engine = engine_for(site_config(crossing={"enabled": False}))
    a = site_track(linear((5, 3), (5, -3), 7), times(7), track_id=1)
    assert [e for e in run_frames(engine, "cam1", [a]) if e.kind == "crossing"] == []


def test_min_hold_from_config() -> None:
    ys = [2, 2, -3, 2, 2]
    pts = site_track([(5, y) for y in ys], times(5))
    assert run_frames(engine_for(site_config()), "cam1", [pts]) == []
    hold1 = engine_for(site_config(crossing={"min_hold": 1}))
    assert len(run_frames(hold1, "cam1", [pts])) == 2


def test_unknown_camera_is_an_error() -> None:
    engine = engine_for(site_config())
    with pytest.raises(ValueError, match="not in the config"):
        engine.step("nope", 0.0, [], [])


def test_line_without_a_calibrated_camera_is_noted() -> None:
    cfg = config(
        cameras=[
            {"id": "cam1", "source": "a.mp4", "calibration": calibration(IMAGE_TO_SITE)},
        ],
        lines=[{"id": "fence", "points": [[0, 0], [10, 0]]}],
    )
    engine = RuleEngine(cfg, {"cam1": None})  # the caller could not fit the calibration
    assert any("fence" in n for n in engine.notes)


def test_all_rules_state_is_bounded_over_many_tracks() -> None:
    """A long stream of tracks through every rule: nothing is kept once they end."""
    cfg = config(
        cameras=[
            {"id": "cam1", "source": "a.mp4", "calibration": calibration(IMAGE_TO_SITE)},
            {"id": "cam2", "source": "b.mp4"},
        ],
        lines=[{"id": "fence", "points": [[0, 0], [10, 0]], "sides": NS}],
        zones=[{"id": "yard", "points": [[0, -5], [10, -5], [10, 5], [0, 5]]}],
        rules={"speed": {"limits_kmh": {"person": 3}}},
    )
    engine = engine_for(cfg)
    rng = np.random.default_rng(3)
    events = []
    t0 = 0.0
    for batch in range(6):
        tracks = []
        for k in range(4):
            tid = batch * 4 + k
            a, b = rng.uniform(-3, 13, 2), rng.uniform(-3, 13, 2)
            a[1], b[1] = rng.uniform(-8, -2), rng.uniform(2, 8)
            n = int(rng.integers(20, 60))
            tracks.append(site_track(linear(a, b, n), times(n, t0=t0 + 0.3 * k), track_id=tid))
        events += run_frames(engine, "cam1", tracks, kind=None)
        t0 += 10.0
    kinds = {e.kind for e in events}
    assert {"crossing", "zone_enter", "zone_exit", "track_speed", "speeding"} <= kinds
    assert all(v == 0 for v in engine.state_size().values()), engine.state_size()
    assert engine.finish() == []
