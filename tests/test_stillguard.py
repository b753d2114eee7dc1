"""pipeline.StillGuard: which tracked boxes the motion detector protects, and which it holds
as stationary (reported from their own box, movers beside them found separately)."""

from __future__ import annotations

import numpy as np

from linewatch.pipeline import StillGuard
from linewatch.records import ObjectClass, TrackPoint


def point(
    tid: int, t: float, foot: tuple[float, float], cls: ObjectClass = ObjectClass.PERSON
) -> TrackPoint:
    x, y = foot
    return TrackPoint("cam", tid, t, round(t * 10), (x - 5, y - 20, x + 5, y), cls, 0.9)


def run(tracks: dict[int, list[tuple[float, float]]], seconds: float, cls: ObjectClass):
    """Feed each track's foot point per 0.1 s step (a function of time); the last output."""
    guard = StillGuard()
    out = (np.zeros((0, 4)), np.zeros(0, dtype=bool))
    for k in range(round(seconds * 10) + 1):
        t = k / 10
        out = guard.update([point(tid, t, path[k], cls) for tid, path in tracks.items()], [])
    return guard, out


def walk_then_stop(stop_at: float, seconds: float) -> list[tuple[float, float]]:
    """Walks right at 50 px/s, then stands still at ``stop_at`` s."""
    return [(100 + 50 * min(k / 10, stop_at), 200.0) for k in range(round(seconds * 10) + 1)]


def crawl(seconds: float) -> list[tuple[float, float]]:
    """Moves 2 px a second: slower than the 2 px / 10 % settle radius per 2 s would allow."""
    return [(300 + 2 * k / 10, 200.0) for k in range(round(seconds * 10) + 1)]


def test_a_person_still_for_two_seconds_is_stationary_a_crawler_is_not() -> None:
    _, (boxes, stationary) = run(
        {1: walk_then_stop(3.0, 4.9), 2: crawl(4.9)}, 4.9, ObjectClass.PERSON
    )
    assert len(boxes) == 1  # the crawler has not moved half its height yet: not protected
    assert not stationary.any()  # the walker stopped 1.9 s ago
    _, (boxes, stationary) = run(
        {1: walk_then_stop(3.0, 5.1), 2: crawl(5.1)}, 5.1, ObjectClass.PERSON
    )
    assert stationary[0]  # the walker (track 1, first): still for 2.1 s
    _, (boxes, stationary) = run(
        {1: walk_then_stop(3.0, 12.0), 2: crawl(12.0)}, 12.0, ObjectClass.PERSON
    )
    assert len(boxes) == 2 and stationary.tolist() == [True, False]  # both protected


def test_unclassified_objects_are_protected_but_never_held() -> None:
    _, (boxes, stationary) = run({1: walk_then_stop(3.0, 8.0)}, 8.0, ObjectClass.OBJECT)
    assert len(boxes) == 1 and not stationary.any()
    _, (_, stationary) = run({1: walk_then_stop(3.0, 8.0)}, 8.0, ObjectClass.VEHICLE)
    assert stationary.tolist() == [True]


def test_ended_tracks_are_forgotten() -> None:
    guard, (boxes, _) = run(
        {1: walk_then_stop(3.0, 6.0), 2: walk_then_stop(1.0, 6.0)}, 6.0, ObjectClass.PERSON
    )
    assert len(boxes) == 2
    boxes, stationary = guard.update([], [1, 2])
    assert len(boxes) == 0 and len(stationary) == 0 and len(guard) == 0
