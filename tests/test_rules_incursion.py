"""Temporary incursions, through the rule engine, on synthetic site tracks."""

from __future__ import annotations

import pytest
from test_rules_helpers import (
    IMAGE_TO_SITE,
    calibration,
    config,
    engine_for,
    linear,
    run_frames,
    site_track,
    times,
)

from linewatch.config import SiteConfig
from linewatch.records import Event

NS = {"left": "north", "right": "south"}


def cfg(max_seconds: float = 10.0, report_open: bool = True, **crossing: object) -> SiteConfig:
    return config(
        cameras=[{"id": "cam1", "source": "a.mp4", "calibration": calibration(IMAGE_TO_SITE)}],
        lines=[
            {"id": "fence", "points": [[0, 0], [10, 0]], "sides": NS},
            {"id": "far", "points": [[0, -20], [10, -20]], "sides": NS},
        ],
        rules={
            "incursion": {"max_seconds": max_seconds, "report_open": report_open},
            "crossing": crossing,
        },
    )


def ys_path(ys: list[float], x: float = 5.0, fps: float = 10.0, tid: int = 1) -> list:
    return site_track([(x, y) for y in ys], times(len(ys), fps), track_id=tid)


def incursions(c: SiteConfig, tracks: list[list]) -> list[Event]:
    return run_frames(engine_for(c), "cam1", tracks, kind="incursion")


def test_in_and_back_is_an_incursion_with_time_depth_and_places() -> None:
    # north, 3 m south of the fence, back north; 1 m per frame at 10 fps
    ys = [3, 2, 1, 0.5, -1, -2, -3, -2, -1, 0, 1, 2, 3]
    path = [(5 + 0.1 * k, y) for k, y in enumerate(ys)]
    (ev,) = incursions(cfg(), [site_track(path, times(len(ys)))])
    a = ev.attributes
    assert ev.subject == "fence" and ev.direction == "north->south"
    assert a["returned"] is True and a["ended_by"] == "return"
    # crossed between t=0.3 (y=0.5) and 0.4 (y=-1): t=0.3+0.1/3; back at exactly t=0.9
    assert ev.t_start == pytest.approx(0.3 + 0.1 / 3)
    assert ev.t_end == pytest.approx(0.9)
    assert a["excursion_seconds"] == pytest.approx(0.9 - 0.3 - 0.1 / 3, abs=1e-3)
    assert a["max_depth"] == pytest.approx(3.0)
    assert a["t_deepest"] == pytest.approx(0.6)
    assert a["crossed_at"][0] == pytest.approx(5.3 + 0.1 / 3, abs=1e-3)
    assert a["returned_at"] == pytest.approx([5.9, 0.0], abs=1e-3)
    assert ev.provenance is not None and ev.provenance.params["max_seconds"] == 10.0
    assert len(ev.provenance.observations) == 4


def test_deepest_point_before_the_side_is_confirmed_counts() -> None:
    # the deepest point is the first one beyond the line, before the hold confirms it
    ys = [3, 2, -4, -1, -1, -1, 2, 3]
    (ev,) = incursions(cfg(), [ys_path(ys)])
    assert ev.attributes["max_depth"] == pytest.approx(4.0)


def test_back_after_the_limit_is_not_an_incursion() -> None:
    ys = [3, 2] + [-2] * 30 + [2, 3]  # 3 s across
    assert incursions(cfg(max_seconds=2.0), [ys_path(ys)]) == []
    assert len(incursions(cfg(max_seconds=4.0), [ys_path(ys)])) == 1


def test_flicker_is_not_an_incursion() -> None:
    assert incursions(cfg(), [ys_path([3, 2, -3, 2, 3, 2, -0.2, 2])]) == []


def test_open_incursion_when_the_track_ends_across() -> None:
    (ev,) = incursions(cfg(), [ys_path([3, 2, 1, -1, -2, -2.5])])
    assert ev.attributes["returned"] is False
    assert ev.attributes["ended_by"] == "track_end"
    assert ev.attributes["returned_at"] is None
    assert ev.t_end == pytest.approx(0.5)  # last seen
    assert ev.attributes["max_depth"] == pytest.approx(2.5)
    # long gone: a plain crossing, not an incursion
    assert incursions(cfg(max_seconds=1.0), [ys_path([3, 2, -2] + [-3] * 30)]) == []


def test_open_excursions_are_not_reported_by_default() -> None:
    # a vehicle that crosses and leaves the view is a crossing, not an incursion
    assert incursions(cfg(report_open=False), [ys_path([3, 2, 1, -1, -2, -2.5])]) == []
    ys = [3, 2, -2, -3, -2, 2, 3, 2, -2, -3]
    evs = incursions(cfg(report_open=False), [ys_path(ys)])
    assert [e.attributes["returned"] for e in evs] == [True]


def test_open_incursion_at_footage_end() -> None:
    engine = engine_for(cfg())
    events: list[Event] = []
    for p in ys_path([3, 2, 1, -1, -2]):
        events += engine.step("cam1", p.t, [p], [])
    events += engine.finish()
    (ev,) = [e for e in events if e.kind == "incursion"]
    assert ev.attributes["ended_by"] == "footage_end"
    assert all(v == 0 for v in engine.state_size().values())


def test_return_does_not_open_a_new_excursion() -> None:
    # north -> south -> north -> south: one incursion (the first), then an open one
    ys = [3, 2, -2, -3, -2, 2, 3, 2, -2, -3]
    evs = incursions(cfg(), [ys_path(ys)])
    assert [e.attributes["returned"] for e in evs] == [True, False]
    assert all(e.direction == "north->south" for e in evs)


def test_lines_and_tracks_are_independent() -> None:
    # track 1 dips below the far line and back while staying south of the fence
    t1 = site_track(linear((5, -18), (5, -23), 6) + linear((5, -23), (5, -18), 6), times(12))
    t2 = ys_path([-3, -2, 2, 3, 2, -2, -3], tid=2)  # south -> north -> south, fence
    evs = incursions(cfg(), [t1, t2])
    got = sorted((e.track_ids[0], e.subject, e.direction) for e in evs)
    assert got == [(1, "far", "north->south"), (2, "fence", "south->north")]
