"""Zones: enter, exit, dwell, loitering and hysteresis on synthetic tracks."""

from __future__ import annotations

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
from linewatch.records import Event

SQUARE = [[0, 0], [10, 0], [10, 10], [0, 10]]


def cfg(zones: list | None = None, **zone_rule: object) -> SiteConfig:
    return config(
        cameras=[
            {"id": "cam1", "source": "a.mp4", "calibration": calibration(IMAGE_TO_SITE)},
            {"id": "cam2", "source": "b.mp4"},
        ],
        zones=zones if zones is not None else [{"id": "yard", "points": SQUARE}],
        rules={"zones": zone_rule},
    )


def zone_events(c: SiteConfig, tracks: list[list], camera: str = "cam1") -> list[Event]:
    evs = run_frames(engine_for(c), camera, tracks, kind=None)
    return [e for e in evs if e.kind in ("zone_enter", "zone_exit", "loitering")]


def test_enter_exit_dwell_with_interpolated_times() -> None:
    # west to east at 10 m/s (1 m per frame), x = -4.5 at t=0: in at t=0.45, out at t=1.45
    path = linear((-4.5, 5), (15.5, 5), 21)
    evs = zone_events(cfg(), [site_track(path, times(21))])
    assert [e.kind for e in evs] == ["zone_enter", "zone_exit"]
    enter, exit_ = evs
    assert enter.subject == "yard" and enter.t_start == pytest.approx(0.45)
    assert enter.location == pytest.approx((0.0, 5.0))
    assert enter.attributes["entered_seen"] is True
    assert exit_.t_start == pytest.approx(0.45) and exit_.t_end == pytest.approx(1.45)
    assert exit_.attributes["dwell_seconds"] == pytest.approx(1.0)
    assert exit_.attributes["exit_seen"] is True and exit_.attributes["loitering"] is False
    assert exit_.location == pytest.approx((10.0, 5.0))


def test_one_frame_inside_is_not_an_entry() -> None:
    xs = [-3, -2, -1, 0.5, -1, -2, -1, 0.3, 0.6, -1]  # two brief dips, 0.1 s and 0.2 s
    evs = zone_events(cfg(min_inside_seconds=0.3), [site_track([(x, 5) for x in xs], times(10))])
    assert evs == []


def test_one_frame_outside_is_not_an_exit() -> None:
    xs = [-2, -1, 1, 2, 3, 4, 3, 2, 1, -0.5, 1, 2, 3]  # one frame out at x=-0.5
    evs = zone_events(cfg(), [site_track([(x, 5) for x in xs], times(len(xs)))])
    assert [e.kind for e in evs] == ["zone_enter", "zone_exit"]
    assert evs[1].attributes["exit_seen"] is False  # ended inside
    assert evs[1].attributes["ended_by"] == "track_end"
    assert evs[1].t_end == pytest.approx(1.2)  # its last observation


def test_loitering_fires_once_when_the_limit_passes() -> None:
    n = 80  # at 1 fps: 80 s, inside from t=2 to t=75
    xs = [-2, -1] + [5.0] * 73 + [-1, -2, -3, -4, -5]
    evs = zone_events(cfg(loiter_seconds=60.0), [site_track([(x, 5) for x in xs], times(n, 1.0))])
    assert [e.kind for e in evs] == ["zone_enter", "loitering", "zone_exit"]
    enter, loiter, exit_ = evs
    assert enter.t_start == pytest.approx(1 + 1 / 6)  # x=-1 -> 5 crosses x=0 at 1/6
    assert loiter.t_end - enter.t_start >= 60.0
    assert loiter.t_end - enter.t_start < 61.0
    assert exit_.attributes["loitering"] is True
    assert exit_.t_end - exit_.t_start == pytest.approx(74 + 5 / 6 - 1 - 1 / 6)
    assert exit_.attributes["dwell_seconds"] == pytest.approx(exit_.t_end - exit_.t_start, abs=1e-3)


def test_track_that_appears_inside() -> None:
    evs = zone_events(cfg(), [site_track(linear((5, 5), (15, 5), 11), times(11))])
    assert [e.kind for e in evs] == ["zone_enter", "zone_exit"]
    assert evs[0].attributes["entered_seen"] is False
    assert evs[0].t_start == pytest.approx(0.0)


def test_concave_zone_path_through_the_notch() -> None:
    u_shape = [[0, 0], [30, 0], [30, 30], [20, 30], [20, 10], [10, 10], [10, 30], [0, 30]]
    # along y=20 west to east: in the left arm, out through the notch, in the right arm
    path = linear((-5, 20), (35, 20), 41)
    evs = zone_events(cfg([{"id": "u", "points": u_shape}]), [site_track(path, times(41))])
    kinds = [(e.kind, round(e.t_end, 3)) for e in evs]
    assert kinds == [
        ("zone_enter", 0.5),
        ("zone_exit", 1.5),
        ("zone_enter", 2.5),
        ("zone_exit", 3.5),
    ]


def test_image_zone_in_pixels_on_an_uncalibrated_camera() -> None:
    box = [[100, 100], [300, 100], [300, 300], [100, 300]]
    zones = [{"id": "door", "camera": "cam2", "points": box}]
    tr = image_track(linear((50, 200), (350, 200), 31), times(31), camera="cam2")
    evs = zone_events(cfg(zones), [tr], camera="cam2")
    assert [e.kind for e in evs] == ["zone_enter", "zone_exit"]
    assert evs[0].provenance is not None and evs[0].provenance.params["units"] == "px"
    assert evs[0].t_start == pytest.approx(0.5)


def test_image_zone_of_a_calibrated_camera_is_projected() -> None:
    # image pixels 100..300 map to site x 10..30, y 20..40 (y flipped: rows 300..100)
    box = [[100, 100], [300, 100], [300, 300], [100, 300]]
    zones = [{"id": "door", "camera": "cam1", "points": box}]
    tr = site_track(linear((5, 30), (35, 30), 31), times(31))
    evs = zone_events(cfg(zones), [tr])
    assert [e.kind for e in evs] == ["zone_enter", "zone_exit"]
    assert evs[0].location == pytest.approx((10.0, 30.0))
    assert evs[0].provenance is not None and evs[0].provenance.params["units"] == "m"


def test_site_zone_does_not_apply_to_uncalibrated_camera_and_state_is_dropped() -> None:
    engine = engine_for(cfg())
    tr = image_track(linear((-50, 50), (150, 50), 21), times(21), camera="cam2")
    for p in tr:
        assert [e for e in engine.step("cam2", p.t, [p], []) if e.kind.startswith("zone")] == []
    a = site_track(linear((-2, 5), (5, 5), 8), times(8), track_id=7)
    events = []
    for p in a:
        events += engine.step("cam1", p.t, [p], [])
    events += engine.step("cam1", 0.8, [], [7])
    assert [e.kind for e in events if e.kind.startswith("zone")] == ["zone_enter", "zone_exit"]
    engine.finish()
    assert all(v == 0 for v in engine.state_size().values()), engine.state_size()
