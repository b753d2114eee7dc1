"""Pursuit: followers along the leader's path, within a time gap and a distance."""

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

from linewatch.config import PursuitRule, SiteConfig
from linewatch.records import Event, ObjectClass, TrackPoint


def cfg(**pursuit: object) -> SiteConfig:
    # these tests exercise the mechanics at brisk walking pace (7.2 km/h): lower the
    # default "running" threshold unless a test sets it
    pursuit.setdefault("min_speed_kmh", 5.0)
    return config(
        cameras=[
            {"id": "cam1", "source": "a.mp4", "calibration": calibration(IMAGE_TO_SITE)},
            {"id": "cam2", "source": "b.mp4"},
        ],
        rules={"pursuit": pursuit, "speed": {"enabled": False}},
    )


def on_l_path(s: float, lateral: float = 0.0) -> tuple[float, float]:
    """A point ``s`` metres along an L-shaped path (east 20 m, then north), offset
    ``lateral`` metres to its left."""
    if s <= 20.0:
        return (s, 5.0 + lateral)
    return (20.0 - lateral, 5.0 + s - 20.0)


def walker(
    tid: int,
    delay: float,
    speed: float = 2.0,
    seconds: float = 15.0,
    lateral: float = 0.0,
    cls: ObjectClass = ObjectClass.PERSON,
    fps: float = 10.0,
    t0: float = 0.0,
) -> list[TrackPoint]:
    ts = times(int(seconds * fps) + 1, fps, t0)
    path = [on_l_path(speed * (t - delay), lateral) for t in ts]
    return site_track(path, ts, track_id=tid, cls=cls)


def pursuits(c: SiteConfig, tracks: list[list[TrackPoint]], camera: str = "cam1") -> list[Event]:
    return run_frames(engine_for(c), camera, tracks, kind="pursuit")


def test_one_follower_two_seconds_behind() -> None:
    (ev,) = pursuits(cfg(), [walker(1, 0.0), walker(2, 2.0)])
    assert ev.track_ids == (1, 2)
    assert ev.attributes["leader"] == 1
    (f,) = ev.attributes["followers"]
    assert f["track_id"] == 2
    assert f["median_gap_seconds"] == pytest.approx(2.0, abs=0.05)
    assert f["median_distance_m"] < 0.1
    assert f["mean_speed_kmh"] == pytest.approx(7.2, abs=0.2)
    assert f["duration_seconds"] > 10.0
    assert ev.provenance is not None and ev.provenance.rule == "pursuit"


def test_several_followers_are_one_event() -> None:
    tracks = [walker(1, 0.0), walker(2, 1.5, lateral=0.8), walker(3, 4.0, lateral=-0.8)]
    (ev,) = pursuits(cfg(), tracks)  # 3 also follows 2, 2.5 s behind: one chain, one event
    assert ev.track_ids == (1, 2, 3)
    followers = {f["track_id"]: f for f in ev.attributes["followers"]}
    assert followers[2]["follows"] == 1
    assert followers[2]["median_gap_seconds"] == pytest.approx(1.5, abs=0.1)
    assert followers[3]["follows"] == 2  # the one ahead of him
    assert followers[3]["median_gap_seconds"] == pytest.approx(2.5, abs=0.1)


def test_a_chain_is_one_pursuit_led_by_its_head() -> None:
    # 1 leads; 2 follows 4 s behind; 3 follows 2 another 4 s behind: 8 s behind 1, more than
    # max_gap_seconds (6), so 3 follows only 2. Still one pursuit, led by 1.
    tracks = [walker(i, 4.0 * (i - 1), seconds=25.0, lateral=0.3 * i) for i in (1, 2, 3)]
    (ev,) = pursuits(cfg(), tracks)
    assert ev.track_ids == (1, 2, 3) and ev.attributes["leader"] == 1
    followers = {f["track_id"]: f for f in ev.attributes["followers"]}
    assert followers[2]["follows"] == 1 and followers[3]["follows"] == 2
    assert followers[3]["median_gap_seconds"] == pytest.approx(4.0, abs=0.1)
    assert ev.attributes["leader_mean_speed_kmh"] == pytest.approx(7.2, abs=0.3)


def test_two_separate_pursuits_stay_two() -> None:
    # 1 -> 2 early, 11 -> 12 on the same path 40 s later: nobody links them
    first = [walker(1, 0.0), walker(2, 2.0)]
    later = [walker(11, 40.0, t0=40.0), walker(12, 42.0, t0=40.0)]
    evs = pursuits(cfg(), first + later)
    assert sorted(e.track_ids for e in evs) == [(1, 2), (11, 12)]


def test_side_by_side_is_not_following() -> None:
    assert pursuits(cfg(), [walker(1, 0.0), walker(2, 0.1, lateral=1.0)]) == []


def test_too_far_behind_or_off_the_path_is_not_following() -> None:
    assert pursuits(cfg(), [walker(1, 0.0, seconds=20), walker(2, 8.0, seconds=20)]) == []
    assert pursuits(cfg(), [walker(1, 0.0), walker(2, 2.0, lateral=6.0)]) == []


def test_short_following_is_not_a_pursuit() -> None:
    # the follower follows 2 s behind, then turns south at t=2 s (off the path by 3 m at 2.75 s)
    leader = walker(1, 0.0)
    ts = times(151)
    path = [on_l_path(2.0 * (t - 2.0)) if t < 2.0 else (0.0, 5.0 - 4.0 * (t - 2)) for t in ts]
    follower = site_track(path, ts, track_id=2)
    assert pursuits(cfg(min_duration_seconds=3.0), [leader, follower]) == []
    assert len(pursuits(cfg(min_duration_seconds=1.0), [leader, follower])) == 1


def test_standing_people_are_not_a_pursuit() -> None:
    a = site_track([(5.0, 5.0)] * 100, times(100), track_id=1)
    b = site_track([(5.5, 5.0)] * 100, times(100), track_id=2)
    assert pursuits(cfg(), [a, b]) == []


def test_vehicle_followed_by_a_person_on_foot() -> None:
    car = walker(1, 0.0, speed=4.0, cls=ObjectClass.VEHICLE)
    runner = walker(2, 3.0, speed=4.0)
    (ev,) = pursuits(cfg(), [car, runner])
    assert ev.attributes["leader_class"] == "vehicle"
    assert ev.attributes["followers"][0]["class"] == "person"


def test_state_is_dropped_and_uncalibrated_cameras_are_noted() -> None:
    c = cfg()
    engine = engine_for(c)
    evs = run_frames(engine, "cam1", [walker(1, 0.0), walker(2, 2.0)], kind="pursuit")
    assert len(evs) == 1
    assert engine.state_size()["pursuit"] == 0
    assert any("pursuit" in n and "cam2" in n for n in engine.notes)
    a = image_track(linear((0, 100), (600, 100), 101), times(101), camera="cam2")
    b = image_track(linear((-60, 100), (540, 100), 101), times(101), 2, camera="cam2")
    assert pursuits(c, [a, b], camera="cam2") == []


def test_walking_in_file_is_not_a_pursuit_by_default() -> None:
    c = cfg()
    c = c.model_copy(update={"rules": c.rules.model_copy(update={"pursuit": PursuitRule()})})
    assert run_frames(engine_for(c), "cam1", [walker(1, 0.0), walker(2, 2.0)], kind="pursuit") == []
